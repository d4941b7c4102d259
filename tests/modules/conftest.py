"""A real misp-modules server (the stock one from PyPI) loading our custom root, started once per session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from legion_misp.mispmod.server import ModuleServer

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def module_server():
    os.environ.setdefault("PYTHONPATH", str(REPO))
    server = ModuleServer(REPO / "misp_modules")
    # misp-modules beside this interpreter; its environment must import legion_misp (editable install or PYTHONPATH)
    assert Path(sys.executable).parent.joinpath("misp-modules").exists()
    server.start()
    yield server
    server.stop()
    assert server.process.poll() is not None
