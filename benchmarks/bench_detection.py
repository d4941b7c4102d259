"""Benchmark: the sanitiser's detection (normalised views, address notations, encodings, built-in detectors).

Rows, all measured in the same run:

- sanitising time vs misp-stix's MISP -> STIX 2.1 conversion of the same synthetic events (bench_sanitize's
  generator, 300 events x 50 attributes, best of 3 interleaved rounds), target <= 10 %; the detectors' own cost
  as a separate row (the 13 detectors timed alone over the same strings, over the same misp-stix time);
- shareable indicators kept on the example events (``examples/events``, ``tests/fixtures/canaries.json``), target
  >= 90 %, with no sensitive canary in the output;
- false-positive cost of the encoded-token search and of each detector on the example events (spans found in
  strings that hold no canary);
- precision and recall of the publish gate on the example events (finding level: does the flagged field hold a
  sensitive canary; event level: is the event blocked iff MISP would share a canary);
- the adversarial corpus (``tests/privacy/adversarial.py``): leaks and lost controls.

Run: ``python -m benchmarks.bench_detection [--quick]``.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import re
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "events"
CANARIES = REPO / "tests" / "fixtures" / "canaries.json"


def _row(metric: str, value: float, unit: str, baseline: float | None = None, ratio: float | None = None,
         target: str | None = None, met: bool | None = None) -> dict[str, Any]:
    return {"benchmark": "detection", "metric": metric, "value": round(value, 4), "unit": unit,
            "baseline": None if baseline is None else round(baseline, 4),
            "ratio": None if ratio is None else round(ratio, 4), "target": target, "met": met}


def example_config(folder: Path, *, detectors: list[str] | None = None) -> Any:
    """The shipped example configuration, with the example organisation's staff directory as sensitive terms."""
    from legion_misp.sections import load_config

    text = (REPO / "legion_misp" / "data" / "legion.example.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^#? ?pseudonym_key = "[^"]*"', 'pseudonym_key = "file:federation.key"', text)
    text = text.replace('# sensitive_terms_file = "file:terms.txt"', 'sensitive_terms_file = "file:staff.txt"')
    if detectors is not None:
        text = text.replace("[privacy]", "[privacy]\ndetectors = " + json.dumps(detectors), 1)
    staff = sorted({c["value"] for c in canaries()["sensitive"] if c["kind"] == "staff-name"})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "staff.txt").write_text("\n".join(staff) + "\n", encoding="utf-8")
    (folder / "federation.key").write_text(b"detection-bench-key-0123456789-xyz".hex(), encoding="utf-8")
    (folder / "legion.toml").write_text(text, encoding="utf-8")
    return load_config(folder / "legion.toml")


def canaries() -> dict[str, Any]:
    return json.loads(CANARIES.read_text(encoding="utf-8"))


def example_events() -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8"))["Event"] for p in sorted(EXAMPLES.glob("*.json"))]


def _values(event: dict[str, Any]) -> set[str]:
    values = {str(a.get("value")) for a in event.get("Attribute", [])}
    return values | {str(a.get("value")) for o in event.get("Object", []) for a in o.get("Attribute", [])}


def _holds_canary(text: str, sensitive: list[str]) -> bool:
    from tests.privacy.leaks import find_leaks

    return bool(find_leaks(text, sensitive))


# ---- utility on the example events ----------------------------------------------------------------------------

def kept_and_leaks(config: Any) -> tuple[float, int]:
    from legion_misp.privacy.sanitizer import Sanitizer
    from tests.privacy.leaks import find_leaks

    sanitizer = Sanitizer.from_config(config, seed=11)
    shared_values: set[str] = set()
    text = []
    for event in example_events():
        shared, _ = sanitizer.sanitize(copy.deepcopy(event))
        if shared is not None:
            shared_values |= _values(shared)
            text.append(json.dumps(shared, ensure_ascii=False))
    data = canaries()
    kept = sum(1 for c in data["shareable_indicators"] if c["value"] in shared_values)
    leaks = find_leaks("\n".join(text), [c["value"] for c in data["sensitive"]])
    return kept / len(data["shareable_indicators"]), len(leaks)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() if k not in ("uuid", "Orgc", "Org") for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def false_positives(config: Any) -> dict[str, tuple[int, int]]:
    """Per span kind: (spans in strings holding no sensitive canary, all spans) over the example events."""
    from legion_misp.privacy.sanitizer import Sanitizer

    sanitizer = Sanitizer.from_config(config, seed=11)
    sensitive = [c["value"] for c in canaries()["sensitive"]]
    counts: dict[str, list[int]] = {}
    for event in example_events():
        for text in _strings(event):
            for span in sanitizer.protected_.find(text):
                entry = counts.setdefault(span.kind, [0, 0])
                entry[1] += 1
                if not _holds_canary(text[span.start:span.end], sensitive) and \
                        not _holds_canary(text, sensitive):
                    entry[0] += 1
    return {k: (v[0], v[1]) for k, v in counts.items()}


def gate_precision(config: Any) -> dict[str, float]:
    from legion_misp.privacy.findings import publish_gate_findings
    from legion_misp.privacy.policy import Policy

    policy = Policy.from_config(config)
    sensitive = [c["value"] for c in canaries()["sensitive"] if c["kind"] != "org-name"]
    true_findings = all_findings = blocked_leaking = blocked = leaking = 0
    for event in example_events():
        findings = publish_gate_findings(event, config.organisation, policy)
        for finding in findings:
            all_findings += 1
            true_findings += _holds_canary(json.dumps(_at(event, finding.path), ensure_ascii=False), sensitive)
        would_leak = _holds_canary(json.dumps(_misp_shared(event), ensure_ascii=False), sensitive)
        leaking += would_leak
        blocked += bool(findings)
        blocked_leaking += bool(findings) and would_leak
    return {"finding_precision": true_findings / max(all_findings, 1), "findings": all_findings,
            "event_precision": blocked_leaking / max(blocked, 1), "event_recall": blocked_leaking / max(leaking, 1),
            "events_blocked": blocked, "events_leaking": leaking}


def _at(event: dict[str, Any], path: str) -> Any:
    import re

    value: Any = event
    for name, index in re.findall(r"([\w-]+)(?:\[(\d+)\])?", path):
        value = value.get(name) if isinstance(value, dict) else None
        if index and isinstance(value, list):
            value = value[int(index)]
    return value


def _misp_shared(event: dict[str, Any]) -> Any:
    """What MISP's own synchronisation would send (distribution-0 parts left out; reporting org not counted)."""
    if str(event.get("distribution")) == "0":
        return {}

    def keep(items: list[Any]) -> list[Any]:
        return [i for i in items if not (isinstance(i, dict) and str(i.get("distribution")) == "0")]

    out = {k: v for k, v in event.items() if k not in ("Orgc", "Org", "event_creator_email", "Attribute",
                                                        "Object")}
    out["Attribute"] = keep(event.get("Attribute", []))
    out["Object"] = [{**o, "Attribute": keep(o.get("Attribute", []))} for o in keep(event.get("Object", []))]
    return out


# ---- adversarial corpus -------------------------------------------------------------------------------------------

def adversarial(folder: Path) -> tuple[int, int, int]:
    from legion_misp.privacy.sanitizer import Sanitizer
    from legion_misp.sections import load_config
    from tests.privacy.adversarial import corpus
    from tests.privacy.test_adversarial import judge, write_adversarial_config

    sanitizer = Sanitizer.from_config(load_config(write_adversarial_config(folder)), seed=3)
    cases = corpus()
    problems = [p for c in cases for p in judge(c, sanitizer.sanitize(c.event)[0])]
    return len(cases), sum(p.startswith("leak") for p in problems), sum(p.startswith("control") for p in problems)


# ---- timing -------------------------------------------------------------------------------------------------------

def timing(count: int) -> tuple[float, ...]:
    """(sanitising time, built-in detectors' own time, misp-stix time) on the same events, best of 3 rounds."""
    from benchmarks.bench_sanitize import BENCH_KEY, generate, time_misp_stix
    from legion_misp.privacy.caches import clear_caches
    from legion_misp.privacy.mechanisms import SecureNoise
    from legion_misp.privacy.normalize import views
    from legion_misp.privacy.sanitizer import Sanitizer
    from legion_misp.sections import load_default_config

    events = list(generate(count + 1, seed=2))
    warm_up, events = events[-1], events[:-1]
    config = load_default_config(base_dir=REPO)

    def sanitise() -> float:
        clear_caches()  # each round starts cold: no value seen before
        sanitizer = Sanitizer.from_config(config, pseudonym_key=BENCH_KEY)
        sanitizer.sanitize(warm_up)  # OpenDP, regexes; the timed events are not seen before
        sanitizer.noise = SecureNoise()  # an empty noise pool: the timed events draw all of their own noise
        gc.collect()  # start-up garbage is not timed (as for misp-stix; GC stays on)
        started = time.perf_counter()
        for event in events:
            sanitizer.sanitize(event)
        return time.perf_counter() - started

    detectors = Sanitizer.from_config(config, pseudonym_key=BENCH_KEY).protected_.detectors
    texts = [(views(s).plain.text, a.get("type") not in ("text", "comment")) for e in events
             for a in [*e["Attribute"], *(x for o in e["Object"] for x in o["Attribute"])]
             for s in (str(a.get("value", "")), str(a.get("comment", ""))) if s] + \
        [(views(e["info"]).plain.text, False) for e in events]

    def detect() -> float:
        started = time.perf_counter()
        for text, indicator in texts:
            detectors.find(text, indicator=indicator)
        return time.perf_counter() - started

    rounds = [(sanitise(), detect(), time_misp_stix(events)) for _ in range(3)]  # interleaved (shared CPU)
    return tuple(min(r[i] for r in rounds) for i in range(3))


def run(quick: bool = False) -> list[dict[str, Any]]:
    count = 100 if quick else 300
    full, detectors, stix = timing(count)
    rows = [
        _row(f"sanitising time / misp-stix time ({count} events x 50 attributes)", full, "s", baseline=stix,
             ratio=full / stix, target="<= 0.10", met=full / stix <= 0.10),
        _row("built-in detectors' own time (all 13 over every value, comment and info) / misp-stix time",
             detectors, "s", baseline=stix, ratio=detectors / stix),
    ]
    with tempfile.TemporaryDirectory() as folder:
        config = example_config(Path(folder) / "conf")
        kept, leaks = kept_and_leaks(config)
        rows.append(_row("shareable indicators kept on the example events", 100 * kept, "%", target=">= 90 %",
                         met=kept >= 0.9))
        rows.append(_row("sensitive canaries in the shared example events", leaks, "values", target="0",
                         met=leaks == 0))
        for kind, (wrong, total) in sorted(false_positives(config).items()):
            rows.append(_row(f"spans of kind {kind} in example-event strings holding no canary (of {total})",
                             wrong, "spans"))
        gate = gate_precision(config)
        rows.append(_row(f"publish gate: findings that point at a sensitive canary (of {gate['findings']})",
                         100 * gate["finding_precision"], "%"))
        rows.append(_row(f"publish gate: blocked events that MISP would leak through (of {gate['events_blocked']})",
                         100 * gate["event_precision"], "%"))
        rows.append(_row(f"publish gate: leaking events blocked (of {gate['events_leaking']})",
                         100 * gate["event_recall"], "%", target="100 %", met=gate["event_recall"] == 1.0))
        cases, leaked, lost = adversarial(Path(folder) / "adversarial")
        rows.append(_row(f"adversarial corpus: leaking cases (of {cases})", leaked, "cases", target="0",
                         met=leaked == 0))
        rows.append(_row(f"adversarial corpus: controls lost (of {cases} cases)", lost, "values"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    for row in run(quick=parser.parse_args().quick):
        print(json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    main()
