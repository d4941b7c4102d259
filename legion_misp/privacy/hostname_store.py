"""The organisation's short host names learned from its WHOLE store, not only from the events being released.

A host name written in clear in a released event's comment (``beacon from ws0451``) is caught only if the
sanitiser knows ``ws0451`` is ours; the knowledge often sits in another event (``ws0451.corp.example|10.4.5.1``).
:func:`store_hostnames` is the one entry point, used by ``Sanitizer.from_config`` (``legion sanitize``,
``legion sync push``, the ``legion_dp_export`` module) and by the publish gate, for every store kind:

- **feed** (``store.kind = "feed"``): every event of the local directory is read and learned from
  (:func:`~legion_misp.privacy.hostnames.learn_from`); local files, no cache, best effort.
- **MISP** (``store.kind = "misp"``): :class:`MispHostnameLearner`, attribute-level searches
  (``POST /attributes/restSearch``), never a full event pull, kept up to date incrementally in a local SQLite file
  (``privacy.learned_hostnames_path``, mode 0600), per MISP URL and API user (each sees what MISP's ACL shows it).

What the MISP learner asks for (the same sources as :func:`~legion_misp.privacy.hostnames.learn_hostnames`):
``domain|ip`` attributes (their address is judged locally, in every notation, against the internal and own
networks) and attributes of any type whose value contains an internal domain (``%corp.example%``: host names,
``hostname|port``, URLs, e-mail addresses, text). Names written only in comments, event info or reports of events
that are not released are not learned (MISP's attribute search has no comment filter).

The first run pages through every match (ordered by attribute id). Each later run asks only for

- **new attributes**: newest id first, until it reaches the highest id already learned (MISP keeps the timestamp an
  added or synchronised event carries, so an event imported today with last year's timestamps would escape a
  timestamp filter), and
- **changed attributes**: MISP's ``timestamp`` filter from the last run's start on MISP's own clock (its HTTP
  ``Date`` header), minus :data:`TIME_OVERLAP` seconds.

With nothing new that is four small requests (two per search), sent side by side. Names whose attributes are later
deleted from MISP are **kept** (a name that was once internal stays protected); changing ``internal_domains``,
``internal_networks`` or ``public_networks`` starts again from nothing (the names depend on them). The file holds
private names: created 0600, never shared, never logged (only counts are).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import StoreError
from .hostnames import GENERIC_LABELS, learn_from, learn_hostnames

if TYPE_CHECKING:
    from ..config import Config, Organisation

log = logging.getLogger(__name__)

TIME_OVERLAP = 300  # seconds re-read before the last run's start (clock steps, slow saves)
ID_OVERLAP = 100  # attribute ids re-read below the highest learned one (saves committed out of order)
PAGE_SIZE = 500
FIRST_NEW_PAGE = 25  # the first page of a search for new attributes (usually the only one)
LEARNER_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stores (store TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, learned_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS marks (store TEXT NOT NULL, query TEXT NOT NULL, max_id INTEGER NOT NULL,
                                  since INTEGER NOT NULL, PRIMARY KEY (store, query));
CREATE TABLE IF NOT EXISTS names (store TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (store, name));
"""


@dataclass(frozen=True)
class Mark:
    """How far one search has been learned: the highest attribute id seen and MISP's time when the run began."""

    max_id: int
    since: int


@dataclass
class LearnRun:
    """What one :meth:`MispHostnameLearner.update` did (counts only: the names stay in the cache)."""

    full: bool
    requests: int = 0
    attributes: int = 0
    new_names: int = 0
    names: set[str] = field(default_factory=set, repr=False)
    marks: dict[str, Mark] = field(default_factory=dict, repr=False)


class HostnameCache:
    """The learned names and high-water marks, per store, in a SQLite file created with mode 0600."""

    def __init__(self, path: Path | None):
        """``path`` None: a cache in memory only (every run is a first learn)."""
        self.path = Path(path) if path is not None else None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
            os.chmod(self.path, 0o600)
        self._db = sqlite3.connect(self.path or ":memory:", timeout=30, isolation_level=None)
        self._db.executescript(_SCHEMA)

    @classmethod
    def open_or_memory(cls, path: Path) -> HostnameCache:
        """The cache at ``path``; if it cannot be created or read (a read-only folder, a broken file), one in
        memory, with a warning: learning then reads the whole of the searches on every release."""
        try:
            return cls(path)
        except (OSError, sqlite3.Error) as exc:
            log.warning("learned host names cache %s unusable (%s): learning from the whole MISP store on every "
                        "release", path, type(exc).__name__)
            return cls(None)

    def close(self) -> None:
        self._db.close()

    def load(self, store: str, fingerprint: str) -> tuple[set[str], dict[str, Mark]] | None:
        """The names and marks of ``store`` learned under ``fingerprint``; None if never (or under another one)."""
        row = self._db.execute("SELECT fingerprint FROM stores WHERE store = ?", (store,)).fetchone()
        if row is None or row[0] != fingerprint:
            return None
        names = {r[0] for r in self._db.execute("SELECT name FROM names WHERE store = ?", (store,))}
        marks = {q: Mark(int(i), int(s)) for q, i, s in
                 self._db.execute("SELECT query, max_id, since FROM marks WHERE store = ?", (store,))}
        return names, marks

    def save(self, store: str, fingerprint: str, names: Iterable[str], marks: dict[str, Mark], *,
             replace: bool) -> None:
        """Add ``names`` (or replace them all when ``replace``: a new fingerprint) and set the marks, atomically.
        Marks only move forward, so two processes learning at once never move one back."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if replace:
                for table in ("names", "marks"):
                    self._db.execute(f"DELETE FROM {table} WHERE store = ?", (store,))  # noqa: S608 (fixed names)
            self._db.execute("INSERT INTO stores VALUES (?, ?, ?) ON CONFLICT (store) DO UPDATE SET "
                             "fingerprint = excluded.fingerprint, learned_at = excluded.learned_at",
                             (store, fingerprint, time.time()))
            self._db.executemany("INSERT OR IGNORE INTO names VALUES (?, ?)", [(store, n) for n in names])
            self._db.executemany(
                "INSERT INTO marks VALUES (?, ?, ?, ?) ON CONFLICT (store, query) DO UPDATE SET "
                "max_id = max(max_id, excluded.max_id), since = max(since, excluded.since)",
                [(store, query, mark.max_id, mark.since) for query, mark in marks.items()])
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise


class MispHostnameLearner:
    """Learn the organisation's short host names from a MISP store, incrementally (see the module docstring).

    Parameters
    ----------
    store : a :class:`~legion_misp.stores.misp_api.MispApiStore` (anything with ``search_attributes``, ``url``
        and ``server_time``).
    organisation : internal domains and networks (what makes a name ours).
    cache : where names and marks persist between runs.
    page_size : attributes per search page.
    """

    def __init__(self, store: Any, organisation: Organisation, cache: HostnameCache, *, page_size: int = PAGE_SIZE):
        self.store = store
        self.organisation = organisation
        self.cache = cache
        self.page_size = page_size

    def searches(self) -> dict[str, dict[str, Any]]:
        """The attribute searches, by name: ``domain|ip`` pairs and values under each internal domain."""
        searches: dict[str, dict[str, Any]] = {"pairs": {"type": ["domain|ip"]}}
        domains = _internal_domains(self.organisation)
        if domains:
            searches["internal-values"] = {"value": [f"%{d}%" for d in domains]}
        return searches

    def fingerprint(self) -> str:
        """What the learned names depend on besides the store's data (a digest; the cache is reset when it
        changes)."""
        organisation = self.organisation
        basis = {"version": LEARNER_VERSION, "domains": _internal_domains(organisation),
                 "networks": sorted(str(n) for n in organisation.internal_networks),
                 "public": sorted(str(n) for n in organisation.public_networks),
                 "generic": sorted(GENERIC_LABELS), "searches": self.searches()}
        return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()

    def update(self) -> LearnRun:
        """Learn what changed in MISP since the last run (everything the first time) and return the run, whose
        ``names`` are all the names known for this store. The searches run side by side (four small requests when
        nothing changed). Learned state is kept per MISP URL and user (another key may see other events)."""
        store_key, fingerprint = f"{self.store.url} user {getattr(self.store, 'user_id', '')}", self.fingerprint()
        known = self.cache.load(store_key, fingerprint)
        run = LearnRun(full=known is None)
        names, marks = known if known is not None else (set(), {})
        jobs: list[tuple[str, Any]] = []
        for query, filters in self.searches().items():
            mark = marks.get(query)
            if mark is None:
                jobs.append((query, partial(self._scan_all, filters)))
            else:
                jobs += [(query, partial(self._scan_new, filters, mark)),
                         (query, partial(self._scan_changed, filters, mark))]
        local_start = time.time()
        with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="hostnames") as pool:
            scans = [(query, pool.submit(job)) for query, job in jobs]
            results = [(query, future.result()) for query, future in scans]
        started = self._clock(local_start)
        learned: set[str] = set()
        for query, scan in results:
            learned |= scan.names
            run.requests += scan.pages
            run.attributes += scan.attributes
            previous = run.marks.get(query) or marks.get(query) or Mark(0, started)
            run.marks[query] = Mark(max(previous.max_id, scan.max_id), started)
        run.new_names = len(learned - names)
        run.names = names | learned
        self.cache.save(store_key, fingerprint, learned, run.marks, replace=known is None)
        return run

    # ---- the three kinds of search -----------------------------------------------------------------------------

    def _scan_all(self, filters: dict[str, Any]) -> _Scan:
        scan, page = _Scan(), 1
        while rows := self._page(scan, {**filters, "order": "Attribute.id asc"}, page):
            self._learn(scan, rows)
            page += 1
        return scan

    def _scan_new(self, filters: dict[str, Any], mark: Mark) -> _Scan:
        """Attributes with an id above the mark: newest first, until a page reaches the mark (minus the overlap).
        The first page is small (:data:`FIRST_NEW_PAGE`): usually it already reaches the mark, and a release then
        reads a few attributes, not a full page of old ones; if not, the scan restarts with full pages."""
        scan, floor = _Scan(), mark.max_id - ID_OVERLAP
        for limit in (min(FIRST_NEW_PAGE, self.page_size), self.page_size):
            page = 1
            while rows := self._page(scan, {**filters, "order": "Attribute.id desc"}, page, limit=limit):
                ids = [_id(r) for r in rows]
                self._learn(scan, [r for r in rows if _id(r) > floor])
                if min(ids) <= floor or (min(ids) <= mark.max_id and len(rows) < limit):
                    return scan  # reached what was learned (a short page: nothing older is missing)
                if limit < self.page_size:
                    break  # the small page held only new attributes: read on with full pages
                page += 1
            else:
                return scan  # an empty page: nothing more
        return scan

    def _scan_changed(self, filters: dict[str, Any], mark: Mark) -> _Scan:
        """Attributes MISP saved with a timestamp since the last run began (edits; adds stamped with the time).
        Paged to an empty page: a short page is not the end (MISP drops allow-listed values after paging)."""
        scan, page = _Scan(), 1
        changed = {**filters, "timestamp": max(mark.since - TIME_OVERLAP, 1), "order": "Attribute.id asc"}
        while rows := self._page(scan, changed, page):
            self._learn(scan, rows)
            page += 1
        return scan

    def _page(self, scan: _Scan, filters: dict[str, Any], page: int, *, limit: int | None = None
              ) -> list[dict[str, Any]]:
        scan.pages += 1
        return self.store.search_attributes(filters, page=page, limit=limit or self.page_size)

    def _clock(self, local_start: float) -> int:
        """MISP's time when this run began: its last answer's Date header less the time the run took (our clock
        only when MISP sent no Date header)."""
        server = self.store.server_time
        if server is None:
            return int(local_start)
        return int(server - (time.time() - local_start)) - 1

    def _learn(self, scan: _Scan, rows: list[dict[str, Any]]) -> None:
        scan.attributes += len(rows)
        scan.max_id = max(scan.max_id, *(_id(r) for r in rows)) if rows else scan.max_id
        infos = {str((r.get("Event") or {}).get("info") or "") for r in rows if isinstance(r.get("Event"), dict)}
        attributes = [{k: r.get(k) for k in ("type", "value", "comment")} for r in rows]
        scan.names |= learn_hostnames({"info": "\n".join(sorted(infos)), "Attribute": attributes}, self.organisation)


@dataclass
class _Scan:
    """What one search read: names learned, highest attribute id, attributes and pages."""

    names: set[str] = field(default_factory=set)
    max_id: int = 0
    attributes: int = 0
    pages: int = 0


def store_hostnames(config: Config, organisation: Organisation | None = None) -> set[str]:
    """The short host names learned from the whole configured store (see the module docstring).

    A feed store is read whole, best effort. A MISP store is searched incrementally; if MISP cannot be searched
    the release stops (:class:`~legion_misp.errors.StoreError`): releasing without the names it would have learned
    could leak them. ``privacy.learn_hostnames_from_store = false`` turns learning off.
    """
    organisation = organisation if organisation is not None else config.organisation
    section = config.section("store")
    if section.get("kind") == "misp":
        return _misp_hostnames(config, organisation)
    return learn_from(_feed_events(config), organisation)


def _misp_hostnames(config: Config, organisation: Organisation) -> set[str]:
    cache = HostnameCache.open_or_memory(config.resolve_path(config.section("privacy")["learned_hostnames_path"]))
    connection = _connection_key(config)
    try:
        store = _connected(config, connection)
        run = MispHostnameLearner(store, organisation, cache).update()
    except StoreError as exc:
        _CONNECTED.pop(connection, None)  # reconnect next time (a rotated key, a restarted MISP)
        raise StoreError(f"host names could not be learned from the MISP store, so nothing is released: "
                         f"{exc.args[0]} (set privacy.learn_hostnames_from_store = false to release without them)",
                         location=exc.location) from exc
    finally:
        cache.close()
    log.info("host names learned from %s: %d known, %d new, %d attribute(s) read in %d request(s)%s",
             store.url, len(run.names), run.new_names, run.attributes, run.requests, " (first learn)" * run.full)
    return run.names


_CONNECTED: dict[tuple[Any, ...], Any] = {}  # long-lived processes (misp-modules) connect to MISP once


def _connection_key(config: Config) -> tuple[Any, ...]:
    section = config.section("store")
    return (section["url"], section["api_key"], str(config.base_dir), section["verify_tls"], section["ca_bundle"],
            section["timeout"])


def _connected(config: Config, key: tuple[Any, ...]) -> Any:
    """The MISP store of ``config``, connected once per process (PyMISP's start-up costs three requests)."""
    from ..stores import open_store

    store = _CONNECTED.get(key)
    if store is None:
        store = _CONNECTED[key] = open_store(config)
    return store


def _feed_events(config: Config) -> Iterable[dict[str, Any]]:
    """Every event of the configured feed directory, streamed; a broken or missing store yields nothing more
    (its events are still checked one by one when released)."""
    from ..stores import FeedStore

    store = config.section("store")
    if not store.get("path"):
        return
    path = config.resolve_path(store["path"])
    if not path.is_dir():
        return
    try:
        yield from FeedStore(path, create=False).query(on_error=lambda *_: None)
    except Exception as exc:  # a broken store must not stop a release; its events are still checked one by one
        log.warning("host names not learned from the store %s: %s", path, type(exc).__name__)


def _internal_domains(organisation: Organisation) -> list[str]:
    domains: set[str] = set()
    for domain in organisation.internal_domains:
        domain = domain.strip(".").lower()
        if not domain:
            continue
        domains.add(domain)
        try:
            domains.add(domain.encode("idna").decode("ascii"))
        except UnicodeError:
            pass
    return sorted(domains)


def _id(row: dict[str, Any]) -> int:
    try:
        return int(row.get("id") or 0)
    except (TypeError, ValueError):
        return 0
