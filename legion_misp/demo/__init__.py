"""``legion demo``: the whole system on one machine, on embedded defaults.

The demo is a list of stages (:data:`legion_misp.demo.stages.STAGES`); each capability adds its own. A stage
receives the shared :class:`DemoContext` and returns a :class:`StageResult` with rows for the summary table.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..shipped import examples_dir
from .report import HtmlReport


@dataclass
class StageResult:
    name: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    ok: bool = True
    seconds: float = 0.0


@dataclass
class DemoContext:
    out_dir: Path
    events_dir: Path
    echo: Callable[[str], None] = print
    data: dict[str, Any] = field(default_factory=dict)  # what stages hand to later stages
    report: HtmlReport = field(default_factory=lambda: HtmlReport("legion-misp demo federation"))
    # Called between stages: raises KeyboardInterrupt for a Ctrl-C that Python swallowed (see cli.demo_cmd).
    checkpoint: Callable[[], None] = lambda: None

    def __post_init__(self) -> None:
        # Absolute from the start: stages write these paths into member configurations, which resolve relative
        # paths against their own folder.
        self.out_dir = Path(self.out_dir).resolve()
        self.events_dir = Path(self.events_dir).resolve()

    @property
    def report_path(self) -> Path:
        return self.out_dir / "report.html"


Stage = Callable[[DemoContext], StageResult]


def default_events_dir() -> Path:
    """The example events: ``examples/events`` of the source tree, or the copy shipped in the wheel."""
    return examples_dir() / "events"


def run_demo(ctx: DemoContext, stages: list[tuple[str, Stage]]) -> list[StageResult]:
    results = []
    for index, (title, stage) in enumerate(stages, start=1):
        ctx.echo(f"[{index}/{len(stages)}] {title} ...")
        started = time.perf_counter()
        result = stage(ctx)
        ctx.checkpoint()
        result.seconds = time.perf_counter() - started
        results.append(result)
        ctx.echo(f"      {'done' if result.ok else 'FAILED'} in {result.seconds:.1f} s")
        if not result.ok:
            break
    summary = ctx.report.section("Summary")
    ctx.report.table(summary, ["stage", "what", "result"],
                     [[r.name, key, value] for r in results for key, value in r.rows])
    ctx.report.sections.insert(0, ctx.report.sections.pop())
    from .opening import what_happened

    opening = ctx.report.section("What happened")
    ctx.data["what_happened"] = what_happened(ctx.data, [r.name for r in results if not r.ok])
    ctx.report.paragraph(opening, " ".join(ctx.data["what_happened"]))
    ctx.report.sections.insert(0, ctx.report.sections.pop())
    ctx.report.write(ctx.report_path)
    return results


def format_summary(results: list[StageResult]) -> str:
    header = ("stage", "what", "result")
    rows = [(r.name, key, value) for r in results for key, value in (r.rows or [("", "")])]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([rule, line(header), rule, *(line(r) for r in rows), rule])
