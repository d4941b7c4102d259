"""Turn a member's own labelled e-mails into its training file (57 Spambase features + labels, numeric .npz).

Each organisation runs this on its own data; the file never leaves the organisation (only DP-SGD updates do).

    python prepare_member_data.py --spam mail/spam --ham mail/ham --out member.npz

``--spam`` / ``--ham`` are folders of raw RFC 5322 messages (``*.eml``). MISP ``email`` objects can be converted the
same way with ``legion_misp.learning.features.spambase_features_from_misp``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from legion_misp.learning.features import spambase_features_from_rfc5322


def features_of(folder: str) -> np.ndarray:
    rows = [spambase_features_from_rfc5322(path.read_bytes()) for path in sorted(Path(folder).glob("*.eml"))]
    return np.array(rows).reshape(-1, 57)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spam", required=True, help="folder of compromised/spam messages (*.eml), label 1")
    parser.add_argument("--ham", required=True, help="folder of legitimate messages (*.eml), label 0")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    spam, ham = features_of(args.spam), features_of(args.ham)
    X = np.vstack([spam, ham])
    y = np.r_[np.ones(len(spam), dtype=np.int64), np.zeros(len(ham), dtype=np.int64)]
    np.savez(args.out, X=X, y=y)
    print(f"wrote {args.out}: {len(spam)} spam, {len(ham)} ham")


if __name__ == "__main__":
    main()
