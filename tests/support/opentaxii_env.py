"""OpenTAXII 0.10.0b1 in its own virtual environment (``.venv-opentaxii`` at the repository root).

OpenTAXII 0.10.0b1 pins ``sqlalchemy<2`` while Flower needs ``sqlalchemy>=2``: the two cannot share an environment,
so the server runs from its own one, as a real deployment would. :func:`ensure_venv` creates it once (``python -m
venv``, ``pip install --pre "opentaxii==0.10.0b1"``, then ``pip install "lxml<7"`` because ``--pre`` would pull lxml
7 betas) and reuses it afterwards; an exclusive file lock makes concurrent callers wait rather than race.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_NAME = ".venv-opentaxii"
OPENTAXII_REQUIREMENT = "opentaxii==0.10.0b1"
LXML_REQUIREMENT = "lxml<7"
_STAMP = ".legion-ready"


class OpenTaxiiEnvError(RuntimeError):
    """The OpenTAXII virtual environment could not be created (the pip output is attached)."""


def venv_dir(root: Path | None = None) -> Path:
    return Path(os.environ.get("LEGION_OPENTAXII_VENV") or (root or REPO_ROOT) / VENV_NAME)


def venv_python(root: Path | None = None) -> Path:
    return venv_dir(root) / "bin" / "python"


def ensure_venv(root: Path | None = None, *, timeout: float = 900.0) -> Path:
    """Create (once) and return the OpenTAXII virtual environment; returns its ``python`` path."""
    target = venv_dir(root)
    python = target / "bin" / "python"
    if (target / _STAMP).exists() and python.exists():
        return python
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if (target / _STAMP).exists() and python.exists():
                return python  # another process built it while we waited
            if target.exists():
                shutil.rmtree(target)  # a half-built environment from an interrupted run
            base = getattr(sys, "_base_executable", None) or sys.executable
            _run([base, "-m", "venv", str(target)], timeout)
            pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            _run([*pip, "--pre", OPENTAXII_REQUIREMENT], timeout)
            _run([*pip, LXML_REQUIREMENT], timeout)
            _run([str(python), "-c", "import opentaxii, sqlalchemy; assert sqlalchemy.__version__ < '2'"], timeout)
            (target / _STAMP).write_text(OPENTAXII_REQUIREMENT + "\n", encoding="utf-8")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return python


def _run(command: list[str], timeout: float) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise OpenTaxiiEnvError(f"{command[2:5]} timed out after {timeout:.0f} s") from exc
    if done.returncode != 0:
        raise OpenTaxiiEnvError(f"{' '.join(command[:5])} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


if __name__ == "__main__":  # python -m tests.support.opentaxii_env
    print(ensure_venv())
