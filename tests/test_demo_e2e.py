"""End to end: `legion demo` on the embedded defaults, then the report's content and the shared artefacts.

Checks what the demo claims: the malicious member's invented indicators never reach to_ids at any honest member,
indicators published by two members do, no planted secret appears in anything shared (every member's sanitised
feed and received feed, every STIX object the TAXII server held), every ledger is within budget, and every process
the demo started is gone.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import stat
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from legion_misp.privacy.ledger import Ledger
from tests.helpers import REPO

CANARIES = json.loads((REPO / "tests/fixtures/canaries.json").read_text())


def _server_processes() -> set[tuple[int, str]]:
    """Servers started from this checkout's environment (other checkouts on the same machine run their own)."""
    listing = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    ours = (str(REPO), sys.prefix)
    return {(int(pid), args) for pid, _, args in (line.strip().partition(" ") for line in listing.splitlines())
            if any(name in args for name in ("misp-modules", "medallion", "opentaxii", "flower-"))
            and any(place in args for place in ours)}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    out = folder / "demo-output"
    before = _server_processes()
    # a relative --out from another working folder, as `make demo` runs it (paths written into the members'
    # configurations must not be resolved against their own folders)
    result = subprocess.run([sys.executable, "-m", "legion_misp", "demo", "--out", "demo-output"], cwd=folder,
                            capture_output=True, text=True, timeout=900, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out, result.stdout, _server_processes() - before


HONEST = ("member-7f3a", "member-19c2", "member-5be0")
OTHER_ORG_NAMES = ("Northwind Grid AS", "Harbour Water plc")


def _shared_files(out: Path) -> list[Path]:
    """Everything that left an organisation: every honest member's sanitised feed and received feed, and the copy
    of every STIX object the TAXII server held."""
    files = [out / "members" / "taxii-objects.json"]
    for member in HONEST:
        for folder in ("feed-shared", "feed-received"):
            files += [p for p in (out / "members" / member / folder).glob("*")
                      if p.is_file() and not p.name.startswith(".")]
    return files


def _decoded(text: str) -> str:
    decoded = [urllib.parse.unquote(text)]
    for token in re.findall(r"[A-Za-z0-9+/]{16,}={0,2}", text):
        try:
            decoded.append(base64.b64decode(token + "=" * (-len(token) % 4)).decode("utf-8", "ignore"))
        except ValueError:
            continue
    return "\n".join([text, *decoded]).lower()


def _events(folder: Path) -> list[dict]:
    return [json.loads(p.read_text())["Event"] for p in sorted(folder.glob("*.json")) if p.name != "manifest.json"]


def _attributes(event: dict) -> list[dict]:
    return [*event.get("Attribute", []), *(a for o in event.get("Object", []) for a in o.get("Attribute", []))]


def test_no_planted_secret_in_any_shared_artefact(demo):
    out, _, _ = demo
    files = _shared_files(out)
    for member in HONEST:  # every member shared something and received the federation's events
        assert len(list((out / "members" / member / "feed-shared").glob("*.json"))) >= 3, member
        assert len(list((out / "members" / member / "feed-received").glob("*.json"))) >= 20, member
    shared = _decoded("\n".join(p.read_text(encoding="utf-8", errors="replace") for p in files))
    assert "198.51.100.14" in shared  # a shareable C2 address made it (so the text is really there)
    secrets = {c["value"] for c in CANARIES["sensitive"]} | set(OTHER_ORG_NAMES)
    leaked = sorted(v for v in secrets if v.lower() in shared)
    assert leaked == []


def test_the_other_members_really_hold_their_own_names_before_sanitising(demo):
    out, _, _ = demo  # so that the test above is meaningful for them too
    for member, name in zip(HONEST[1:], OTHER_ORG_NAMES, strict=True):
        events = _events(out / "members" / member / "feed")
        assert events and all(e["Orgc"]["name"] == name for e in events)
        assert not any(e["uuid"] in {x["uuid"] for x in _events(out / "members" / "member-7f3a" / "feed")}
                       for e in events)


def test_shareable_indicators_still_reach_every_member(demo):
    out, _, _ = demo
    wanted = {c["value"] for c in CANARIES["shareable_indicators"]}
    for member in HONEST:
        received = "\n".join(p.read_text() for p in (out / "members" / member / "feed-received").glob("*.json"))
        kept = {v for v in wanted if v.lower() in received.lower()}
        assert len(kept) / len(wanted) >= 0.8, member


def test_the_malicious_members_flood_never_reaches_to_ids(demo):
    out, _, _ = demo
    invented = set(json.loads((out / "members" / "federation-result.json").read_text())["invented"])
    assert len(invented) == 25
    for member in HONEST:
        flood = [a for e in _events(out / "members" / member / "feed-received") for a in _attributes(e)
                 if a.get("value") in invented]
        assert {a["value"] for a in flood} == invented, member  # it arrived (signed by member-m) ...
        assert not [a["value"] for a in flood if a.get("to_ids")], member  # ... and is never trusted
        assert all(any(t["name"] == 'legion:corroboration="1-of-4"' for t in a.get("Tag", [])) for a in flood)


def test_indicators_corroborated_by_two_members_get_to_ids(demo):
    out, _, _ = demo
    for member in HONEST:
        trusted, single = set(), set()
        for event in _events(out / "members" / member / "feed-received"):
            for attribute in _attributes(event):
                tags = {t["name"] for t in attribute.get("Tag", [])}
                if attribute.get("to_ids"):
                    assert tags & {'legion:corroboration="2-of-4"', 'legion:corroboration="3-of-4"'}, attribute
                    trusted.add(attribute["value"])
                elif 'legion:corroboration="1-of-4"' in tags:
                    single.add(attribute["value"])
        assert "198.51.100.14" in trusted  # the Cobalt Strike C2 all three honest members reported
        assert single - trusted  # and what only one member published stays to_ids = false


def test_report_shows_the_malicious_member_contained(demo):
    out, stdout, _ = demo
    report = html.unescape((out / "report.html").read_text())
    for code in ("bad-signature", "replay", "signer-changed", "unknown-member", "revoked-key", "unsigned",
                 "not-allowed"):
        assert code in report, code
    result = json.loads((out / "members" / "federation-result.json").read_text())
    for member, figures in result["members"].items():
        assert figures["rejected"] == {"bad-signature": 2, "not-allowed": 1, "replay": 1, "revoked-key": 1,
                                       "signer-changed": 1, "unknown-member": 1, "unsigned": 1}, member
    flood = re.search(r"flooded (\d+) invented indicators with valid signatures: they were stored, but (\d+) got "
                      r"to_ids at any honest member", report)
    assert flood and int(flood.group(1)) > 0 and int(flood.group(2)) == 0
    assert "member-m's flood never reached to_ids" in report
    assert "| federation | member-m flooded" in stdout and "0 with to_ids" in stdout


def test_member_keys_are_private(demo):
    out, _, _ = demo
    keys = sorted((out / "members").glob("*/keys/*.ed25519.pem"))
    assert len(keys) == 4
    for path in [*keys, out / "members" / "federation-pseudonym.key"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_every_ledger_is_within_budget_and_in_the_report(demo):
    out, _, _ = demo
    ledgers = [*sorted((out / "members").glob("*/privacy-ledger.sqlite")),
               *sorted((out / "learning").glob("ledger-member-*.sqlite"))]
    assert [p.parent.name for p in ledgers[:3]] == sorted(HONEST) and len(ledgers) == 7
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
