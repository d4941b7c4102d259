"""The model file the MISP classify module loads: JSON with a schema, version and sha256; never pickle.

Layout (``schema_version`` 1)::

    {"schema": "legion-misp/message-classifier", "schema_version": 1,
     "model": {"type": "logistic-regression", "coef": [...], "intercept": 0.1, "threshold": 0.47},
     "features": {"extractor": "spambase-57", "extractor_version": "1", "preprocessor": "spambase-v1"},
     "privacy": {"epsilon": 1.64, "delta": 1e-05, "accountant": "pld", "unit": "...", ...},
     "data": "...", "training": {...}, "created": "2026-...Z",
     "sha256": "<hex digest of the canonical JSON of everything else>"}

The canonical JSON is ``json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)`` without
the ``sha256`` key. The digest detects corruption and naive edits; it is not a signature (anyone can recompute
it), so authenticity comes from how the file is distributed (e.g. a signed MISP event or TLS from a trusted
peer). Loading parses JSON only and checks every field; nothing in the file is executed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import LegionError
from .dpsgd import expit
from .features import CAN_EXTRACTOR, FEATURE_EXTRACTOR_VERSION, SPAMBASE_EXTRACTOR
from .preprocessing import get_preprocessor

if TYPE_CHECKING:
    from .simulation import SimulationResult, TrainingConfig

SCHEMA = "legion-misp/message-classifier"
SCHEMA_VERSION = 1
MAX_FILE_BYTES = 1 << 20
_EXTRACTOR_PREPROCESSORS = {SPAMBASE_EXTRACTOR: "spambase-v1", CAN_EXTRACTOR: "can-v1"}


class ModelFileError(LegionError, ValueError):
    """A model file is unreadable, of an unknown schema, inconsistent, or fails its sha256 check.

    Attributes
    ----------
    path : str or None
        The file concerned.
    """

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = None if path is None else str(path)


@dataclass(frozen=True)
class ModelFile:
    """A trained classifier with everything needed to score raw features, and what its privacy claim is.

    Attributes
    ----------
    coef : ndarray of shape (n_features,)
        Weights on the *preprocessed* features.
    intercept, threshold : float
        Bias; probability threshold chosen on validation data.
    extractor, extractor_version, preprocessor : str
        Which feature extractor and fixed scaling produce the model's inputs.
    epsilon, delta : float or None
        The (ε, δ) of the training run per member, over all rounds (``None`` if trained without DP).
    accountant : str or None
    privacy_unit : str
    data : str
        Description of the training data.
    training : dict
        Training configuration and run facts (members, rounds, aggregator...).
    created : str
        ISO 8601 UTC time of export.
    """

    coef: np.ndarray
    intercept: float
    threshold: float
    extractor: str = SPAMBASE_EXTRACTOR
    extractor_version: str = FEATURE_EXTRACTOR_VERSION
    preprocessor: str = "spambase-v1"
    epsilon: float | None = None
    delta: float | None = None
    accountant: str | None = None
    privacy_unit: str = "one training message of one member (record-level DP per organisation)"
    data: str = ""
    training: dict[str, Any] = field(default_factory=dict)
    created: str = ""

    @classmethod
    def from_weights(cls, weights: np.ndarray, *, threshold: float, epsilon: float | None, config: TrainingConfig,
                     data: str, training: dict[str, Any]) -> ModelFile:
        """The model file of trained weights (bias last) and the run's :class:`TrainingConfig`: δ and the
        accountant are recorded only when the run was private."""
        return cls(coef=np.asarray(weights)[:-1], intercept=float(weights[-1]), threshold=float(threshold),
                   epsilon=epsilon, delta=config.delta if config.private else None,
                   accountant=config.accountant if config.private else None, data=data, training=training)

    @classmethod
    def from_result(cls, result: SimulationResult, config: TrainingConfig, *, data: str,
                    training: dict[str, Any]) -> ModelFile:
        """The model file of a simulated run: its final weights and threshold, and the ε spent over all rounds."""
        return cls.from_weights(result.weights, threshold=result.threshold, epsilon=result.rounds[-1].epsilon,
                                config=config, data=data, training=training)

    def predict_proba(self, X_raw: np.ndarray) -> np.ndarray:
        """Probability of class 1 (spam / compromised) for raw extractor outputs, shape (n_samples,)."""
        Z = get_preprocessor(self.preprocessor).transform(X_raw)
        return expit(Z @ self.coef + self.intercept)

    def predict(self, X_raw: np.ndarray) -> np.ndarray:
        """0/1 decisions at the stored threshold."""
        return (self.predict_proba(X_raw) >= self.threshold).astype(int)

    def to_document(self) -> dict[str, Any]:
        """The JSON document without its sha256."""
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "model": {
                "type": "logistic-regression",
                "coef": [float(c) for c in self.coef],
                "intercept": float(self.intercept),
                "threshold": float(self.threshold),
            },
            "features": {
                "extractor": self.extractor,
                "extractor_version": self.extractor_version,
                "preprocessor": self.preprocessor,
            },
            "privacy": {
                "epsilon": self.epsilon,
                "delta": self.delta,
                "accountant": self.accountant,
                "unit": self.privacy_unit,
                "scope": "epsilon and delta cover all rounds x local steps of each member's DP-SGD; "
                "hyper-parameter and threshold choices on validation data are not covered",
            },
            "data": self.data,
            "training": self.training,
            "created": self.created,
        }


def canonical_json(document: dict[str, Any]) -> bytes:
    """Deterministic JSON bytes used for the digest (sorted keys, no spaces, ASCII, no NaN)."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def save_model(model: ModelFile, path: str | Path) -> str:
    """Write ``model`` as JSON with its sha256; return the digest. Refuses to overwrite an existing file."""
    path = Path(path)
    document = model.to_document()
    if not document["created"]:
        document["created"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _validate(document, path)
    digest = hashlib.sha256(canonical_json(document)).hexdigest()
    with path.open("x", encoding="ascii") as handle:
        handle.write(
            json.dumps({**document, "sha256": digest}, indent=1, sort_keys=True, allow_nan=False) + "\n"
        )
    return digest


def load_model(path: str | Path) -> ModelFile:
    """Read and verify a model file (JSON only; no code is executed).

    Raises
    ------
    ModelFileError
        If the file is too large, not JSON, of another schema or version, fails the sha256 check, or has
        missing / inconsistent fields.
    """
    path = Path(path)
    raw = path.read_bytes()
    if len(raw) > MAX_FILE_BYTES:
        raise ModelFileError(f"file is larger than {MAX_FILE_BYTES} bytes", path)
    try:
        document = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as err:
        raise ModelFileError(f"not a valid JSON model file ({err})", path) from err
    if not isinstance(document, dict):
        raise ModelFileError("top level must be a JSON object", path)
    stated = document.pop("sha256", None)
    if document.get("schema") != SCHEMA:
        raise ModelFileError(f"unknown schema {document.get('schema')!r} (expected {SCHEMA!r})", path)
    if document.get("schema_version") != SCHEMA_VERSION:
        raise ModelFileError(f"unsupported schema_version {document.get('schema_version')!r}", path)
    actual = hashlib.sha256(canonical_json(document)).hexdigest()
    if stated != actual:
        raise ModelFileError(
            f"sha256 mismatch: file says {stated!r}, content hashes to {actual!r} "
            "(the file was modified or corrupted)",
            path,
        )
    _validate(document, path)
    model, features, privacy = document["model"], document["features"], document["privacy"]
    return ModelFile(
        coef=np.array(model["coef"], dtype=float),
        intercept=float(model["intercept"]),
        threshold=float(model["threshold"]),
        extractor=features["extractor"],
        extractor_version=features["extractor_version"],
        preprocessor=features["preprocessor"],
        epsilon=privacy["epsilon"],
        delta=privacy["delta"],
        accountant=privacy["accountant"],
        privacy_unit=privacy["unit"],
        data=document["data"],
        training=document["training"],
        created=document["created"],
    )


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed in a model file")


def _validate(document: dict[str, Any], path: Path) -> None:
    try:
        model, features, privacy = document["model"], document["features"], document["privacy"]
        coef = model["coef"]
        numbers = [*coef, model["intercept"], model["threshold"]]
        extractor, preprocessor = features["extractor"], features["preprocessor"]
        for key in ("data", "training", "created"):
            document[key]
    except (KeyError, TypeError) as err:
        raise ModelFileError(f"missing field {err}", path) from err
    if model.get("type") != "logistic-regression":
        raise ModelFileError(f"unknown model type {model.get('type')!r}", path)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in numbers):
        raise ModelFileError("coefficients, intercept and threshold must be finite numbers", path)
    if _EXTRACTOR_PREPROCESSORS.get(extractor) != preprocessor:
        raise ModelFileError(f"extractor {extractor!r} does not go with preprocessor {preprocessor!r}", path)
    if features.get("extractor_version") != FEATURE_EXTRACTOR_VERSION:
        raise ModelFileError(
            f"feature extractor version {features.get('extractor_version')!r} differs from "
            f"this software's {FEATURE_EXTRACTOR_VERSION!r}",
            path,
        )
    if len(coef) != get_preprocessor(preprocessor).n_features:
        raise ModelFileError(
            f"{len(coef)} coefficients for {preprocessor} "
            f"({get_preprocessor(preprocessor).n_features} features)",
            path,
        )
    epsilon, delta = privacy.get("epsilon"), privacy.get("delta")
    if (epsilon is None) != (delta is None) or (epsilon is not None and (epsilon <= 0 or not 0 < delta < 1)):
        raise ModelFileError(f"invalid privacy parameters epsilon={epsilon!r} delta={delta!r}", path)
