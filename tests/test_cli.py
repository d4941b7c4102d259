"""The legion CLI: help, config init/check, exit codes, secrets never printed, demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from legion_misp.cli import cli, subcommands
from legion_misp.stores import FeedStore
from tests.helpers import EXAMPLE_EVENTS, REPO, make_event


def _run(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "legion_misp", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})}, cwd=cwd, timeout=120)


def _walk(command: click.Command, path: tuple[str, ...] = ()):
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in subcommands(command).items():
            yield from _walk(sub, (*path, name))


def test_every_command_has_help_with_an_example():
    runner = CliRunner()
    for path, command in _walk(cli):
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, path
        if not isinstance(command, click.Group):
            assert "Example" in result.output, f"legion {' '.join(path)} --help has no example"


def test_no_option_takes_a_secret_on_the_command_line():
    for path, command in _walk(cli):
        for param in command.params:
            names = " ".join(getattr(param, "opts", []))
            assert not any(w in names for w in ("password", "api-key", "apikey", "token", "secret")), (path, names)


def test_config_init_then_check(tmp_path):
    config = tmp_path / "legion.toml"
    result = _run("--config", str(config), "config", "init")
    assert result.returncode == 0 and config.exists()
    assert _run("--config", str(config), "config", "init").returncode == 2  # refuses to overwrite
    check = _run("--config", str(config), "config", "check")
    assert check.returncode == 0 and "OK" in check.stdout and "member-7f3a" in check.stdout


def test_config_check_lists_problems_with_exit_2(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('[organisation]\nname = "X"\n[store]\nkind = "ftp"\n', encoding="utf-8")
    result = _run("config", "check", env={"LEGION_CONFIG": str(config)})
    assert result.returncode == 2
    assert "organisation.pseudonym: is required" in result.stderr
    assert "store.kind: must be one of feed, misp" in result.stderr


def test_missing_config_is_a_usage_error(tmp_path):
    result = _run("store", "list", cwd=tmp_path)
    assert result.returncode == 2 and "legion config init" in result.stderr


def test_secret_never_reaches_output_even_at_debug(tmp_path):
    config = tmp_path / "legion.toml"
    config.write_text('[organisation]\nname = "X"\npseudonym = "m"\n[store]\nkind = "misp"\n'
                      'url = "http://127.0.0.1:9"\napi_key = "env:LEGION_CLI_KEY"\n', encoding="utf-8")
    secret = "k3y-" + "z" * 36
    result = _run("-vv", "--log-format", "json", "--config", str(config), "store", "list",
                  env={"LEGION_CLI_KEY": secret})
    assert result.returncode != 0
    assert "127.0.0.1:9" in result.stderr
    assert secret not in result.stdout + result.stderr


def test_store_import_list_check_and_partial_failure_exit_1(tmp_path):
    source = FeedStore(tmp_path / "src")
    good = [make_event(f"e{i}", timestamp=1_700_000_000 + i) for i in range(3)]
    source.upsert_many(good)
    (tmp_path / "src" / f"{good[1]['uuid']}.json").write_text("{broken", encoding="utf-8")
    config = tmp_path / "legion.toml"
    config.write_text('[organisation]\nname = "X"\npseudonym = "m"\n[store]\npath = "feed"\n', encoding="utf-8")
    result = _run("--config", str(config), "store", "import", str(tmp_path / "src"))
    assert result.returncode == 1 and "2 created" in result.stdout and good[1]["uuid"] in result.stderr
    listing = _run("--config", str(config), "store", "list")
    assert listing.returncode == 0 and len(listing.stdout.splitlines()) == 4  # header, 2 events, count
    assert _run("--config", str(config), "store", "check").returncode == 0


def test_budget_init_then_show_on_a_fresh_ledger(tmp_path):
    config = tmp_path / "legion.toml"
    config.write_text('[organisation]\nname = "X"\npseudonym = "m"\n[ledger]\nepsilon = 3.0\n', encoding="utf-8")
    missing = _run("--config", str(config), "budget", "show", "--json")
    assert missing.returncode == 2 and "legion budget init" in missing.stderr
    assert not (tmp_path / "data" / "privacy-ledger.sqlite").exists()
    created = _run("--config", str(config), "budget", "init")
    assert created.returncode == 0, created.stderr
    assert (tmp_path / "data" / "privacy-ledger.sqlite").stat().st_mode & 0o777 == 0o600
    assert _run("--config", str(config), "budget", "init").returncode != 0  # never replaced
    result = _run("--config", str(config), "budget", "show", "--json")
    assert result.returncode == 0
    shown = json.loads(result.stdout)
    assert shown["remaining_epsilon"] == 3.0 and shown["comes_back"] == [] and shown["noise_store"]["kinds"] == {}


def test_demo_runs_and_can_be_rerun(tmp_path):
    assert len(list(EXAMPLE_EVENTS.glob("*.json"))) >= 20
    first = _run("demo", "--out", str(tmp_path / "demo"))
    assert first.returncode == 0, first.stderr
    assert "events loaded" in first.stdout
    report = (tmp_path / "demo" / "report.html").read_text()
    assert "<h2>Summary</h2>" in report and "events loaded" in report
    second = _run("demo", "--out", str(tmp_path / "demo"))
    assert second.returncode == 0 and "unchanged" in second.stdout
    assert len(list(FeedStore(tmp_path / "demo" / "feed-local").query())) == len(list(EXAMPLE_EVENTS.glob("*.json")))


def test_declared_command_summaries_match_the_commands():
    """`legion --help` lists commands from COMMAND_MODULES without importing them: the summaries must not drift."""
    from legion_misp.cli import COMMAND_MODULES

    commands = subcommands(cli)
    for _, name, summary in COMMAND_MODULES:
        assert (commands[name].help or "").split("\n")[0].strip() == summary, name
    listed = CliRunner().invoke(cli, ["--help"]).output
    assert all(f"  {name} " in listed for _, name, _ in COMMAND_MODULES)
