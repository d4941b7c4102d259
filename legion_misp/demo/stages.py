"""The demo's stages, in order. Each capability appends its stage here."""

from __future__ import annotations

import os
import secrets
from collections import Counter
from pathlib import Path

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


DEMO_KEY_FILE = "demo-federation.key"
DEMO_LEDGER_FILE = "demo-privacy-ledger.sqlite"


def _demo_federation_key(out_dir: Path) -> bytes:
    """The demo's federation HMAC key: generated once into ``out_dir`` (mode 0600), never printed."""
    path = out_dir / DEMO_KEY_FILE
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text(encoding="utf-8").strip().encode("utf-8")


def sanitize_examples(ctx: DemoContext) -> StageResult:
    """Sanitise the local store into demo-output/feed-shared with OpenDP's secure noise and a demo-only ledger."""
    from ..config import load_default_config
    from ..privacy.ledger import Ledger
    from ..privacy.release import sanitize_events
    from ..privacy.sanitizer import Sanitizer

    config = ctx.data.get("config") or load_default_config(base_dir=ctx.out_dir)
    sanitizer = Sanitizer.from_config(config, pseudonym_key=_demo_federation_key(ctx.out_dir))
    ledger_path = ctx.out_dir / DEMO_LEDGER_FILE
    ledger_path.unlink(missing_ok=True)  # demo only: every demo run starts with a full budget
    ledger = Ledger(ledger_path, budget_epsilon=10.0, budget_delta=1e-4, window_days=30)
    shared = FeedStore(ctx.out_dir / "feed-shared")
    reports = []
    summary = sanitize_events(ctx.data["local_store"], shared, sanitizer, ledger=ledger, on_event=reports.append,
                              what="demo sanitize")
    ctx.data.update(shared_store=shared, sanitize_summary=summary, sanitize_reports=reports, privacy_ledger=ledger)
    for report in reports:
        if report.outcome == "failed":
            ctx.echo(f"      error: {report.error}")
    actions = summary.actions
    rows = [("events shared / kept home", f"{summary.shared} / {summary.dropped}"),
            ("attributes dropped", str(actions["dropped"])),
            ("pseudonymised", str(actions["pseudonymised"])),
            ("text scrubbed", str(actions["scrubbed"])),
            ("values noised (DP)", str(actions["noised"])),
            ("ε spent (release)", f"{summary.cost.epsilon:g} (δ {summary.cost.delta:.1g}), ledger "
                                  f"{ledger.spent()[0]:g} of {ledger.budget_epsilon:g}"),
            ("shared feed", str(shared.path))]
    if summary.failed:
        rows.append(("errors", str(summary.failed)))
    return StageResult("sanitize", rows, ok=not summary.failed)


STAGES.append(("Sanitise the events for the federation (gates, pseudonyms, scrubbing, OpenDP noise)",
               sanitize_examples))
