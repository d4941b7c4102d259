"""`legion sync quarantine list --code`: the admin filters the quarantine by reason code; JSON carries the code,
the size and the whole payload."""

from __future__ import annotations

import json

from click.testing import CliRunner

from connectors.state import SyncState
from legion_misp.cli import cli


def test_quarantine_list_by_code(tmp_path):
    config = tmp_path / "legion.toml"
    state_path = tmp_path / "sync-state.sqlite"
    config.write_text('[organisation]\nname = "Example Energy Ltd"\npseudonym = "member-c"\n'
                      f'[sync]\nstate_path = "{state_path}"\n[federation]\nname = "f"\n', encoding="utf-8")
    payload = json.dumps({"id": "indicator--0b9f2f61-5a0c-4b8e-9f1f-0c2b8d9e0001", "pattern": "[a:b != 'x']"})
    with SyncState(state_path) as state, state.transaction():
        state.quarantine("k", "unsupported-pattern: the pattern uses the comparison !=",
                         stix_id="indicator--0b9f2f61-5a0c-4b8e-9f1f-0c2b8d9e0001", payload=payload)
        state.quarantine("k", "too-large: larger than 10 bytes",
                         stix_id="indicator--0b9f2f61-5a0c-4b8e-9f1f-0c2b8d9e0002", payload="{}")
    runner = CliRunner()
    result = runner.invoke(cli, ["--config", str(config), "sync", "quarantine", "list", "--code",
                                 "unsupported-pattern"])
    assert result.exit_code == 0, result.output
    assert "0c2b8d9e0001" in result.output and "0c2b8d9e0002" not in result.output
    result = runner.invoke(cli, ["--config", str(config), "sync", "quarantine", "list", "--json"])
    entries = json.loads(result.output)
    assert {e["code"] for e in entries} == {"unsupported-pattern", "too-large"}
    assert next(e for e in entries if e["code"] == "unsupported-pattern")["payload"] == payload
