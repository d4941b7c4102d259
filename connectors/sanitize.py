"""The sanitise hook between the local store and publishing: ``event -> event | None``.

Nothing is published unsanitised by default. :func:`resolve_sanitizer` returns, in order: the hook the caller
passed; the organisation's :class:`~legion_misp.privacy.Sanitizer` built from the configuration (with its ε
ledger); the identity function only when the caller explicitly asked for ``--no-sanitize``. Without a configuration
and without ``--no-sanitize`` it raises :class:`SanitizerUnavailableError` and nothing is pushed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from legion_misp.errors import SanitizerUnavailableError
from legion_misp.privacy import Ledger, Sanitizer, open_ledger

if TYPE_CHECKING:
    from legion_misp.config import Config

log = logging.getLogger(__name__)

SanitizeHook = Callable[[dict[str, Any]], "dict[str, Any] | None"]


class SanitizerHook:
    """The real sanitiser as a hook, with persistent noise (:mod:`legion_misp.privacy.noise_store`).

    Every datum is noised once: an event whose noised data did not change republishes the stored noisy values and
    spends nothing. Fresh noise (new or changed data) is recorded in the noise store and paid in the ledger in one
    transaction **inside the call**, before the event is returned to the publisher: a crash after that and before
    (or during) the push republishes exactly the same values on the next run, so the server never receives two
    different versions of a datum and the ledger never shows less than what left. :meth:`fresh` starts a new
    release (one per collection and run); in a dry run it draws, records and spends nothing.
    """

    def __init__(self, sanitizer: Sanitizer, ledger: Ledger | None = None, *, what: str = "sync push",
                 dry_run: bool = False):
        self.sanitizer = sanitizer
        self.ledger = ledger
        self.what = what
        self.dry_run = dry_run
        self.book = self._book()

    def _book(self) -> Any:
        from legion_misp.privacy.noise_store import DryRunBook, PersistentBook

        if self.dry_run:
            return DryRunBook(self.ledger)
        if self.ledger is None:
            cost = self.sanitizer.release_cost()
            if cost.epsilon > 0 or cost.delta > 0:
                raise SanitizerUnavailableError("the sanitiser spends privacy budget but no ledger is configured")
            return None
        return PersistentBook(self.ledger, what=self.what, scope="sync")

    def fresh(self, what: str, *, dry_run: bool = False) -> SanitizerHook:
        return SanitizerHook(self.sanitizer, self.ledger, what=what, dry_run=dry_run)

    @property
    def spent(self) -> Any:
        return getattr(self.book, "spent", None)

    def __call__(self, event: dict[str, Any]) -> dict[str, Any] | None:
        shared, _report = self.sanitizer.sanitize(event, book=self.book)
        return shared


def sanitizer_from_config(config: Config) -> SanitizerHook:
    """The organisation's sanitiser as a hook, with the configured ε ledger."""
    return SanitizerHook(Sanitizer.from_config(config), open_ledger(config))


def identity(event: dict[str, Any]) -> dict[str, Any]:
    return event


def resolve_sanitizer(config: Config | None, *, hook: SanitizeHook | None = None, no_sanitize: bool = False
                      ) -> SanitizeHook:
    if hook is not None:
        return hook
    if no_sanitize:
        log.warning("--no-sanitize: events are published exactly as stored, without the sanitiser")
        return identity
    if config is None:
        raise SanitizerUnavailableError(
            "no configuration to build the sanitiser from: refusing to publish unsanitised events. Give the "
            "organisation's legion.toml, or pass --no-sanitize if these events may be shared as they are")
    return sanitizer_from_config(config)
