"""What the strict path for peer input costs, and what the hostile corpus gives.

- **check_object** (strict checks: text, timestamps, values, pattern grammar and meaning) on MISP-made STIX objects,
  against the baseline measured in the same run: canonical JSON serialisation of the same objects (the cost the
  old structural check was made of).
- **the meaning check** after conversion (:func:`~legion_misp.stix.ingest.check_conversion`) against the misp-stix
  conversion of the same events (``stix_to_misp``).
- **the corpus** through the shared path: bundles, objects, refusals, objects lost without a record (target 0).

    python -m benchmarks.bench_hostile [--quick]
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter

from legion_misp.stix.codec import MispToStix, stix_to_misp
from legion_misp.stix.ingest import check_conversion, convert_accepted
from legion_misp.stix.validate import _pattern_comparisons, check_object
from tests.support.events import make_event


def _objects(events: int, attributes: int) -> list[list[dict]]:
    converter = MispToStix()
    return [[json.loads(o.data) for o in converter.convert(make_event(i, attributes))] for i in range(events)]


def _best(func, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        _pattern_comparisons.cache_clear()
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return min(times)


def run(quick: bool = False) -> list[dict]:
    groups = _objects(20 if quick else 100, 20)
    flat = [o for g in groups for o in g]
    serialise = _best(lambda: [json.dumps(o, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
                               for o in flat])
    strict = _best(lambda: [check_object(o, max_bytes=1 << 20, max_nesting=32) for o in flat])
    converted: list = []
    raw = _best(lambda: converted.__setitem__(slice(None), [stix_to_misp(g) for g in groups]), repeats=1)
    checked = _best(lambda: [check_conversion(g, c.event) for g, c in zip(groups, converted, strict=True)])
    refused = Counter(r.code for g in groups for r in convert_accepted(g, stix_to_misp).refused)

    from tests.hostile.accounting import check_case, pairs, uuids
    from tests.hostile.corpus import corpus
    from tests.hostile.test_corpus_paths import shared_path

    cases, lost, objects, refusals = corpus(), 0, 0, 0
    for case in cases:
        refusals_of_case, events = shared_path(case)
        objects += len(case.objects)
        refusals += len(refusals_of_case)
        problems = check_case(case, refused=Counter(r.code for r in refusals_of_case),
                              refused_ids={r.stix_id: r.code for r in refusals_of_case if r.stix_id},
                              converted=pairs(events), made=uuids(events))
        lost += len(problems)
    name = "hostile"
    return [
        {"benchmark": name, "metric": "strict checks (check_object)", "value": len(flat) / strict,
         "unit": "objects/s", "baseline": "canonical JSON of the same objects", "ratio": strict / serialise,
         "target": None, "met": None},
        {"benchmark": name, "metric": "meaning check after conversion", "value": checked / len(groups) * 1000,
         "unit": "ms/event", "baseline": "misp-stix conversion of the same events", "ratio": checked / raw,
         "target": None, "met": None},
        {"benchmark": name, "metric": "MISP-made objects refused", "value": sum(refused.values()),
         "unit": f"of {len(flat)}", "baseline": None, "ratio": None, "target": "0", "met": not refused},
        {"benchmark": name, "metric": "corpus objects lost or misjudged", "value": lost,
         "unit": f"of {objects} in {len(cases)} bundles ({refusals} refused)", "baseline": None, "ratio": None,
         "target": "0", "met": lost == 0},
    ]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
