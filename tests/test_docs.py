"""The README stays true: its configuration reference is the code's, and it documents every command."""

from __future__ import annotations

import re

import click
from click.testing import CliRunner

from legion_misp.cli import cli
from tests.helpers import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_configuration_reference_matches_the_code():
    generated = CliRunner().invoke(cli, ["config", "reference", "--markdown"]).output.strip()
    block = re.search(r"<!-- config-reference:start -->\n(.*?)\n<!-- config-reference:end -->", README, re.S)
    assert block, "README has no generated configuration reference"
    assert block.group(1).strip() == generated, "README is stale: paste `legion config reference --markdown`"


def test_quick_start_is_the_two_commands():
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "make demo" in quick and "make test" in quick


def test_every_command_is_documented():
    for name, command in cli.commands.items():
        assert f"legion {name}" in README, name
        if isinstance(command, click.Group):
            for sub in command.commands:
                assert re.search(rf"legion {name}\b[^\n]*\b{re.escape(sub)}\b", README), f"legion {name} {sub}"


def test_benchmarks_section_shows_the_recorded_results():
    results = (REPO / "benchmarks" / "results.md").read_text(encoding="utf-8")
    recorded = [line for line in results.splitlines() if line.startswith("|") or line.startswith("Rows measured")]
    section = README.split("\n## Benchmarks", 1)[1].split("\n## ", 1)[0]
    shown = [line for line in section.splitlines() if line.startswith("|") or line.startswith("Rows measured")]
    assert shown == recorded, "README's benchmark table is stale: paste the table of benchmarks/results.md"
