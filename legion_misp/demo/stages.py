"""The demo's stages, in order. Each capability appends its stage here."""

from __future__ import annotations

from collections import Counter

from ..errors import StoreError
from ..stores import FeedStore
from ..stores.events import iter_attributes
from . import DemoContext, Stage, StageResult


def load_examples(ctx: DemoContext) -> StageResult:
    """Load the example events into the organisation's own feed store (demo-output/feed-local)."""
    errors: list[StoreError] = []
    source = FeedStore(ctx.events_dir, create=False)
    local = FeedStore(ctx.out_dir / "feed-local")
    with local.batch():
        counts = local.upsert_many(source.query(on_error=errors.append), on_error=errors.append)
    events = list(local.query())
    ctx.data["local_store"] = local
    distributions = Counter(str(e.get("distribution")) for e in events)
    attributes = sum(1 for e in events for _ in iter_attributes(e))
    rows = [("events loaded", f"{len(events)} ({counts['created']} new, {counts['updated']} updated, "
                              f"{counts['unchanged']} unchanged)"),
            ("attributes", str(attributes)),
            ("distribution levels", ", ".join(f"{k}:{v}" for k, v in sorted(distributions.items()))),
            ("feed directory", str(local.path))]
    section = ctx.report.section("The organisation's events")
    ctx.report.paragraph(section, f"{len(events)} example MISP events of the fictional Example Energy Ltd were "
                                  f"loaded into the MISP feed directory {local.path} (any MISP instance can "
                                  "subscribe to it).")
    ctx.report.table(section, ["distribution", "events"], [[k, v] for k, v in sorted(distributions.items())])
    for error in errors:
        ctx.echo(f"      error: {error}")
    if errors:
        rows.append(("errors", str(len(errors))))
    return StageResult("load", rows, ok=not errors)


STAGES: list[tuple[str, Stage]] = [
    ("Load the example events into the local MISP feed store", load_examples),
]
