"""End to end: `legion demo` on the embedded defaults, then the report's content and the shared artefacts.

Checks what the demo claims: the malicious member's invented indicators never reach to_ids, no planted secret
appears in anything shared (the sanitised feed, what member B pulled over TAXII), every ledger is within budget,
and every process the demo started is gone.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from legion_misp.privacy.ledger import Ledger
from tests.helpers import REPO

CANARIES = json.loads((REPO / "tests/fixtures/canaries.json").read_text())


def _server_processes() -> set[tuple[int, str]]:
    listing = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return {(int(pid), args) for pid, _, args in (line.strip().partition(" ") for line in listing.splitlines())
            if any(name in args for name in ("misp-modules", "medallion", "opentaxii", "flower-"))}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo-output"
    before = _server_processes()
    result = subprocess.run([sys.executable, "-m", "legion_misp", "demo", "--out", str(out)], capture_output=True,
                            text=True, timeout=900, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out, result.stdout, _server_processes() - before


def _shared_text(out: Path) -> str:
    """Everything the organisation shared: the sanitised feed and what member B received, decoded variants too."""
    parts = []
    for folder in ("feed-shared", "feed-member-b"):
        for path in (out / folder).glob("*"):
            if path.is_file() and not path.name.startswith("."):
                parts.append(path.read_text(encoding="utf-8", errors="replace"))
    text = "\n".join(parts)
    decoded = [urllib.parse.unquote(text)]
    for token in re.findall(r"[A-Za-z0-9+/]{16,}={0,2}", text):
        try:
            decoded.append(base64.b64decode(token + "=" * (-len(token) % 4)).decode("utf-8", "ignore"))
        except ValueError:
            continue
    return "\n".join([text, *decoded]).lower()


def test_no_planted_secret_in_any_shared_artefact(demo):
    out, _, _ = demo
    shared = _shared_text(out)
    assert len(list((out / "feed-shared").glob("*.json"))) >= 10  # something was shared at all
    leaked = sorted({c["value"] for c in CANARIES["sensitive"] if c["value"].lower() in shared})
    assert leaked == []


def test_shareable_indicators_still_reach_member_b(demo):
    out, _, _ = demo
    received = "\n".join(p.read_text() for p in (out / "feed-member-b").glob("*.json")).lower()
    wanted = {c["value"] for c in CANARIES["shareable_indicators"]}
    kept = {v for v in wanted if v.lower() in received}
    assert len(kept) / len(wanted) >= 0.8


def test_report_shows_the_malicious_member_contained(demo):
    out, stdout, _ = demo
    report = html.unescape((out / "report.html").read_text())
    for code in ("bad-signature", "replay", "signer-changed", "unknown-member", "revoked-key", "unsigned",
                 "not-allowed"):
        assert code in report, code
    flood = re.search(r"flooded (\d+) invented indicators with valid signatures: they were stored, but (\d+) got "
                      r"to_ids", report)
    assert flood and int(flood.group(1)) > 0 and int(flood.group(2)) == 0
    assert "| trust    | member-m flooded" in stdout and "0 with to_ids" in stdout


def test_every_ledger_is_within_budget_and_in_the_report(demo):
    out, _, _ = demo
    ledgers = [out / "demo-privacy-ledger.sqlite", *sorted((out / "learning").glob("ledger-member-*.sqlite"))]
    assert len(ledgers) == 5
    for path in ledgers:
        ledger = Ledger(path, budget_epsilon=10.0)
        spent = ledger.spent()[0]
        assert 0 < spent <= ledger.budget_epsilon
    report = html.unescape((out / "report.html").read_text())
    assert "Privacy budget: ε spent per member against its budget" in report
    assert report.count("data:image/png;base64,") >= 3  # accuracy per round, sanitiser changes, ε per member


def test_accuracy_beside_the_paper_and_model_claims(demo):
    out, _, _ = demo
    report = html.unescape((out / "report.html").read_text())
    assert "LegionITS paper" in report
    accuracy = re.search(r"accuracy, fl\+dp</td><td>([\d.]+) %", report)
    assert accuracy and float(accuracy.group(1)) >= 85.0
    model = json.loads((out / "learning" / "model.json").read_text())
    assert model["privacy"]["epsilon"] <= 1.64 + 1e-6 and model["privacy"]["delta"] == 1e-5


def test_no_process_left_behind(demo):
    _, stdout, started_and_left = demo
    assert "misp-modules server" in stdout  # the demo did start one
    assert started_and_left == set()
