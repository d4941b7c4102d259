"""The Makefile rebuilds a .venv made by another Python or left by a failed install (make's parse-time check)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _python_id() -> str:
    return f"{sys.implementation.cache_tag}@{sys.base_prefix}"


def _make_help(tmp_path, venv) -> subprocess.CompletedProcess[str]:
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    return subprocess.run(["make", "-C", str(tmp_path), "help", f"PYTHON={sys.executable}", f"VENV={venv}"],
                          capture_output=True, text=True, timeout=60, check=True)


def _fake_venv(tmp_path, python_id: str | None):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "marker").write_text("left by an earlier make")
    if python_id is not None:
        (venv / ".python-id").write_text(python_id + "\n")
    return venv


def test_a_venv_from_this_python_is_kept(tmp_path):
    venv = _fake_venv(tmp_path, _python_id())
    result = _make_help(tmp_path, venv)
    assert (venv / "bin" / "marker").exists()
    assert "Rebuilding" not in result.stdout


def test_a_venv_made_by_another_python_is_rebuilt(tmp_path):
    venv = _fake_venv(tmp_path, "cpython-310@/usr")
    result = _make_help(tmp_path, venv)
    assert not venv.exists()
    assert "made by another Python" in result.stdout


def test_a_venv_left_by_a_failed_install_is_rebuilt(tmp_path):
    venv = _fake_venv(tmp_path, None)  # the id is written only after an install succeeded
    _make_help(tmp_path, venv)
    assert not venv.exists()
