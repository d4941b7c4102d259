"""The adversarial corpus (tests/privacy/adversarial.py): 0 leaks, every control kept, through the sanitiser that
`legion sanitize`, `legion_dp_export` and `legion sync push` share (and through the CLI itself on the whole corpus)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from legion_misp.cli import main
from legion_misp.privacy.ledger import open_ledger
from legion_misp.privacy.sanitizer import Sanitizer
from legion_misp.sections import load_config

from .adversarial import CONFIG, FEDERATION_KEY, Case, corpus
from .conftest import write_feed
from .leaks import find_leaks


def write_adversarial_config(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    key = folder / "federation.key"
    key.write_text(FEDERATION_KEY, encoding="utf-8")
    key.chmod(0o600)
    path = folder / "legion.toml"
    path.write_text(CONFIG, encoding="utf-8")
    open_ledger(load_config(path), create=True)  # what `legion budget init` does
    return path


@pytest.fixture(scope="module")
def adversarial_config(tmp_path_factory: pytest.TempPathFactory):
    return load_config(write_adversarial_config(tmp_path_factory.mktemp("adversarial")))


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    return corpus()


def dump(event: dict[str, Any] | None) -> str:
    return json.dumps(event, ensure_ascii=False) if event is not None else ""


def judge(case: Case, shared: dict[str, Any] | None) -> list[str]:
    """Problems of one case: leaked secrets, lost controls, wrong outcome."""
    text = dump(shared)
    problems = []
    if case.expect == "withheld":
        if shared is not None:
            problems.append("shared although it must be withheld")
    elif shared is None:
        problems.append("withheld although it is shareable")
    for value, where in find_leaks(text, case.secrets):
        problems.append(f"leak ({where}): {value!r}")
    problems += [f"control lost: {c!r}" for c in case.controls if c not in text]
    return problems


def test_the_corpus_is_large_and_covers_every_family(cases: list[Case]) -> None:
    families = Counter(c.family.split("-")[0] for c in cases)
    assert len(cases) >= 400
    assert set(families) == {"disguise", "address", "encoded", "detector", "field"}
    assert all(c.controls or c.expect == "withheld" for c in cases)


def test_no_case_leaks_and_every_control_survives(adversarial_config, cases: list[Case]) -> None:
    sanitizer = Sanitizer.from_config(adversarial_config, seed=3)
    failures = {}
    for case in cases:
        shared, _ = sanitizer.sanitize(case.event)
        problems = judge(case, shared)
        if problems:
            failures[f"{case.family}:{case.name}"] = problems
    assert not failures, f"{len(failures)} of {len(cases)} cases fail:\n" + "\n".join(
        f"{k}: {v}" for k, v in list(failures.items())[:40])


def test_the_cli_release_of_the_whole_corpus_leaks_nothing(tmp_path: Path, cases: list[Case],
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEGION_ALLOW_TEST_SEED", "1")  # --seed outside --dry-run: tests only
    config_path = write_adversarial_config(tmp_path / "conf")
    feed = write_feed(tmp_path / "feed", [c.event for c in cases])
    out = tmp_path / "shared"
    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(config_path), "sanitize", "--in", str(feed), "--out", str(out), "--seed", "5"])
    assert int(exit_info.value.code or 0) == 0, capsys.readouterr().err
    shared = {}
    for path in out.glob("*.json"):
        document = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(document, dict) and "Event" in document:
            shared[document["Event"]["uuid"]] = document["Event"]
    failures = [f"{c.family}:{c.name}: {p}" for c in cases for p in judge(c, shared.get(c.event["uuid"]))]
    assert not failures, "\n".join(failures[:40])


def test_the_sync_push_hook_is_the_same_sanitiser(adversarial_config, cases: list[Case]) -> None:
    from connectors.sanitize import sanitizer_from_config

    hook = sanitizer_from_config(adversarial_config)
    assert hook is not None
    failures = [f"{c.family}:{c.name}: {p}" for c in cases[::7] for p in judge(c, hook(c.event))]
    assert not failures, "\n".join(failures[:40])


def test_the_misp_export_module_is_the_same_sanitiser(tmp_path: Path, cases: list[Case]) -> None:
    import base64

    from legion_misp.mispmod import dp_export

    config_path = write_adversarial_config(tmp_path / "conf")
    sample = cases[::5]
    answer = dp_export.dict_handler({"module": "legion_dp_export", "data": [{"Event": c.event} for c in sample],
                                     "config": {"config_path": str(config_path), "format": "misp"}})
    assert "error" not in answer, answer.get("error")
    document = json.loads(base64.b64decode(answer["data"]))
    shared = {item["Event"]["uuid"]: item["Event"] for item in document["response"]}
    failures = [f"{c.family}:{c.name}: {p}" for c in sample for p in judge(c, shared.get(c.event["uuid"]))]
    assert not failures, "\n".join(failures[:40])
