"""Evaluation: threshold choice on validation data, classification metrics, membership-inference advantage."""

from __future__ import annotations

import numpy as np

METRICS: tuple[str, ...] = ("accuracy", "precision", "recall", "f1", "macro_f1")


def choose_threshold(y_validation: np.ndarray, scores: np.ndarray) -> float:
    """Threshold on ``scores`` that maximises accuracy on the *validation* data.

    Candidates are the midpoints between consecutive distinct scores (and 0.5); ties go to the candidate
    closest to 0.5. Never call this with test data.
    """
    y = np.asarray(y_validation).astype(int)
    s = np.asarray(scores, dtype=float)
    distinct = np.unique(s)
    candidates = np.unique(
        np.r_[0.5, (distinct[:-1] + distinct[1:]) / 2.0, distinct[0] - 1e-9, distinct[-1] + 1e-9]
    )
    order = np.argsort(s)
    sorted_scores, sorted_y = s[order], y[order]
    # correct(t) = #negatives with score < t + #positives with score >= t
    below = np.searchsorted(sorted_scores, candidates, side="left")
    negatives_below = np.r_[0, np.cumsum(1 - sorted_y)][below]
    positives_at_or_above = y.sum() - np.r_[0, np.cumsum(sorted_y)][below]
    correct = negatives_below + positives_at_or_above
    best = np.flatnonzero(correct == correct.max())
    return float(candidates[best[np.argmin(np.abs(candidates[best] - 0.5))]])


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """2×2 counts ``[[tn, fp], [fn, tp]]`` for labels in {0, 1}."""
    y_true = np.asarray(y_true).astype(int)
    y_pred = np.asarray(y_pred).astype(int)
    return np.bincount(2 * y_true + y_pred, minlength=4).reshape(2, 2)


def binary_metrics(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, object]:
    """Accuracy, precision, recall, F1 (spam = positive), macro-F1 and the confusion matrix at
    ``threshold``."""
    y_pred = (np.asarray(scores) >= threshold).astype(int)
    (tn, fp), (fn, tp) = confusion_matrix(y_true, y_pred)
    total = tn + fp + fn + tp
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = _f1(tp, fp, fn)
    f1_negative = _f1(tn, fn, fp)
    return {
        "accuracy": float((tp + tn) / total) if total else 0.0,
        "precision": float(precision),
        "recall": float(recall),
        "f1": f1,
        "macro_f1": (f1 + f1_negative) / 2.0,
        "confusion": [[int(tn), int(fp)], [int(fn), int(tp)]],
    }


def _f1(tp: int, fp: int, fn: int) -> float:
    return float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else 0.0


def membership_advantage(loss_members: np.ndarray, loss_nonmembers: np.ndarray) -> float:
    """Advantage of the best loss-threshold membership-inference attack (Yeom et al., CSF 2018).

    The attacker says "member" when a record's loss is below a threshold; the advantage is
    ``max_t (TPR(t) − FPR(t))`` over all thresholds, in [0, 1]. Both sets should have equal size.
    """
    members = np.sort(np.asarray(loss_members, dtype=float))
    others = np.sort(np.asarray(loss_nonmembers, dtype=float))
    thresholds = np.unique(np.r_[members, others])
    tpr = np.searchsorted(members, thresholds, side="right") / len(members)
    fpr = np.searchsorted(others, thresholds, side="right") / len(others)
    return float(max(0.0, np.max(tpr - fpr)))
