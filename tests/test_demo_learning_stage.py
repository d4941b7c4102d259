"""The learning stage the demo can register."""

from __future__ import annotations

from pathlib import Path

from legion_misp.demo import DemoContext
from legion_misp.demo.learning_stage import learning_stage
from legion_misp.learning.model_io import load_model


def test_learning_stage(tmp_path: Path) -> None:
    ctx = DemoContext(out_dir=tmp_path, events_dir=tmp_path, echo=lambda _: None)
    result = learning_stage(ctx)
    assert result.ok and result.name == "learning"
    rows = dict(result.rows)
    accuracy = float(rows["accuracy, fl+dp"].split()[0])
    assert accuracy > 88.0
    model = load_model(tmp_path / "learning" / "model.json")
    assert model.epsilon is not None and model.epsilon <= 1.64
    p_spam = float(rows["sample MISP email scored"].split("=")[1])
    assert p_spam > model.threshold  # an obvious spam mail is flagged
