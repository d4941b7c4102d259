"""Regenerate the generated parts of docs/: the configuration reference and the benchmark results.

    python docs/generate.py           # rewrite the marked blocks in docs/configuration.md and docs/benchmarks.md
    python docs/generate.py --check   # exit 1 if a block is stale (tests/test_docs.py asserts the same)

Each generated block sits between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``; the text around it is written
by hand. `make docs` runs this; `make bench` runs it after the benchmarks so docs/benchmarks.md shows the new run.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent


def configuration_reference() -> str:
    """`legion config reference --markdown`: every key of every section, from the schema."""
    from click.testing import CliRunner

    from legion_misp.cli import cli

    result = CliRunner().invoke(cli, ["config", "reference", "--markdown"])
    if result.exit_code != 0:
        raise RuntimeError(f"legion config reference failed: {result.output}")
    return result.output.strip()


def example_configuration() -> str:
    """The commented example configuration that `legion config init` writes."""
    from legion_misp.config import example_config_text

    return "```toml\n" + example_config_text().strip() + "\n```"


def benchmark_results() -> str:
    """benchmarks/results.md (written by `make bench`) without its title."""
    text = (REPO / "benchmarks" / "results.md").read_text(encoding="utf-8")
    return re.sub(r"\A# [^\n]*\n+", "", text).strip()


# file -> {block name -> generator}
BLOCKS: dict[str, dict[str, Callable[[], str]]] = {
    "configuration.md": {"example-config": example_configuration, "config-reference": configuration_reference},
    "benchmarks.md": {"benchmark-results": benchmark_results},
}


def block(text: str, name: str) -> str | None:
    """The current content of block NAME in TEXT (None if the markers are missing)."""
    found = re.search(rf"<!-- {name}:start -->\n(.*?)\n?<!-- {name}:end -->", text, re.S)
    return found.group(1).strip() if found else None


def render(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)
    if not pattern.search(text):
        raise ValueError(f"no <!-- {name}:start/end --> markers")
    return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text, count=1)


def stale() -> list[str]:
    """'file: block' for every generated block whose content differs from what the generator makes."""
    out = []
    for filename, blocks in BLOCKS.items():
        text = (DOCS / filename).read_text(encoding="utf-8")
        out += [f"{filename}: {name}" for name, make in blocks.items() if block(text, name) != make().strip()]
    return out


def write() -> list[str]:
    changed = []
    for filename, blocks in BLOCKS.items():
        path = DOCS / filename
        text = old = path.read_text(encoding="utf-8")
        for name, make in blocks.items():
            text = render(text, name, make().strip())
        if text != old:
            path.write_text(text, encoding="utf-8")
            changed.append(filename)
    return changed


def main(argv: list[str]) -> int:
    if "--check" in argv:
        problems = stale()
        for problem in problems:
            print(f"stale: docs/{problem} (run `make docs`)", file=sys.stderr)
        return 1 if problems else 0
    changed = write()
    print("updated " + ", ".join(f"docs/{name}" for name in changed) if changed else "docs/ is up to date")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main(sys.argv[1:]))
