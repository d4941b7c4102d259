"""The wheel as an admin installs it: build it, install it into a clean venv, install and check the MISP modules
(while another server holds a port, as the misp-modules service holds 6666 on a MISP host), then run the demo.

Slow (two pip installs from the local cache); it builds from this checkout and never reads the source tree at run
time: every command runs from a scratch folder with the venv's own `legion`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.slow

MODULE_FILES = {"expansion/legion_classify.py", "export_mod/legion_dp_export.py",
                "import_mod/legion_federation_import.py", "action_mod/legion_publish_gate.py"}
NOT_FOR_MODULES = ("flwr", "matplotlib", "medallion")


def _run(command: list[str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "LEGION_CONFIG")}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _ok(_run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(REPO)], cwd=out))
    (built,) = out.glob("legion_misp-*.whl")
    return built


def test_the_wheel_carries_the_module_files_and_the_example_events(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    bundled = {n.removeprefix("legion_misp/bundled/misp_modules/") for n in names
               if n.startswith("legion_misp/bundled/misp_modules/") and n.endswith(".py")}
    assert bundled == MODULE_FILES
    events = [n for n in names if n.startswith("legion_misp/bundled/examples/events/") and n.endswith(".json")]
    assert len(events) == len(list((REPO / "examples" / "events").glob("*.json")))
    assert "legion_misp/bundled/examples/staff-directory.txt" in names
    assert not any("__pycache__" in n for n in names)


def test_installed_wheel_installs_checks_and_runs_the_demo(wheel, tmp_path):
    venv = tmp_path / "venv"
    _ok(_run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path))
    pip, legion = str(venv / "bin" / "pip"), str(venv / "bin" / "legion")

    # What an admin adds to MISP's venv: the modules extra, and nothing the modules do not need.
    _ok(_run([pip, "install", "--quiet", f"{wheel}[modules]"], cwd=tmp_path))
    installed = _ok(_run([pip, "list", "--format=freeze"], cwd=tmp_path)).lower()
    for unwanted in NOT_FOR_MODULES:
        assert f"\n{unwanted}==" not in "\n" + installed, f"legion-misp[modules] pulled {unwanted}"

    root = tmp_path / "custom-root"
    root.mkdir()
    out = _ok(_run([legion, "modules", "install", "--target", str(root)], cwd=tmp_path))
    assert {str(p.relative_to(root)) for p in root.rglob("*.py")} == MODULE_FILES, out

    with socket.socket() as holder:  # a running service holds its port; the check must pick another one
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        checked = _run([legion, "modules", "check", "--root", str(root)], cwd=tmp_path)
        bundled = _run([legion, "modules", "check"], cwd=tmp_path)  # the root shipped inside the wheel
    _ok(checked)
    assert checked.stdout.count("ok   legion_") == 4
    assert _ok(bundled).count("ok   legion_") == 4

    _ok(_run([pip, "install", "--quiet", f"{wheel}[demo]"], cwd=tmp_path))
    demo = _run([legion, "demo", "--out", str(tmp_path / "demo-output")], cwd=tmp_path)
    _ok(demo)
    assert (tmp_path / "demo-output" / "report.html").stat().st_size > 10_000
    assert "FAILED" not in demo.stdout
