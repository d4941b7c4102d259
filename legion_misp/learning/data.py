"""The bundled Spambase copy, deduplication, honest splits and member partitions.

The Spambase file ships inside the package (``data/spambase.csv.gz``, CC BY 4.0, see
``data/SPAMBASE-LICENSE.md``). Only 4,206 of its 4,597 rows are distinct, so rows are deduplicated *before*
any split; otherwise copies of a test row would sit in the training data and inflate test accuracy.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from importlib import resources

import numpy as np

SPAMBASE_RESOURCE = "spambase.csv.gz"
SPAMBASE_DESCRIPTION = (
    "UCI Spambase (Hopkins et al. 1999, doi:10.24432/C53G6X, CC BY 4.0), KEEL copy of 4,597 rows, "
    "deduplicated to 4,206 distinct rows before splitting"
)


@dataclass(frozen=True)
class Dataset:
    """Feature rows and binary labels.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,), values in {0, 1}
    """

    X: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, index: np.ndarray) -> Dataset:
        """Rows at ``index`` (positions or boolean mask)."""
        return Dataset(self.X[index], self.y[index])


@dataclass(frozen=True)
class Splits:
    """Disjoint training, validation and test sets (validation chooses hyper-parameters and the threshold)."""

    train: Dataset
    validation: Dataset
    test: Dataset


def load_spambase(*, deduplicate: bool = True) -> Dataset:
    """Load the bundled Spambase copy: 57 raw features and the spam label.

    Parameters
    ----------
    deduplicate : bool, default=True
        Drop repeated rows (features and label equal), keeping the first occurrence in file order.
    """
    raw = resources.files("legion_misp.learning").joinpath("data", SPAMBASE_RESOURCE).read_bytes()
    table = np.loadtxt(io.StringIO(gzip.decompress(raw).decode("ascii")), delimiter=",")
    if deduplicate:
        table = deduplicate_rows(table)
    return Dataset(table[:, :57].astype(float), table[:, 57].astype(int))


def deduplicate_rows(table: np.ndarray) -> np.ndarray:
    """Remove repeated rows, keeping the first occurrence and the original order."""
    _, first = np.unique(table, axis=0, return_index=True)
    return table[np.sort(first)]


def stratified_split(
    data: Dataset, *, test_fraction: float = 0.25, validation_fraction: float = 0.15, rng: np.random.Generator
) -> Splits:
    """Split into train / validation / test, stratified by label.

    ``test_fraction`` of all rows goes to test; ``validation_fraction`` of the remainder to validation.
    """
    test_index, rest = _stratified_take(data.y, np.arange(len(data)), test_fraction, rng)
    val_index, train_index = _stratified_take(data.y[rest], rest, validation_fraction, rng)
    return Splits(data.subset(train_index), data.subset(val_index), data.subset(test_index))


def _stratified_take(
    y: np.ndarray, index: np.ndarray, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    taken, kept = [], []
    for label in np.unique(y):
        members = rng.permutation(index[y == label])
        cut = round(fraction * len(members))
        taken.append(members[:cut])
        kept.append(members[cut:])
    return rng.permutation(np.concatenate(taken)), rng.permutation(np.concatenate(kept))


def partition_iid(data: Dataset, members: int, rng: np.random.Generator) -> list[Dataset]:
    """Shuffle and cut into ``members`` equal parts (the ``len % members`` left-over rows are dropped)."""
    size = len(data) // members
    order = rng.permutation(len(data))[: size * members]
    return [data.subset(part) for part in order.reshape(members, size)]


def partition_label_skew(
    data: Dataset, members: int, rng: np.random.Generator, *, spread: float = 1.5
) -> list[Dataset]:
    """Label-skewed non-IID parts of equal size.

    Rows are sorted by ``label + U(0, spread)`` and cut into contiguous parts, so the first members hold
    mostly ham and the last mostly spam; a smaller ``spread`` gives a stronger skew (``spread`` ≤ 1 separates
    the labels completely). Each member's spam share is reported by :func:`label_shares`.
    """
    if spread <= 0:
        raise ValueError(f"spread must be > 0, got {spread}")
    size = len(data) // members
    order = np.argsort(data.y + rng.uniform(0.0, spread, size=len(data)), kind="stable")[: size * members]
    parts = [rng.permutation(part) for part in order.reshape(members, size)]
    return [data.subset(part) for part in parts]


def label_shares(parts: list[Dataset]) -> list[float]:
    """Fraction of label 1 in each part."""
    return [float(np.mean(p.y)) if len(p) else 0.0 for p in parts]
