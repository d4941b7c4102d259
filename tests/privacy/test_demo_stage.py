"""The demo's sanitising stage: writes the shared feed, a 0600 demo key, a demo ledger, and summary rows."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from legion_misp.demo import DemoContext, default_events_dir
from legion_misp.demo.stages import DEMO_KEY_FILE, load_examples, sanitize_examples


@pytest.mark.skipif(not default_events_dir().is_dir(), reason="example events not present")
def test_demo_sanitising_stage(tmp_path: Path) -> None:
    context = DemoContext(out_dir=tmp_path, events_dir=default_events_dir(), echo=lambda _: None)
    assert load_examples(context).ok
    result = sanitize_examples(context)
    assert result.ok
    rows = dict(result.rows)
    assert rows["ε spent (release)"].startswith("1.5 ")  # a sighting-tree block 1.0 + a time pair 0.5
    shared, kept_home = (int(x) for x in rows["events shared / kept home"].split(" / "))
    assert shared > 0 and kept_home > 0
    assert len(list(context.data["shared_store"].query())) == shared
    key = tmp_path / DEMO_KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    first_key = key.read_text()
    assert sanitize_examples(context).ok  # a re-run reuses the key and starts a fresh demo ledger
    assert key.read_text() == first_key
    assert context.data["privacy_ledger"].spent()[0] == pytest.approx(1.5)
