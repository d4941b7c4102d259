"""Test helpers importable from every test module (`from helpers import ...`)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_EVENTS = REPO / "examples" / "events"
FIXTURES = REPO / "tests" / "fixtures"  # copies of the public fixtures, with their licences (README.md there)


def make_event(info: str = "Test event", *, timestamp: int = 1_700_000_000, n_attributes: int = 3,
               tags: list[str] | None = None, published: bool = True) -> dict[str, Any]:
    """A small, valid MISP event dict (inner object of {"Event": ...})."""
    return {
        "uuid": str(uuid.uuid4()), "info": info, "date": "2026-11-01", "timestamp": str(timestamp),
        "published": published, "analysis": "2", "threat_level_id": "2", "distribution": "3",
        "Orgc": {"name": "Example Energy Ltd", "uuid": "5f6d7a3c-0000-4000-8000-000000000001"},
        "Tag": [{"name": t} for t in (tags or ["tlp:green"])],
        "Attribute": [{"uuid": str(uuid.uuid4()), "type": "ip-dst", "category": "Network activity",
                       "value": f"198.51.100.{i + 1}", "to_ids": True, "timestamp": str(timestamp)}
                      for i in range(n_attributes)],
        "Object": [{"name": "domain-ip", "uuid": str(uuid.uuid4()), "meta-category": "network",
                    "Attribute": [{"uuid": str(uuid.uuid4()), "type": "domain", "category": "Network activity",
                                   "object_relation": "domain", "value": "c2.example.net"},
                                  {"uuid": str(uuid.uuid4()), "type": "ip-dst|port", "category": "Network activity",
                                   "object_relation": "ip", "value": "203.0.113.5|443"}]}],
    }


def load_example_events() -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8"))["Event"] for p in sorted(EXAMPLE_EVENTS.glob("*.json"))]


def train_model_file(path: Path, *, epsilon: float = 1.64, seed: int = 0) -> Path:
    """A real model file: DP-SGD logistic regression on the bundled Spambase, saved as the classify module loads it."""
    from legion_misp.learning.data import load_spambase
    from legion_misp.learning.estimator import DPLogisticRegression
    from legion_misp.learning.model_io import ModelFile, save_model
    from legion_misp.learning.preprocessing import get_preprocessor

    data = load_spambase()
    classifier = DPLogisticRegression(epsilon=epsilon, rng=seed, epochs=3).fit(
        get_preprocessor("spambase-v1").transform(data.X), data.y)
    spent = classifier.privacy_spent_
    save_model(ModelFile(coef=classifier.coef_.ravel(), intercept=float(classifier.intercept_[0]), threshold=0.5,
                         epsilon=spent.epsilon, delta=spent.delta, accountant=spent.accountant,
                         data="Spambase (UCI, CC BY 4.0), deduplicated; centralised DP-SGD test model"), path)
    return path
