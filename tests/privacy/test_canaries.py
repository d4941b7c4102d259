"""Leak canaries: nothing sensitive appears anywhere in the output; most shareable indicators survive."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from legion_misp.cli import main as legion_main

from .conftest import write_config, write_feed
from .leaks import find_leaks, output_text
from .planted import planted_events

REPO = Path(__file__).resolve().parents[2]


def run_legion(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_info:
        legion_main(args)
    return int(exit_info.value.code or 0)


def survived(out_dir: Path, shareable: list[dict[str, str]]) -> float:
    values = set()
    for path in out_dir.glob("*.json"):
        if path.name == "manifest.json":
            continue
        event = json.loads(path.read_text(encoding="utf-8"))["Event"]
        values |= {a["value"] for a in event.get("Attribute", [])}
        values |= {a["value"] for o in event.get("Object", []) for a in o.get("Attribute", [])}
    return sum(1 for item in shareable if item["value"] in values) / len(shareable)


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("canaries")
    config_path = write_config(root / "conf")
    events, canaries = planted_events()
    feed = write_feed(root / "feed", events)
    out_dir, report = root / "shared", root / "report.json"
    code = run_legion(["--config", str(config_path), "sanitize", "--in", str(feed), "--out", str(out_dir),
                       "--report", str(report)])
    assert code == 0
    return out_dir, report, canaries


def test_the_planted_set_covers_every_kind_of_secret() -> None:
    kinds = {c["kind"] for c in planted_events()[1]["sensitive"]}
    assert {"targeting-data", "internal-ip", "internal-host", "internal-email", "staff-name", "tlp-red",
            "distribution-0", "creator-email", "sighting-org", "sighting-source", "sensitive-term",
            "pattern", "org-name"} <= kinds


def test_no_canary_appears_in_any_form(released) -> None:
    out_dir, _, canaries = released
    text = output_text(out_dir)
    assert text.count('"Event"') >= 5  # something was written
    leaks = find_leaks(text, [c["value"] for c in canaries["sensitive"]])
    assert leaks == []


def test_no_canary_appears_in_the_report(released) -> None:
    _, report, canaries = released
    leaks = find_leaks(report.read_text(encoding="utf-8"), [c["value"] for c in canaries["sensitive"]])
    assert leaks == []


def test_most_shareable_indicators_survive(released) -> None:
    out_dir, _, canaries = released
    assert survived(out_dir, canaries["shareable_indicators"]) >= 0.9


def test_the_leak_search_would_notice_each_form(tmp_path: Path) -> None:
    """The search is only as good as its reach: plant each form on purpose and check that it is found."""
    secret = "hr-portal.corp.example"
    samples = {
        "plain": f"x {secret.upper()} y",
        "url-encoded": "q=" + "".join(f"%{b:02X}" for b in secret.encode()),
        "base64-decoded": "blob " + base64.b64encode(f"host={secret}".encode()).decode(),
        "base64-embedded": "zz" + base64.b64encode(b"\x01\x02" + secret.encode() + b"\x03").decode()[:-4],
    }
    for where, text in samples.items():
        (tmp_path / "f.json").write_text(text, encoding="utf-8")
        assert find_leaks(output_text(tmp_path), [secret]), where


SHARED_CANARIES = REPO / "tests" / "fixtures" / "canaries.json"
SHARED_EVENTS = REPO / "examples" / "events"


@pytest.mark.skipif(not SHARED_CANARIES.exists() or not SHARED_EVENTS.is_dir(),
                    reason="shared example events and canaries not merged yet (branch 'events')")
def test_shared_example_events_leak_no_canary(tmp_path: Path) -> None:
    config_path = REPO / "legion_misp" / "data" / "legion.example.toml"
    conf = tmp_path / "conf"
    conf.mkdir()
    text = config_path.read_text(encoding="utf-8").replace(
        'pseudonym_key = "file:keys/pseudonym.key"', 'pseudonym_key = "file:federation.key"')
    canaries = json.loads(SHARED_CANARIES.read_text(encoding="utf-8"))
    # The organisation knows its own staff: a staff-directory export is what sensitive_terms_file is for.
    staff = sorted({c["value"] for c in canaries["sensitive"] if c["kind"] == "staff-name"})
    (conf / "staff.txt").write_text("\n".join(staff) + "\n", encoding="utf-8")
    text = text.replace('# sensitive_terms_file = "file:terms.txt"', 'sensitive_terms_file = "file:staff.txt"')
    (conf / "legion.toml").write_text(text, encoding="utf-8")
    (conf / "federation.key").write_text("7e3a9c1b5d2f8e4a6c0b9d3f1e7a5c2b8d4f0e6a9c3b7d1f5e2a8c4b0d6f9e3a",
                                         encoding="utf-8")
    out_dir = tmp_path / "shared"
    assert run_legion(["--config", str(conf / "legion.toml"), "budget", "init"]) == 0
    code = run_legion(["--config", str(conf / "legion.toml"), "sanitize", "--in", str(SHARED_EVENTS),
                       "--out", str(out_dir)])
    assert code == 0
    assert find_leaks(output_text(out_dir), [c["value"] for c in canaries["sensitive"]]) == []
    assert survived(out_dir, canaries["shareable_indicators"]) >= 0.9
