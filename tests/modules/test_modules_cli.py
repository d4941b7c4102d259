"""legion modules install / check against the real misp-modules server's own load test."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from legion_misp.cli import cli
from tests.helpers import REPO

MODULES = {"legion_classify": "expansion", "legion_dp_export": "export_mod",
           "legion_federation_import": "import_mod", "legion_publish_gate": "action_mod"}


@pytest.mark.slow
def test_check_reports_all_four_modules_loaded():
    result = CliRunner().invoke(cli, ["modules", "check"])
    assert result.exit_code == 0, result.output
    for name, kind in MODULES.items():
        assert f"ok   {name}" in result.output and kind in result.output


def test_install_copies_the_shims_into_a_custom_root(tmp_path):
    result = CliRunner().invoke(cli, ["modules", "install", "--target", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for name, kind in MODULES.items():
        copied = tmp_path / kind / f"{name}.py"
        assert copied.read_bytes() == (REPO / "misp_modules" / kind / f"{name}.py").read_bytes()
    assert CliRunner().invoke(cli, ["modules", "install", "--target", str(tmp_path / "absent")]).exit_code == 2


@pytest.mark.slow
def test_check_flags_a_module_that_fails_to_import(tmp_path):
    CliRunner().invoke(cli, ["modules", "install", "--target", str(tmp_path)])
    (tmp_path / "expansion" / "legion_broken.py").write_text("raise ImportError('needs a missing package')\n")
    result = CliRunner().invoke(cli, ["modules", "check", "--root", str(tmp_path)])
    assert result.exit_code == 1
    assert "FAIL legion_broken" in result.output and "ok   legion_classify" in result.output
