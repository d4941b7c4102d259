"""The admin's first hour: a config that `config init` writes and `config check` passes really runs; inputs named
any way are read; what is not an event is reported; dry-run lines say what each event is and why it changed."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

from click.testing import CliRunner

from legion_misp.cli import cli
from tests.helpers import EXAMPLE_EVENTS


def _invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner(mix_stderr=False).invoke(cli, list(args), env=env)


def test_init_then_check_then_sanitize_runs(tmp_path):
    config = tmp_path / "legion.toml"
    init = _invoke("config", "init", str(config))
    assert init.exit_code == 0, init.output + init.stderr
    key = tmp_path / "keys" / "pseudonym.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) & 0o077 == 0
    assert len(bytes.fromhex(key.read_text().strip())) == 32
    for folder in ("data/feed", "data/feed-shared"):
        assert (tmp_path / folder).is_dir()
    assert _invoke("config", "check", str(config)).exit_code == 0
    run = _invoke("--config", str(config), "sanitize", "--in", str(EXAMPLE_EVENTS))
    assert run.exit_code == 0, run.output + run.stderr
    assert list((tmp_path / "data" / "feed-shared").glob("*.json"))
    first_key = key.read_text()
    second = _invoke("config", "init", "--files-only", str(config))  # idempotent: the key is never replaced
    assert second.exit_code == 0 and key.read_text() == first_key


def test_init_can_print_the_commands_instead_and_check_names_the_missing_file(tmp_path):
    config = tmp_path / "legion.toml"
    init = _invoke("config", "init", "--print-commands", str(config))
    key = tmp_path / "keys" / "pseudonym.key"
    assert init.exit_code == 0 and not key.exists()
    assert f"secrets.token_hex(32))' > {key})" in init.output
    checked = _invoke("config", "check", str(config))
    assert checked.exit_code == 2
    assert f"federation.pseudonym_key: secret file {key} does not exist" in checked.stderr
    assert "fix: (umask 077; python3 -c 'import secrets" in checked.stderr
    for line in init.output.splitlines():  # the printed commands are the fix
        if line.startswith("  "):
            bin_dir = os.path.dirname(sys.executable)  # where `legion` is installed (a venv need not be activated)
            assert os.system(f'PATH="{bin_dir}:$PATH"; {line.strip()}') == 0
    assert _invoke("config", "check", str(config)).exit_code == 0
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_check_reports_an_unset_variable_and_a_short_key_with_fixes(tmp_path):
    config = tmp_path / "legion.toml"
    _invoke("config", "init", str(config))
    text = config.read_text().replace('"file:keys/pseudonym.key"', '"env:LEGION_TEST_UNSET_KEY"')
    config.write_text(text)
    checked = _invoke("config", "check", str(config), env={"LEGION_TEST_UNSET_KEY": ""})
    assert checked.exit_code == 2
    assert "environment variable LEGION_TEST_UNSET_KEY" in checked.stderr
    assert "fix: export LEGION_TEST_UNSET_KEY=" in checked.stderr
    short = _invoke("config", "check", str(config), env={"LEGION_TEST_UNSET_KEY": "short"})
    assert short.exit_code == 2 and "the key is 5 bytes; at least 16" in short.stderr


def test_check_reports_a_missing_signing_key_and_collection_secret(tmp_path):
    config = tmp_path / "legion.toml"
    _invoke("config", "init", str(config))
    text = config.read_text().replace('# private_key = "file:keys/member-7f3a.ed25519.pem"',
                                      'private_key = "file:keys/member-7f3a.ed25519.pem"')
    text += ('\n[[federation.collections]]\nurl = "https://taxii.example/api1/"\ncollection = "c1"\n'
             'password = "file:secrets/taxii.pw"\n')
    config.write_text(text)
    checked = _invoke("config", "check", str(config))
    assert checked.exit_code == 2, checked.output + checked.stderr
    assert "federation.private_key: key file" in checked.stderr and "fix: legion keys generate" in checked.stderr
    assert "federation.collections[0].password: secret file" in checked.stderr


def test_a_folder_of_exports_is_read_whatever_the_names_and_non_events_fail(tmp_path):
    config = tmp_path / "legion.toml"
    _invoke("config", "init", str(config))
    exports = tmp_path / "exports"
    exports.mkdir()
    sources = sorted(EXAMPLE_EVENTS.glob("*.json"))
    (exports / "misp.event.12.export.json").write_bytes(sources[0].read_bytes())
    bundle = {"response": [json.loads(p.read_text()) for p in sources[1:4]]}
    (exports / "search results.json").write_text(json.dumps(bundle))
    (exports / "list.json").write_text(json.dumps([json.loads(sources[4].read_text())]))
    (exports / "settings.json").write_text(json.dumps({"name": "not an event", "version": 2}))
    (exports / "notes.txt").write_text("not JSON, not looked at")
    run = _invoke("--config", str(config), "sanitize", "--in", str(exports), "--dry-run")
    assert run.exit_code == 1
    uuids = {json.loads(p.read_text())["Event"]["uuid"] for p in sources[:5]}
    listed = {line.split()[0] for line in run.output.splitlines() if line[:8] in {u[:8] for u in uuids}}
    assert listed == uuids
    assert "settings.json" in run.stderr and "not a MISP event" in run.stderr and "keys: name, version" in run.stderr
    reported = _invoke("--config", str(config), "sanitize", "--in", str(exports), "--dry-run", "--report",
                       str(tmp_path / "report.json"))
    locations = {e["event_uuid"]: e["location"] for e in
                 json.loads((tmp_path / "report.json").read_text())["events"] if e["event_uuid"]}
    assert locations[json.loads(sources[2].read_text())["Event"]["uuid"]].endswith("search results.json")
    assert reported.exit_code == 1
    stored = _invoke("--config", str(config), "store", "import", str(exports))
    assert stored.exit_code == 1 and "settings.json" in stored.stderr
    assert len(list((tmp_path / "data" / "feed").glob("*-*-*-*-*.json"))) == 5


def test_dry_run_lines_show_the_info_and_the_top_reasons(tmp_path):
    config = tmp_path / "legion.toml"
    _invoke("config", "init", str(config))
    run = _invoke("--config", str(config), "sanitize", "--in", str(EXAMPLE_EVENTS), "--dry-run")
    assert run.exit_code == 0
    first = sorted(EXAMPLE_EVENTS.glob("*.json"))[0]
    event = json.loads(first.read_text())["Event"]
    line = next(li for li in run.output.splitlines() if li.startswith(event["uuid"]))
    assert repr(event["info"][:20])[:-1] in line
    assert "why: " in run.output and "event not published (privacy.published_only)" in run.output


def test_mistyped_commands_and_config_keys_get_the_near_miss():
    result = _invoke("sanitise")
    assert result.exit_code == 2 and "Did you mean 'sanitize'?" in result.stderr
    result = _invoke("config", "chek")
    assert result.exit_code == 2 and "Did you mean 'check'?" in result.stderr
    assert "Did you mean" not in _invoke("frobnicate").stderr


def test_an_unknown_config_key_names_the_near_match_not_the_whole_list(tmp_path):
    config = tmp_path / "legion.toml"
    _invoke("config", "init", str(config))
    config.write_text(config.read_text().replace("min_distribution =", "min_distrbution =")
                      .replace("[ledger]", "[ledgr]"))
    checked = _invoke("config", "check", str(config))
    assert checked.exit_code == 2
    assert "privacy.min_distrbution: unknown key; did you mean 'min_distribution'?" in checked.stderr
    assert "ledgr: unknown section; did you mean 'ledger'?" in checked.stderr
    assert "known:" not in checked.stderr


def test_keys_show_before_generate_is_one_line(tmp_path):
    config = tmp_path / "legion.toml"
    _invoke("config", "init", str(config))
    shown = subprocess.run([sys.executable, "-m", "legion_misp", "--config", str(config), "keys", "show"],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 2
    assert shown.stderr.strip().count("\n") == 0 and "legion keys generate" in shown.stderr
    assert "Usage:" not in shown.stderr


def test_store_list_has_a_header_and_iso_dates(tmp_path):
    config = tmp_path / "legion.toml"
    _invoke("config", "init", str(config))
    assert _invoke("--config", str(config), "store", "import", str(EXAMPLE_EVENTS)).exit_code == 0
    listing = _invoke("--config", str(config), "store", "list").output.splitlines()
    assert listing[0].split()[:3] == ["UUID", "CHANGED", "(UTC)"]
    event = json.loads(sorted(EXAMPLE_EVENTS.glob("*.json"))[0].read_text())["Event"]
    import datetime as dt

    iso = dt.datetime.fromtimestamp(int(event["timestamp"]), tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert any(line.startswith(event["uuid"]) and iso in line for line in listing)
    assert listing[-1] == f"{len(listing) - 2} event(s)"


def test_a_scheduled_sync_with_nothing_configured_is_an_error(tmp_path):
    config = tmp_path / "legion.toml"
    _invoke("config", "init", str(config))
    for kind in ("run", "push", "pull"):
        result = subprocess.run([sys.executable, "-m", "legion_misp", "--config", str(config), "sync", kind,
                                 "--once"], capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, (kind, result.stdout, result.stderr)
        assert f"nothing to {kind}" in result.stderr and "[[federation.collections]]" in result.stderr


def test_an_empty_input_says_so(tmp_path):
    config = tmp_path / "legion.toml"
    _invoke("config", "init", str(config))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no events here")
    run = _invoke("--config", str(config), "sanitize", "--in", str(tmp_path / "empty"), "--dry-run")
    assert "0 events read" in run.output
    assert f"warning: no event found in {tmp_path / 'empty'}" in run.stderr
