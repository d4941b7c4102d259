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
    for error in errors:
        ctx.echo(f"      error: {error}")
    if errors:
        rows.append(("errors", str(len(errors))))
    return StageResult("load", rows, ok=not errors)


def malicious_member(ctx: DemoContext) -> StageResult:
    """A federation of four on a loopback TAXII server; member-m lies. Show what member-c rejected and why, and
    that only indicators f+1 = 2 members published are trusted for detection."""
    from .federation import ATTACKS, run_scenario

    result = run_scenario(ctx.out_dir / "trust-demo")
    rows = [("roster", "member-a, member-b, member-c (honest), member-m (malicious); f = 1"),
            ("member-m flooded", f"{result.flood} invented indicators, signed: accepted, "
                                 f"{result.flood_trusted} with to_ids (all tagged 1-of-4)")]
    ok = result.flood_trusted == 0
    for attack, reason in result.reasons:
        code = reason.split(":")[1].strip() if reason.startswith("trust:") else "accepted"
        ok = ok and code == ATTACKS[attack]
        ctx.echo(f"      {attack}: {reason}")
        rows.append((f"rejected: {attack}", code))
    rows += [("to_ids (confirmed by 2 members)", ", ".join(result.trusted) or "none"),
             ("to_ids = false (1 member only)", f"{len(result.untrusted)} values"),
             ("events updated on confirmation", str(result.corroborated_later))]
    ok = ok and len(result.trusted) == 2 and result.corroborated_later >= 1
    return StageResult("trust", rows, ok=ok)


STAGES: list[tuple[str, Stage]] = [
    ("Load the example events into the local MISP feed store", load_examples),
    ("A malicious member in the federation: signatures, replay protection, corroboration", malicious_member),
]
