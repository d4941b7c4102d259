"""The demo's stages, in order. Each capability appends its stage here."""

from __future__ import annotations

import os
import secrets
from collections import Counter
from pathlib import Path

from ..errors import LegionError, StoreError
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


def sync_stage(ctx: DemoContext) -> StageResult:
    """Two organisations on an embedded TAXII 2.1 server (medallion, 127.0.0.1): org A publishes the shared
    (sanitised) store, or the local store if no sanitiser stage ran; org B pulls into demo-output/feed-member-b."""
    import os
    import secrets

    from connectors.embedded import EmbeddedTaxiiServer
    from connectors.job import SyncJob
    from connectors.sanitize import identity, sanitizer_from_config
    from connectors.settings import CollectionSettings, SyncSettings
    from legion_misp.secrets import Secret

    shared = ctx.data.get("shared_store")
    source = shared if shared is not None else ctx.data.get("local_store")
    if source is None:
        return StageResult("sync", [("skipped", "no local store (run the load stage first)")], ok=False)
    hook, how = identity, "already sanitised by the sanitiser stage"
    if shared is None:
        from legion_misp.config import load_default_config

        try:
            found = sanitizer_from_config(load_default_config(ctx.out_dir))
        except LegionError as exc:  # e.g. no federation key for pseudonyms in the embedded config
            ctx.echo(f"      sanitiser unavailable: {exc}")
            found = None
        hook, how = (found, "sanitised on the way out") if found else (identity, "NOT sanitised (no sanitiser "
                                                                                  "installed; loopback only)")
    workdir = ctx.out_dir / "sync"
    passwords = {"member-a": secrets.token_urlsafe(16), "member-b": secrets.token_urlsafe(16)}
    for user, password in passwords.items():  # handed to the jobs as env: secrets, never on a command line
        os.environ[f"LEGION_DEMO_TAXII_{user[-1].upper()}"] = password
    feed_b = FeedStore(ctx.out_dir / "feed-member-b")
    with EmbeddedTaxiiServer(workdir / "taxii-server", users=passwords, collections={"federation": {}}) as server:
        def job(who: str, store, direction: str) -> SyncJob:
            settings = SyncSettings(state_path=workdir / f"{who}-state.sqlite", lock_path=workdir / f"{who}.lock",
                                    push_only_published=False, retries=2, backoff=0.2)
            collection = CollectionSettings(url=server.api_root, collection=server.collection_ids["federation"],
                                            direction=direction, username=who, peer="member-a" if who.endswith("b")
                                            else None, password=Secret(f"env:LEGION_DEMO_TAXII_{who[-1].upper()}"))
            return SyncJob(settings, [collection], store=store, sanitize=hook)

        push = job("member-a", source, "push").push()
        pull = job("member-b", feed_b, "pull").pull()
    ctx.data["member_b_store"] = feed_b
    p, q = push.totals(), pull.totals()
    rows = [("org A published", f"{p['events_published']} events, {p['accepted']}/{p['sent']} STIX objects "
                                f"accepted ({how})"),
            ("org B pulled", f"{q['pulled']} objects → {q['new']} new, {q['updated']} updated events, "
                             f"{q['duplicates_skipped']} duplicates skipped, {q['quarantined']} quarantined"),
            ("TAXII server", "medallion 3.0.0 on 127.0.0.1 (stopped)"),
            ("org B feed", str(feed_b.path))]
    for summary in (push, pull):
        for report in summary.reports:
            if report.error:
                rows.append(("error", report.error))
    return StageResult("sync", rows, ok=push.ok and pull.ok)


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


STAGES.append(("Sync: org A publishes the shared feed over TAXII 2.1, org B pulls it", sync_stage))


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


STAGES.append(("A malicious member in the federation: signatures, replay protection, corroboration",
               malicious_member))
