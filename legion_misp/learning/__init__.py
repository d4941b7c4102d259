"""Compromised-message classifier trained by differentially private federated learning (LegionITS module).

Members turn messages into features (:mod:`.features`), scale them with data-independent bounds
(:mod:`.preprocessing`), train logistic regression locally with DP-SGD (:mod:`.dpsgd`) under a noise multiplier
calibrated before training for (ε, δ) over all rounds (:mod:`.accounting`), and share only the resulting updates,
which an :class:`~.aggregators.Aggregator` combines (:mod:`.simulation`, assembled by
:func:`~.simulation.build_federation`; Flower deployment in :mod:`.flower_app` and :mod:`.flower_deploy`).

Privacy unit: one training message of one member (record-level DP per organisation). See :mod:`.simulation`.

Names are imported lazily (the accountant and scikit-learn take seconds to import, and Flower starts a fresh
process for every round).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "calibrate_noise_multiplier": "accounting",
    "compute_epsilon": "accounting",
    "prv_epsilon": "accounting",
    "Aggregator": "aggregators",
    "CoordinateMedian": "aggregators",
    "FedAvg": "aggregators",
    "FLTrust": "aggregators",
    "MultiKrum": "aggregators",
    "NormBoundedMean": "aggregators",
    "TrimmedMean": "aggregators",
    "make_aggregator": "aggregators",
    "DPLogisticRegression": "estimator",
    "PrivacySpent": "estimator",
    "FEATURE_EXTRACTOR_VERSION": "features",
    "can_features": "features",
    "spambase_features": "features",
    "spambase_features_from_misp": "features",
    "spambase_features_from_rfc5322": "features",
    "Federation": "simulation",
    "Participant": "simulation",
    "TrainingConfig": "simulation",
    "build_federation": "simulation",
    "plan_member": "simulation",
    "simulate": "simulation",
    "ModelFile": "model_io",
    "ModelFileError": "model_io",
    "load_model": "model_io",
    "save_model": "model_io",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
