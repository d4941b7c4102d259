"""The sync job: push and/or pull every configured collection, under a lock, with a run record and a summary.

One run never overlaps another (an exclusive ``flock`` on ``sync.lock_path``). Each collection is handled on its
own: an unreachable server or refused credentials for one is reported (with the collection named) and the others
go on; the cursor of a collection only moves inside the transaction that stores its page. Exit codes: 0 all ok,
1 some collection or item failed (the rest was processed), 2 usage or configuration error (including a push
without a sanitiser and without ``--no-sanitize``, and a push without a signing key while signatures are
required).

Trust: :meth:`SyncJob.from_config` builds the :class:`~legion_misp.trust.TrustPolicy` (roster, f, window) and our
:class:`~legion_misp.trust.Signer` from ``[federation]``; every pull is verified and every push signed. A job
built directly (tests, benchmarks) verifies and signs only when given ``trust``/``signer``.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from legion_misp.errors import (
    EXIT_ITEM_FAILURES,
    EXIT_OK,
    InvalidPageError,
    LegionError,
    LockedError,
    StoreError,
    SyncError,
)
from legion_misp.stix.reasons import Reason
from legion_misp.stores import EventStore, open_store
from legion_misp.stores.events import event_tag_names
from legion_misp.trust import KeyFileError, Signer, TrustPolicy

from .datastore import TaxiiCollectionSink, TaxiiCollectionSource
from .publish import Publisher, PushStats
from .pull import Puller, PullStats, _later
from .sanitize import SanitizeHook, resolve_sanitizer
from .settings import CollectionSettings, SyncSettings
from .state import SyncState
from .transport import TaxiiClient

log = logging.getLogger(__name__)

Progress = Callable[[str], Callable[[int], None]]  # label -> advance(n)
MAX_UNPARSEABLE_PAGES = 5  # refused pages passed in one run of one collection before it stops for this run


@dataclass
class CollectionReport:
    key: str
    kind: str
    push: PushStats | None = None
    pull: PullStats | None = None
    error: str | None = None
    cursor_before: str | None = None
    cursor_after: str | None = None

    @property
    def ok(self) -> bool:
        if self.error:
            return False
        if self.push and (self.push.failed or self.push.refused):
            return False
        return not (self.pull and (self.pull.store_failures or self.pull.quarantined))

    def as_dict(self) -> dict[str, Any]:
        return {"collection": self.key, "kind": self.kind, "ok": self.ok, "error": self.error,
                "push": self.push.as_dict() if self.push else None,
                "pull": self.pull.as_dict() if self.pull else None,
                "cursor_before": self.cursor_before, "cursor_after": self.cursor_after}


@dataclass
class RunSummary:
    kind: str
    dry_run: bool
    reports: list[CollectionReport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.reports)

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.ok else EXIT_ITEM_FAILURES

    def totals(self) -> dict[str, int]:
        pushes = [r.push for r in self.reports if r.push]
        pulls = [r.pull for r in self.reports if r.pull]
        return {
            "sent": sum(p.sent for p in pushes),
            "accepted": sum(p.accepted for p in pushes),
            "events_published": sum(p.published for p in pushes),
            "events_withheld": sum(p.withheld for p in pushes),
            "events_failed": sum(p.failed for p in pushes),
            "pulled": sum(p.pulled for p in pulls),
            "new": sum(p.events_new for p in pulls),
            "updated": sum(p.events_updated for p in pulls),
            "duplicates_skipped": sum(p.duplicates for p in pulls),
            "quarantined": sum(p.quarantined for p in pulls),
            "still_quarantined": sum(p.still_quarantined for p in pulls),
            "untrusted": sum(sum(p.rejected.values()) for p in pulls),
            "corroborated": sum(p.corroborated for p in pulls),
            "errors": sum(1 for r in self.reports if r.error),
        }

    def rejections(self) -> dict[str, int]:
        """Trust rejections of every pull, by code (``bad-signature``, ``replay``…)."""
        counts: dict[str, int] = {}
        for report in self.reports:
            for code, count in (report.pull.rejected if report.pull else {}).items():
                counts[code] = counts.get(code, 0) + count
        return counts

    def refusals(self) -> dict[str, int]:
        """Every refusal of every pull (new and still quarantined), by reason code."""
        counts: dict[str, int] = {}
        for report in self.reports:
            for code, count in (report.pull.refused if report.pull else {}).items():
                counts[str(code)] = counts.get(str(code), 0) + count
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "dry_run": self.dry_run, "ok": self.ok, "seconds": round(self.seconds, 3),
                "totals": self.totals(), "collections": [r.as_dict() for r in self.reports]}

    def format(self) -> str:
        t = self.totals()
        lines = [f"sync {self.kind}{' (dry run)' if self.dry_run else ''}: {'ok' if self.ok else 'FAILED'} in "
                 f"{self.seconds:.1f} s"]
        if any(r.kind == "push" for r in self.reports):
            lines.append(f"  push: sent {t['sent']}, accepted {t['accepted']}; events published "
                         f"{t['events_published']}, withheld {t['events_withheld']}, failed {t['events_failed']}")
        if any(r.kind == "pull" for r in self.reports):
            lines.append(f"  pull: pulled {t['pulled']}, new {t['new']}, updated {t['updated']}, duplicates skipped "
                         f"{t['duplicates_skipped']}, quarantined {t['quarantined']}"
                         + (f", {t['still_quarantined']} still quarantined" if t["still_quarantined"] else ""))
            codes = self.refusals()
            if codes:
                lines.append("  refused by code: " + ", ".join(f"{code} {n}" for code, n in sorted(codes.items())))
            if t["untrusted"] or t["corroborated"]:
                reasons = ", ".join(f"{code} {count}" for code, count in sorted(self.rejections().items()))
                lines.append(f"  trust: rejected {t['untrusted']}{' (' + reasons + ')' if reasons else ''}; events "
                             f"updated by corroboration {t['corroborated']}")
        for report in self.reports:
            if report.error:
                lines.append(f"  error [{report.kind}] {report.key}: {report.error}")
            if report.pull and report.pull.pages_without_cursor:
                lines.append(f"  note [pull] {report.key}: {report.pull.pages_without_cursor} page(s) came without "
                             "X-TAXII-Date-Added-Last; the cursor could not move past them, so the next run reads "
                             "them again (duplicates are skipped)")
            for failure in ((report.push.failures if report.push else []) +
                            (report.pull.failures if report.pull else []))[:10]:
                lines.append(f"  failure [{report.kind}] {report.key}: {failure}")
        return "\n".join(lines)


class SyncJob:
    """Push/pull the configured collections.

    Parameters
    ----------
    settings, collections : what ``[sync]`` and ``[[federation.collections]]`` say.
    store : the local event store (default: ``open_store(config)``).
    sanitize : the hook applied before publishing; by default the real sanitiser (see :mod:`.sanitize`).
    no_sanitize : explicitly publish events as stored (only with no sanitiser available).
    trust : verify pulled objects and decide ``to_ids`` by corroboration (None: no verification).
    signer : sign published objects (None: publish unsigned; refused when ``trust`` requires signatures).
    """

    def __init__(self, settings: SyncSettings, collections: list[CollectionSettings], *,
                 store: EventStore | None = None, config: Any = None, sanitize: SanitizeHook | None = None,
                 no_sanitize: bool = False, dry_run: bool = False, progress: Progress | None = None,
                 trust: TrustPolicy | None = None, signer: Signer | None = None):
        self.settings = settings
        self.collections = collections
        self.config = config
        self._store = store
        self._sanitize = sanitize
        self.no_sanitize = no_sanitize
        self.dry_run = dry_run
        self.progress = progress
        self.trust = trust
        self.signer = signer

    @classmethod
    def from_config(cls, config: Any, **kwargs: Any) -> SyncJob:
        """A job for the configured collections, verifying with the roster and signing with our key."""
        kwargs.setdefault("trust", TrustPolicy.from_config(config))
        if "signer" not in kwargs and any(c.pushes for c in CollectionSettings.from_config(config)):
            kwargs["signer"] = Signer.from_config(config)
        return cls(SyncSettings.from_config(config), CollectionSettings.from_config(config), config=config,
                   **kwargs)

    @property
    def store(self) -> EventStore:
        if self._store is None:
            self._store = open_store(self.config)
        return self._store

    def push(self) -> RunSummary:
        return self.execute("push")

    def pull(self) -> RunSummary:
        return self.execute("pull")

    def run(self) -> RunSummary:
        return self.execute("run")

    def execute(self, kind: str) -> RunSummary:
        """Run ``push``, ``pull`` or ``run`` (push then pull) once, under the lock."""
        sanitize = None
        if kind in ("push", "run") and any(c.pushes for c in self.collections):
            sanitize = resolve_sanitizer(self.config, hook=self._sanitize, no_sanitize=self.no_sanitize)
            self._check_signer()
        started = time.perf_counter()
        summary = RunSummary(kind=kind, dry_run=self.dry_run)
        with run_lock(self.settings.lock_path), SyncState(self.settings.state_path) as state:
            run_id = state.start_run(kind, self.dry_run)
            try:
                if sanitize is not None:
                    for collection in (c for c in self.collections if c.pushes):
                        summary.reports.append(self._push_one(collection, state, sanitize))
                if kind in ("pull", "run"):
                    for collection in (c for c in self.collections if c.pulls):
                        summary.reports.append(self._pull_one(collection, state))
            finally:
                summary.seconds = time.perf_counter() - started
                state.finish_run(run_id, summary.ok, summary.as_dict())
        return summary

    def _check_signer(self) -> None:
        _check_signer_present(self.trust, self.signer)

    def _push_one(self, collection: CollectionSettings, state: SyncState, sanitize: SanitizeHook
                  ) -> CollectionReport:
        report = CollectionReport(key=collection.key, kind="push")
        store_errors: list[StoreError] = []
        fresh = getattr(sanitize, "fresh", None)
        if callable(fresh):  # a new release per collection; fresh noise is paid event by event, before publishing
            sanitize = fresh(f"sync push to {collection.key}", dry_run=self.dry_run)
        try:
            with TaxiiClient(collection, self.settings) as client:
                sink = TaxiiCollectionSink(client)
                publisher = Publisher(sink, state, collection.key, self.settings, sanitize, dry_run=self.dry_run,
                                      progress=self.progress(f"push {collection.collection}") if self.progress
                                      else None, signer=self.signer)
                report.push = publisher.stats
                events = self.store.query(published=True if self.settings.push_only_published else None,
                                          tags=list(self.settings.push_tags) or None, on_error=store_errors.append)
                publisher.publish(e for e in events if not _from_peer(e))
        except LegionError as exc:  # SyncError, or the ledger refusing the release (BudgetExceeded)
            report.error = str(exc)
            log.error("push to %s failed: %s", collection.key, exc)
        for error in store_errors:
            report.push = report.push or PushStats()
            report.push.failed += 1
            report.push.failures.append(f"local store: {error}")
        return report

    def _pull_one(self, collection: CollectionSettings, state: SyncState) -> CollectionReport:
        """Pull one collection. Nothing raised here stops the job from pulling the others: a failure is the
        report's error. A page that is not a TAXII envelope is quarantined (once, whole) and, when the server dated
        it, the cursor moves past it and the pull goes on from there."""
        report = CollectionReport(key=collection.key, kind="pull", cursor_before=state.cursor(collection.key))
        report.pull = PullStats()
        try:
            for _ in range(MAX_UNPARSEABLE_PAGES):
                try:
                    self._pull_pages(collection, state, report)
                    break
                except InvalidPageError as exc:
                    if not self._keep_page(collection, state, report, exc):
                        break
        except SyncError as exc:
            report.error = str(exc)
            log.error("pull from %s failed: %s", collection.key, exc)
        except Exception as exc:  # a bug or an unexpected library failure: this collection only
            report.error = f"unexpected failure: {type(exc).__name__}: {str(exc)[:300]}"
            log.exception("pull from %s failed", collection.key)
        report.cursor_after = state.cursor(collection.key)
        return report

    def _pull_pages(self, collection: CollectionSettings, state: SyncState, report: CollectionReport) -> None:
        with TaxiiClient(collection, self.settings) as client:
            client.check_access(write=False)
            guard = self.trust.guard(state.db, collection=collection.collection) if self.trust else None
            puller = Puller(TaxiiCollectionSource(client), state, collection.key, self.settings, self.store,
                            peer=collection.peer, dry_run=self.dry_run,
                            progress=self.progress(f"pull {collection.collection}") if self.progress else None,
                            trust=guard)
            puller.stats = report.pull or PullStats()  # counts add up over restarts after a refused page
            report.pull = puller.stats
            puller.pull()

    def _keep_page(self, collection: CollectionSettings, state: SyncState, report: CollectionReport,
                   exc: InvalidPageError) -> bool:
        """Quarantine a page that is not an envelope; True when the cursor moved past it (pull again from there)."""
        assert report.pull is not None
        log.error("pull from %s: %s", collection.key, exc)
        if self.dry_run:
            report.pull.quarantined += 1
            return False
        with state.transaction():
            entry = state.quarantine_item(collection.key, f"{Reason.UNPARSEABLE_PAGE}: {exc}", payload=exc.payload,
                                          max_bytes=self.settings.quarantine_max_bytes)
            before = state.cursor(collection.key)
            after = _later(before, exc.date_added_last)
            if after and after != before:
                state.set_cursor(collection.key, after)
        report.pull.refused[Reason.UNPARSEABLE_PAGE] = report.pull.refused.get(Reason.UNPARSEABLE_PAGE, 0) + 1
        if entry.again:
            report.pull.still_quarantined += 1
        else:
            report.pull.quarantined += 1
            report.pull.failures.append(f"page quarantined (entry {entry.id}): {exc}")
        return bool(after and after != before)


def _check_signer_present(trust: TrustPolicy | None, signer: Signer | None) -> None:
    """A push needs our signing key whenever members require signatures (ours is the setting we know)."""
    if signer is None and trust is not None and trust.settings.require_signatures:
        raise KeyFileError("nothing was published: [federation] private_key is not set, and members quarantine "
                           "unsigned objects (require_signatures = true). Create a key with `legion keys generate` "
                           "and add private_key = \"file:PATH\" to [federation]")


def _from_peer(event: dict[str, Any]) -> bool:
    """Events pulled from a peer (tagged ``legion:peer=...``) are never re-published."""
    return any(name.startswith("legion:peer=") for name in event_tag_names(event))


@contextlib.contextmanager
def run_lock(path: Path) -> Iterator[None]:
    """An exclusive, non-blocking ``flock``; raises :class:`LockedError` naming the holder's PID."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # closed below
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise LockedError(f"another sync run holds {path} (pid {holder}); this run did nothing") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()
