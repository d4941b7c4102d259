"""Progress bars appear on a terminal (a real pseudo-terminal here), never in pipes or with --quiet."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from legion_misp.cli import cli
from tests.helpers import EXAMPLE_EVENTS, run_on_a_terminal

LEGION = [sys.executable, "-m", "legion_misp"]


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "legion.toml"
    assert CliRunner().invoke(cli, ["config", "init", str(path)]).exit_code == 0
    return path


@pytest.mark.parametrize("command", [["sanitize", "--in", str(EXAMPLE_EVENTS)],
                                     ["store", "import", str(EXAMPLE_EVENTS)]])
def test_a_bar_on_a_terminal_none_with_quiet(config, tmp_path, command):
    code, _, terminal = run_on_a_terminal([*LEGION, "--config", str(config), *command], tmp_path)
    assert code == 0
    label = command[0] if command[0] == "sanitize" else "import"
    assert f"{label}:" in terminal and "event" in terminal and "%|" in terminal
    code, _, terminal = run_on_a_terminal([*LEGION, "--quiet", "--config", str(config), *command], tmp_path)
    assert code == 0 and "%|" not in terminal


def test_no_bar_when_stderr_is_not_a_terminal(config, tmp_path):
    result = subprocess.run([*LEGION, "--config", str(config), "sanitize", "--in", str(EXAMPLE_EVENTS)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert "%|" not in result.stderr and "it/s" not in result.stderr and "event/s" not in result.stderr
