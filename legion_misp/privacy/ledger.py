"""The persistent privacy-budget (ε, δ) ledger, in SQLite.

Every differentially private release is debited here **before** it leaves the process: :meth:`Ledger.spend`
checks the windowed budget and records the spend in one ``BEGIN IMMEDIATE`` transaction, so

- a release that would overspend is refused (:class:`BudgetExceeded`) before anything is written;
- two processes spending at once are serialised by SQLite's write lock and never overspend together;
- a process killed (even ``kill -9``) after ``spend`` returned leaves the debit in place (``synchronous=FULL``):
  the ledger can over-count a release that never left, never under-count one that did.

Composition is basic (sequential) composition: the ε and δ of all spends inside the sliding window are added. This
is conservative; tighter accountants (RDP/PLD) are used *inside* a release (e.g. DP-SGD over all rounds) and the
release then debits the total it reports.

Integrity:

- **The clock only moves forward** for the ledger: a spend dated before the latest recorded one (a clock set back,
  a copied ledger) is refused with :class:`LedgerClockError`, so the window cannot be reopened by moving the clock.
- **A missing ledger is an error** for the configured ledger (:func:`open_ledger`): ``legion budget init`` creates
  it. A silently fresh file would hand out a fresh budget.
- The **noise store** (:mod:`.noise_store`) lives in the same SQLite file: noisy values and the spend that paid for
  them are written in one transaction (:meth:`Ledger.commit_release`), so a noisy value is never shared unrecorded.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import ConfigError, LegionError
from ..schema import Key, in_range
from ..timeutil import is_duration, parse_duration

if TYPE_CHECKING:
    from ..config import Config

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spends (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    scope TEXT NOT NULL,
    epsilon REAL NOT NULL CHECK (epsilon >= 0),
    delta REAL NOT NULL CHECK (delta >= 0),
    what TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS spends_at ON spends (at);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS noise (
    datum TEXT PRIMARY KEY,          -- HMAC(store key, kind / identity): never the identity in clear
    value_tag TEXT NOT NULL,         -- HMAC(store key, kind / identity / true value): never the true value
    kind TEXT NOT NULL,
    noisy INTEGER NOT NULL,          -- the published noisy value
    draws INTEGER NOT NULL,          -- how many times this datum was noised (1 unless its true value changed)
    epsilon REAL NOT NULL,           -- ε of one draw of this datum
    first_at REAL NOT NULL,
    last_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS charges (charge_key TEXT PRIMARY KEY, spend_id INTEGER);
CREATE TABLE IF NOT EXISTS released (
    sink TEXT NOT NULL,              -- the output a release wrote to
    event TEXT NOT NULL,             -- HMAC of the event uuid
    fingerprint TEXT NOT NULL,       -- HMAC of the event's content, the policy and the counter step
    PRIMARY KEY (sink, event)
);
"""
_TOLERANCE = 1e-9


class BudgetExceeded(LegionError):
    """A release would push the windowed ε (or δ) over the budget. Nothing was debited or released."""


class LedgerClockError(LegionError):
    """A spend is dated before the latest recorded one (the clock went back). Nothing was debited or released."""


class LedgerMissing(ConfigError):
    """The configured ledger file does not exist; ``legion budget init`` creates it."""


@dataclass(frozen=True)
class Charge:
    """One debit a release needs: ``key`` names it; ``once`` means it is paid at most once ever (then free).

    Charges of the same ``group`` cover disjoint units of privacy, so one debit pays their maximum (parallel
    composition); different groups add up.
    """

    key: str
    epsilon: float
    delta: float = 0.0
    once: bool = False
    group: str | None = None


class NoiseRow(NamedTuple):
    """A noisy value to record: keyed datum and value tags (HMACs), kind, value, ε of one draw.

    A tuple of strings and numbers: the garbage collector stops tracking it, which matters when a batch of
    releases holds hundreds of thousands of them until they are recorded."""

    datum: str
    value_tag: str
    kind: str
    noisy: int
    epsilon: float


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    at: float
    scope: str
    epsilon: float
    delta: float
    what: str


class Ledger:
    """A windowed (ε, δ) budget over a SQLite file.

    Parameters
    ----------
    path : SQLite file, created (with its folder) if missing.
    budget_epsilon : the most ε that may be spent within any window.
    budget_delta : the most δ that may be spent within any window (None: δ is recorded but not limited).
    window_days : length of the sliding window in days.
    clock : returns the current time in epoch seconds (tests pass a fake clock).
    create : create the file if missing (library default); ``False`` raises :class:`LedgerMissing` instead.
    """

    def __init__(self, path: str | Path, *, budget_epsilon: float, budget_delta: float | None = None,
                 window_days: float = 30.0, clock: Callable[[], float] = time.time, create: bool = True):
        if not budget_epsilon > 0:
            raise ValueError(f"budget_epsilon must be > 0; got {budget_epsilon}")
        if budget_delta is not None and not 0 <= budget_delta < 1:
            raise ValueError(f"budget_delta must be in [0, 1); got {budget_delta}")
        if not window_days > 0:
            raise ValueError(f"window_days must be > 0; got {window_days}")
        self.path = Path(path)
        self.budget_epsilon = float(budget_epsilon)
        self.budget_delta = budget_delta
        self.window_days = float(window_days)
        self._clock = clock
        if not create and not self.path.is_file():
            raise LedgerMissing(f"no privacy ledger at {self.path}: run `legion budget init` to create it (a missing "
                                "ledger is never replaced silently by a fresh budget)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = self._connect()
        try:
            connection.executescript(_SCHEMA)
        finally:
            connection.close()

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        return connection

    @property
    def window_seconds(self) -> float:
        return self.window_days * 86400.0

    def spent(self, scope: str | None = None) -> tuple[float, float]:
        """(ε, δ) spent inside the current window, over all scopes or one."""
        connection = self._connect()
        try:
            return self._spent(connection, scope)
        finally:
            connection.close()

    def _spent(self, connection: sqlite3.Connection, scope: str | None = None) -> tuple[float, float]:
        since = self._clock() - self.window_seconds
        query = "SELECT COALESCE(SUM(epsilon), 0), COALESCE(SUM(delta), 0) FROM spends WHERE at > ?"
        params: tuple = (since,)
        if scope is not None:
            query += " AND scope = ?"
            params = (since, scope)
        epsilon, delta = connection.execute(query, params).fetchone()
        return float(epsilon), float(delta)

    def remaining(self) -> tuple[float, float | None]:
        """(ε, δ) still available in the current window (δ is None when not limited)."""
        epsilon, delta = self.spent()
        left_delta = None if self.budget_delta is None else max(0.0, self.budget_delta - delta)
        return max(0.0, self.budget_epsilon - epsilon), left_delta

    def check(self, epsilon: float, delta: float = 0.0) -> None:
        """Raise :class:`BudgetExceeded` if spending (ε, δ) now would overspend. Writes nothing."""
        _check_cost(epsilon, delta)
        connection = self._connect()
        try:
            self._refuse_if_over(self._spent(connection), epsilon, delta)
        finally:
            connection.close()

    def spend(self, *, epsilon: float, delta: float = 0.0, what: str, scope: str = "default") -> int:
        """Atomically check the budget and record a spend; returns the entry id. Call it *before* releasing."""
        _check_cost(epsilon, delta)
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                entry = self._record_spend(connection, epsilon, delta, what, scope)
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            return entry
        finally:
            connection.close()

    def _record_spend(self, connection: sqlite3.Connection, epsilon: float, delta: float, what: str,
                      scope: str) -> int:
        """Inside an open transaction: high-water check, budget check, insert. Returns the entry id."""
        now = self._clock()
        self._refuse_if_clock_went_back(connection, now)
        self._refuse_if_over(self._spent(connection), epsilon, delta)
        cursor = connection.execute("INSERT INTO spends (at, scope, epsilon, delta, what) VALUES (?, ?, ?, ?, ?)",
                                    (now, scope, float(epsilon), float(delta), what))
        return int(cursor.lastrowid)

    def _refuse_if_clock_went_back(self, connection: sqlite3.Connection, now: float) -> None:
        latest = connection.execute("SELECT MAX(at) FROM spends").fetchone()[0]
        if latest is not None and now < latest:
            stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(latest))
            raise LedgerClockError(
                f"the clock is before the latest spend in the ledger {self.path} ({stamp}): the ledger only moves "
                "forward, so nothing was debited or released. Fix the system clock (or wait); a ledger never "
                "accepts spends dated in its past")

    def high_water_mark(self) -> float | None:
        """Time of the latest recorded spend (spends dated before it are refused)."""
        connection = self._connect()
        try:
            return connection.execute("SELECT MAX(at) FROM spends").fetchone()[0]
        finally:
            connection.close()

    # ---- releases with persistent noise ----------------------------------------------------------------------

    def store_key(self, *, create: bool = True) -> bytes | None:
        """The secret HMAC key of the noise store (32 random bytes, created once, kept in this file). With
        ``create=False`` (dry runs) a missing key is not created: None."""
        if not create:
            connection = self._connect()
            try:
                row = connection.execute("SELECT value FROM meta WHERE name = 'noise_key'").fetchone()
            finally:
                connection.close()
            return bytes(row[0]) if row is not None else None
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            row = connection.execute("SELECT value FROM meta WHERE name = 'noise_key'").fetchone()
            if row is None:
                import secrets

                key = secrets.token_bytes(32)
                connection.execute("INSERT INTO meta (name, value) VALUES ('noise_key', ?)", (key,))
                connection.execute("COMMIT")
                return key
            connection.execute("COMMIT")
            return bytes(row[0])
        finally:
            connection.close()

    def lookup_noise(self, datums: list[str], *, reader: sqlite3.Connection | None = None
                     ) -> dict[str, tuple[str, int]]:
        """Stored ``datum -> (value_tag, noisy)`` for the given datum tags (read only). ``reader``: an open
        connection of :meth:`reader` to reuse (autocommit: each look-up sees what is committed at that moment)."""
        if reader is not None:
            return self._existing(reader, datums)
        connection = self._connect()
        try:
            return self._existing(connection, datums)
        finally:
            connection.close()

    def reader(self) -> sqlite3.Connection:
        """A connection for repeated read-only look-ups (the caller closes it)."""
        return self._connect()

    def paid_charges(self, keys: list[str]) -> set[str]:
        """Which once-ever charge keys are already paid."""
        connection = self._connect()
        try:
            return {k for k in keys
                    if connection.execute("SELECT 1 FROM charges WHERE charge_key = ?", (k,)).fetchone()}
        finally:
            connection.close()

    def commit_release(self, *, charges: list[Charge], rows: list[NoiseRow], what: str,
                       scope: str = "default") -> tuple[int | None, tuple[float, float], dict[str, int]]:
        """In one transaction: debit ``charges`` (once-ever charges already paid are skipped) and record ``rows``.

        A row whose datum is already stored with the same value tag (another process noised it first) keeps the
        stored value. Returns (ledger entry id or None when nothing was debited, the (ε, δ) debited,
        ``datum -> noisy`` as stored).
        Raises :class:`BudgetExceeded` / :class:`LedgerClockError` with nothing recorded.
        """
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                entry, debited = self._debit(connection, charges, what, scope)
                stored = self._record_rows(connection, rows)
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            return entry, debited, stored
        finally:
            connection.close()

    def _debit(self, connection: sqlite3.Connection, charges: list[Charge], what: str, scope: str
               ) -> tuple[int | None, tuple[float, float]]:
        due = [c for c in charges if not (c.once and connection.execute(
            "SELECT 1 FROM charges WHERE charge_key = ?", (c.key,)).fetchone())]
        groups: dict[str, tuple[float, float]] = {}
        for charge in due:
            name = charge.group or charge.key
            epsilon, delta = groups.get(name, (0.0, 0.0))
            groups[name] = (max(epsilon, charge.epsilon), max(delta, charge.delta))
        epsilon = sum(e for e, _ in groups.values())
        delta = sum(d for _, d in groups.values())
        entry = None
        if epsilon > 0 or delta > 0:
            _check_cost(epsilon, delta)
            detail = ", ".join(sorted(groups))
            entry = self._record_spend(connection, epsilon, delta, f"{what} [{detail}]", scope)
        else:
            self._refuse_if_clock_went_back(connection, self._clock())
        for charge in due:
            if charge.once:
                connection.execute("INSERT INTO charges (charge_key, spend_id) VALUES (?, ?)", (charge.key, entry))
        return entry, (epsilon, delta)

    def _record_rows(self, connection: sqlite3.Connection, rows: list[NoiseRow]) -> dict[str, int]:
        now = self._clock()
        existing = self._existing(connection, [row.datum for row in rows])
        stored: dict[str, int] = {}
        inserts, updates = [], []
        for row in rows:
            found = existing.get(row.datum)
            if found is not None and found[0] == row.value_tag:
                stored[row.datum] = found[1]  # another process recorded this value first: keep its noise
                continue
            if found is None:
                inserts.append((row.datum, row.value_tag, row.kind, int(row.noisy), row.epsilon, now, now))
            else:
                updates.append((row.value_tag, int(row.noisy), row.epsilon, now, row.datum))
            stored[row.datum] = int(row.noisy)
        connection.executemany("INSERT INTO noise (datum, value_tag, kind, noisy, draws, epsilon, first_at, last_at) "
                               "VALUES (?, ?, ?, ?, 1, ?, ?, ?)", inserts)
        connection.executemany("UPDATE noise SET value_tag = ?, noisy = ?, draws = draws + 1, epsilon = ?, "
                               "last_at = ? WHERE datum = ?", updates)
        return stored

    @staticmethod
    def _existing(connection: sqlite3.Connection, datums: list[str]) -> dict[str, tuple[str, int]]:
        found: dict[str, tuple[str, int]] = {}
        for start in range(0, len(datums), 500):
            chunk = datums[start:start + 500]
            query = "SELECT datum, value_tag, noisy FROM noise WHERE datum IN ({})".format(  # noqa: S608
                ",".join("?" * len(chunk)))  # placeholders only: the values are bound parameters
            for datum, tag, noisy in connection.execute(query, chunk):
                found[datum] = (tag, int(noisy))
        return found

    def released_fingerprints(self, sink: str) -> dict[str, str]:
        """``event tag -> fingerprint`` of what the last releases wrote to ``sink`` (to skip unchanged events)."""
        connection = self._connect()
        try:
            return dict(connection.execute("SELECT event, fingerprint FROM released WHERE sink = ?", (sink,)))
        finally:
            connection.close()

    def record_released(self, sink: str, items: list[tuple[str, str]]) -> None:
        """Remember ``(event tag, fingerprint)`` pairs written to ``sink``."""
        if not items:
            return
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany("INSERT OR REPLACE INTO released (sink, event, fingerprint) VALUES (?, ?, ?)",
                                   [(sink, event, fingerprint) for event, fingerprint in items])
            connection.execute("COMMIT")
        finally:
            connection.close()

    def noise_summary(self) -> dict[str, Any]:
        """What the noise store holds: values per kind, re-draws, and the most-redrawn datum's lifetime ε."""
        connection = self._connect()
        try:
            kinds = {kind: {"values": n, "redrawn": int(redrawn or 0), "max_draws": int(most or 0),
                            "max_lifetime_epsilon": float(lifetime or 0.0)}
                     for kind, n, redrawn, most, lifetime in connection.execute(
                         "SELECT kind, COUNT(*), SUM(draws > 1), MAX(draws), MAX(draws * epsilon) FROM noise "
                         "GROUP BY kind ORDER BY kind")}
            charges = connection.execute("SELECT COUNT(*) FROM charges").fetchone()[0]
        finally:
            connection.close()
        return {"kinds": kinds, "once_charges_paid": int(charges)}

    def comes_back(self) -> list[tuple[float, float, float]]:
        """When each in-window spend leaves the window: ``(time, ε, δ)`` oldest first."""
        return [(e.at + self.window_seconds, e.epsilon, e.delta) for e in self.entries(within_window=True)
                if e.epsilon > 0 or e.delta > 0]

    def _refuse_if_over(self, spent: tuple[float, float], epsilon: float, delta: float) -> None:
        spent_epsilon, spent_delta = spent
        if spent_epsilon + epsilon > self.budget_epsilon + _TOLERANCE:
            raise BudgetExceeded(
                f"privacy budget exceeded: this release needs ε={epsilon:g} but only "
                f"{max(0.0, self.budget_epsilon - spent_epsilon):g} of ε={self.budget_epsilon:g} is left in the "
                f"{self.window_days:g}-day window (ledger {self.path}); nothing was released")
        if self.budget_delta is not None and spent_delta + delta > self.budget_delta + 1e-15:
            raise BudgetExceeded(
                f"privacy budget exceeded: this release needs δ={delta:g} but only "
                f"{max(0.0, self.budget_delta - spent_delta):g} of δ={self.budget_delta:g} is left "
                f"(ledger {self.path}); nothing was released")

    def entries(self, *, within_window: bool = False) -> list[LedgerEntry]:
        """All recorded spends, oldest first (or only those inside the current window)."""
        query = "SELECT id, at, scope, epsilon, delta, what FROM spends"
        params: tuple = ()
        if within_window:
            query += " WHERE at > ?"
            params = (self._clock() - self.window_seconds,)
        connection = self._connect()
        try:
            rows = connection.execute(query + " ORDER BY id", params).fetchall()
        finally:
            connection.close()
        return [LedgerEntry(*row) for row in rows]


def _check_cost(epsilon: float, delta: float) -> None:
    if not epsilon >= 0 or epsilon == float("inf"):
        raise ValueError(f"epsilon must be a finite number >= 0; got {epsilon}")
    if not 0 <= delta < 1:
        raise ValueError(f"delta must be in [0, 1); got {delta}")


LEDGER_KEYS: tuple[Key, ...] = (
    Key("path", str, "data/privacy-ledger.sqlite", "SQLite file of the privacy-budget ledger."),
    Key("epsilon", float, 10.0, "Most ε all DP releases may spend together within one window.",
        check=in_range(0, None, low_open=True)),
    Key("delta", float, 1e-4, "Most δ all DP releases may spend together within one window.",
        check=in_range(0, 1)),
    Key("window", str, "30d", "Sliding window of the budget, e.g. '30d'.", check=is_duration),
)


def open_ledger(config: Config, *, create: bool = False, clock: Callable[[], float] = time.time) -> Ledger:
    """The ledger configured in ``[ledger]`` (:data:`LEDGER_KEYS`). A missing file raises :class:`LedgerMissing`
    unless ``create`` (``legion budget init``)."""
    section = config.section("ledger")
    return Ledger(config.resolve_path(section["path"]), budget_epsilon=section["epsilon"],
                  budget_delta=section["delta"], window_days=parse_duration(section["window"]) / 86400.0,
                  clock=clock, create=create)
