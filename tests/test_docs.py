"""The README and docs/ stay true: the README is a short front door that documents every command, every relative
link resolves, the generated pages (configuration reference, benchmark results) are in step with the code and
benchmarks/results.md, and each measured number is printed in one place only."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import click
from click.testing import CliRunner

from legion_misp.cli import cli, subcommands
from legion_misp.config import example_config_text
from tests.helpers import REPO

README_PATH = REPO / "README.md"
DOCS = REPO / "docs"
README = README_PATH.read_text(encoding="utf-8")
PAGES = [README_PATH, *sorted(DOCS.glob("*.md"))]
README_MAX_BYTES = 15 * 1024

FENCE = re.compile(r"^```.*?^```", re.S | re.M)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def _block(text: str, name: str) -> str:
    found = re.search(rf"<!-- {name}:start -->\n(.*?)\n?<!-- {name}:end -->", text, re.S)
    assert found, f"no generated block <!-- {name}:start/end -->"
    return found.group(1).strip()


def _slugs(text: str) -> set[str]:
    """GitHub's heading anchors: lower case, inline code marks and punctuation dropped, spaces to hyphens."""
    slugs: set[str] = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *$", FENCE.sub("", text), re.M):
        base = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        slug, n = base, 0
        while slug in slugs:
            n += 1
            slug = f"{base}-{n}"
        slugs.add(slug)
    return slugs


# --- the front door ---------------------------------------------------------------------------------------------

def test_readme_is_a_front_door():
    size = len(README.encode("utf-8"))
    assert size <= README_MAX_BYTES, f"README.md is {size} bytes; keep it <= 15 KB and move detail into docs/"


def test_quick_start_is_the_two_commands():
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "make demo" in quick and "make test" in quick


def test_every_command_is_documented():
    for name, command in subcommands(cli).items():
        assert f"legion {name}" in README, name
        if isinstance(command, click.Group):
            for sub in command.commands:
                assert re.search(rf"legion {name}\b[^\n]*\b{re.escape(sub)}\b", README), f"legion {name} {sub}"


def test_readme_links_every_guide():
    for page in sorted(DOCS.glob("*.md")):
        if page.name != "index.md":
            assert f"docs/{page.name}" in README, f"README does not link docs/{page.name}"


def test_every_relative_link_resolves():
    broken = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for target in LINK.findall(re.sub(r"`[^`\n]*`", "", FENCE.sub("", text))):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                broken.append(f"{page.relative_to(REPO)}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in _slugs(linked.read_text(encoding="utf-8")):
                broken.append(f"{page.relative_to(REPO)}: {target} (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_toml_snippets_parse():
    for page in PAGES:
        for snippet in re.findall(r"^```toml\n(.*?)^```", page.read_text(encoding="utf-8"), re.S | re.M):
            try:
                tomllib.loads(snippet)
            except tomllib.TOMLDecodeError as exc:
                raise AssertionError(f"{page.relative_to(REPO)}: a toml snippet does not parse: {exc}") from exc


# --- generated pages --------------------------------------------------------------------------------------------

def test_configuration_reference_matches_the_code():
    generated = CliRunner().invoke(cli, ["config", "reference", "--markdown"]).output.strip()
    assert _block(_read("configuration.md"), "config-reference") == generated, \
        "docs/configuration.md is stale: run `make docs`"


def test_example_configuration_is_what_config_init_writes_and_it_checks(tmp_path):
    shown = _block(_read("configuration.md"), "example-config")
    assert shown == "```toml\n" + example_config_text().strip() + "\n```", \
        "docs/configuration.md's example is stale: run `make docs`"
    target = tmp_path / "legion.toml"
    runner = CliRunner()
    assert runner.invoke(cli, ["config", "init", str(target)]).exit_code == 0
    checked = runner.invoke(cli, ["config", "check", str(target)])
    assert checked.exit_code == 0, checked.output
    assert tomllib.loads(shown.removeprefix("```toml\n").removesuffix("\n```")) == tomllib.loads(
        target.read_text(encoding="utf-8"))


def test_benchmarks_page_shows_the_recorded_results():
    def table(text: str) -> list[str]:
        return [line for line in text.splitlines()
                if line.startswith(("|", "Rows measured", "Machine:"))]

    recorded = table((REPO / "benchmarks" / "results.md").read_text(encoding="utf-8"))
    assert recorded, "benchmarks/results.md has no table"
    assert table(_block(_read("benchmarks.md"), "benchmark-results")) == recorded, \
        "docs/benchmarks.md is stale: run `make docs` (or `make bench`)"


def test_generator_reports_nothing_stale():
    done = subprocess.run([sys.executable, str(DOCS / "generate.py"), "--check"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_each_measured_number_is_printed_once():
    """A measured value of benchmarks/results.md appears only on docs/benchmarks.md (not copied into a guide)."""
    rows = [line.split("|")[1:-1] for line in (REPO / "benchmarks" / "results.md").read_text(encoding="utf-8")
            .splitlines() if line.startswith("| ") and not line.startswith("| benchmark")]
    labels = " ".join(cells[1] for cells in rows)
    measured = set()
    for cells in rows:
        for cell in (cells[2], cells[4], cells[5]):  # value, baseline, ratio
            for number in re.findall(r"\d+(?:\.\d+)?", cell):
                digits = number.replace(".", "").lstrip("0")  # 92.15, 0.191, 345002: not 128 (also a batch size)
                significant = len(digits) >= 3 if "." in number else len(digits) >= 4
                if significant and not re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", labels):
                    measured.add(number)
    assert measured, "no measured numbers found in benchmarks/results.md"
    copies = []
    for page in PAGES:
        if page.name == "benchmarks.md":
            continue
        text = page.read_text(encoding="utf-8").replace(",", "")
        copies += [f"{page.relative_to(REPO)}: {n}" for n in sorted(measured)
                   if re.search(rf"(?<![\d.]){re.escape(n)}(?![\d])", text)]
    assert not copies, "measured numbers copied outside docs/benchmarks.md (link to it instead):\n" + "\n".join(copies)
