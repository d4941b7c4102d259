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


def test_install_needs_a_target_and_names_the_in_place_alternative():
    result = CliRunner().invoke(cli, ["modules", "install"])
    assert result.exit_code == 2
    assert "--target is required" in result.output and "misp-modules -l 127.0.0.1 -c" in result.output


def test_install_fails_when_it_installs_nothing(tmp_path, monkeypatch):
    import legion_misp.cli.modules_cmd as modules_cmd

    empty_source = tmp_path / "site-packages" / "misp_modules"  # what an incomplete install looked like
    (empty_source / "expansion").mkdir(parents=True)
    monkeypatch.setattr(modules_cmd, "default_module_root", lambda: empty_source)
    target = tmp_path / "root"
    target.mkdir()
    result = CliRunner(mix_stderr=False).invoke(cli, ["modules", "install", "--target", str(target)])
    assert result.exit_code == 1
    assert "nothing was installed" in result.stderr
    assert not list(target.rglob("*.py"))


@pytest.mark.slow
def test_check_prints_the_servers_own_error_when_it_cannot_start():
    import socket

    with socket.socket() as holder:  # a port someone else holds, as the misp-modules service holds 6666
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = CliRunner(mix_stderr=False).invoke(cli, ["modules", "check", "--port", str(port)])
    assert result.exit_code == 1
    assert f"Could not listen on 127.0.0.1:{port}" in result.stderr
    assert "Address already in use" in result.stderr

