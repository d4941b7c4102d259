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
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import LegionError
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
"""
_TOLERANCE = 1e-9


class BudgetExceeded(LegionError):
    """A release would push the windowed ε (or δ) over the budget. Nothing was debited or released."""


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
    """

    def __init__(self, path: str | Path, *, budget_epsilon: float, budget_delta: float | None = None,
                 window_days: float = 30.0, clock: Callable[[], float] = time.time):
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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as connection:
            connection.executescript(_SCHEMA)

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
                self._refuse_if_over(self._spent(connection), epsilon, delta)
                cursor = connection.execute(
                    "INSERT INTO spends (at, scope, epsilon, delta, what) VALUES (?, ?, ?, ?, ?)",
                    (self._clock(), scope, float(epsilon), float(delta), what))
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            return int(cursor.lastrowid)
        finally:
            connection.close()

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


def open_ledger(config: Config) -> Ledger:
    """The ledger configured in ``[ledger]`` (:data:`LEDGER_KEYS`)."""
    section = config.section("ledger")
    return Ledger(config.resolve_path(section["path"]), budget_epsilon=section["epsilon"],
                  budget_delta=section["delta"], window_days=parse_duration(section["window"]) / 86400.0)
