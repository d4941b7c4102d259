"""Model file: round trip, tamper detection, no pickle anywhere."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from legion_misp.learning.features import spambase_features
from legion_misp.learning.model_io import ModelFile, ModelFileError, load_model, save_model
from legion_misp.learning.preprocessing import get_preprocessor

PACKAGE = Path(__file__).resolve().parents[2] / "legion_misp" / "learning"


def model() -> ModelFile:
    rng = np.random.default_rng(0)
    return ModelFile(coef=rng.normal(size=57), intercept=-0.3, threshold=0.42, epsilon=1.64, delta=1e-5,
                     accountant="pld", data="test data", training={"rounds": 3, "members": 4})


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    digest = save_model(model(), path)
    loaded = load_model(path)
    assert json.loads(path.read_text())["sha256"] == digest
    np.testing.assert_array_equal(loaded.coef, model().coef)
    assert (loaded.threshold, loaded.epsilon, loaded.delta, loaded.accountant) == (0.42, 1.64, 1e-5, "pld")
    assert loaded.extractor == "spambase-57" and loaded.extractor_version == "1"
    assert loaded.training == {"rounds": 3, "members": 4} and loaded.created.endswith("Z")
    features = np.vstack([spambase_features("FREE money!!! $$$"), spambase_features("meeting at 3pm re: project")])
    z = get_preprocessor("spambase-v1").transform(features) @ model().coef - 0.3
    np.testing.assert_allclose(loaded.predict_proba(features), 1 / (1 + np.exp(-z)))
    assert set(loaded.predict(features)) <= {0, 1}
    with pytest.raises(FileExistsError):
        save_model(model(), path)


def test_reformatted_file_still_verifies(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    save_model(model(), path)
    document = json.loads(path.read_text())
    path.write_text(json.dumps(document))  # different whitespace and key order are fine: canonical JSON
    assert load_model(path).threshold == 0.42


@pytest.mark.parametrize("edit", [
    lambda d: d["model"]["coef"].__setitem__(0, d["model"]["coef"][0] + 1.0),
    lambda d: d["model"].__setitem__("threshold", 0.01),
    lambda d: d["privacy"].__setitem__("epsilon", 0.1),
])
def test_tampering_is_detected(tmp_path: Path, edit) -> None:
    path = tmp_path / "m.json"
    save_model(model(), path)
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))
    with pytest.raises(ModelFileError, match="sha256 mismatch"):
        load_model(path)


def test_invalid_files_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(b"\x80\x04\x95 not json, e.g. a pickle")
    with pytest.raises(ModelFileError, match="not a valid JSON"):
        load_model(path)
    path.write_text(json.dumps({"schema": "other", "schema_version": 1}))
    with pytest.raises(ModelFileError, match="unknown schema"):
        load_model(path)
    bad = ModelFile(coef=np.zeros(3), intercept=0.0, threshold=0.5)
    with pytest.raises(ModelFileError, match="3 coefficients"):
        save_model(bad, tmp_path / "bad.json")
    nan = ModelFile(coef=np.full(57, np.nan), intercept=0.0, threshold=0.5)
    with pytest.raises(ModelFileError, match="finite"):
        save_model(nan, tmp_path / "nan.json")


def test_no_pickle_anywhere_in_the_package() -> None:
    for source in PACKAGE.rglob("*.py"):
        text = source.read_text()
        assert "import pickle" not in text and "joblib" not in text, source
        assert "allow_pickle=True" not in text, source
        for line in text.splitlines():
            if "np.load(" in line:
                assert "allow_pickle=False" in line, f"{source}: {line}"
