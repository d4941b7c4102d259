"""``legion demo --misp URL``: member-7f3a's pull goes into a real MISP 2.5.1; a second run (fresh keys and
folders) creates no duplicate; in MISP, to_ids is set exactly on the indicators at least two members published."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys

from tests.helpers import REPO


def _demo(misp_fresh, out) -> subprocess.CompletedProcess:
    env = {**os.environ, "LEGION_DEMO_MISP_KEY": misp_fresh.key}
    return subprocess.run([sys.executable, "-m", "legion_misp", "demo", "--misp", misp_fresh.url, "--out", str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=1200)


def _corroboration(attribute) -> tuple[int, int] | None:
    for tag in attribute.get("Tag", []):
        if tag["name"].startswith('legion:corroboration="'):
            seen, of = tag["name"].split('"')[1].split("-of-")
            return int(seen), int(of)
    return None


def test_demo_pulls_into_misp_without_duplicates_and_with_corroborated_to_ids(misp_fresh, store_for, tmp_path):
    first = _demo(misp_fresh, tmp_path / "run1")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    store = store_for()
    events = list(store.query())
    assert len(events) >= 10
    result = json.loads((tmp_path / "run1" / "members" / "federation-result.json").read_text())
    invented = set(result.get("invented", []))
    decided = 0
    for event in events:
        for attribute in [*event.get("Attribute", []), *(a for o in event.get("Object", []) for a in o["Attribute"])]:
            votes = _corroboration(attribute)
            if votes is None:
                continue
            decided += 1
            assert bool(attribute["to_ids"]) == (votes[0] >= 2), (attribute["value"], votes, attribute["to_ids"])
            assert not (attribute["value"] in invented and attribute["to_ids"])
    assert decided > 0
    second = _demo(misp_fresh, tmp_path / "run2")
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    again = list(store.query())
    assert collections.Counter(e["uuid"] for e in again).most_common(1)[0][1] == 1
    assert {e["uuid"] for e in again} >= {e["uuid"] for e in events}
    infos = collections.Counter((e["Orgc"]["name"], e["info"]) for e in again)
    assert max(infos.values()) == 1, [k for k, v in infos.items() if v > 1]
