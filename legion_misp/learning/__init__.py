"""Compromised-message classifier trained by differentially private federated learning (LegionITS module).

Members turn messages into features (:mod:`.features`), scale them with data-independent bounds
(:mod:`.preprocessing`), train logistic regression locally with DP-SGD (:mod:`.dpsgd`) under a noise
multiplier calibrated before training for (ε, δ) over all rounds (:mod:`.accounting`), and share only the
resulting updates, which an :class:`~.aggregators.Aggregator` combines (:mod:`.federation`; Flower deployment
in :mod:`.flower_app`).

Privacy unit: one training message of one member (record-level DP per organisation). See :mod:`.federation`.
"""

from .accounting import calibrate_noise_multiplier, compute_epsilon, prv_epsilon
from .aggregators import (
    Aggregator,
    CoordinateMedian,
    FedAvg,
    FLTrust,
    MultiKrum,
    NormBoundedMean,
    TrimmedMean,
    make_aggregator,
)
from .dpsgd import DPLogisticRegression, PrivacySpent
from .features import (
    FEATURE_EXTRACTOR_VERSION,
    can_features,
    spambase_features,
    spambase_features_from_misp,
    spambase_features_from_rfc5322,
)
from .federation import Member, TrainingConfig, plan_member, simulate
from .model_io import ModelFile, ModelFileError, load_model, save_model

__all__ = [
    "FEATURE_EXTRACTOR_VERSION",
    "Aggregator",
    "CoordinateMedian",
    "DPLogisticRegression",
    "FLTrust",
    "FedAvg",
    "Member",
    "ModelFile",
    "ModelFileError",
    "MultiKrum",
    "NormBoundedMean",
    "PrivacySpent",
    "TrainingConfig",
    "TrimmedMean",
    "calibrate_noise_multiplier",
    "can_features",
    "compute_epsilon",
    "load_model",
    "make_aggregator",
    "plan_member",
    "prv_epsilon",
    "save_model",
    "simulate",
    "spambase_features",
    "spambase_features_from_misp",
    "spambase_features_from_rfc5322",
]
