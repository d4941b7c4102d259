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
    """The sanitiser as a hook. Its DP noise makes every push a release: the ε ledger is debited with the
    sanitiser's ``release_cost()`` once, *before* the first event of the release is sanitised (nothing is spent
    when every event is unchanged). :meth:`fresh` starts a new release (one per collection and run: each gets
    freshly drawn noise)."""

    def __init__(self, sanitizer: Sanitizer, ledger: Ledger | None = None, *, what: str = "sync push"):
        self.sanitizer = sanitizer
        self.ledger = ledger
        self.what = what
        self.charged = False

    def fresh(self, what: str) -> SanitizerHook:
        return SanitizerHook(self.sanitizer, self.ledger, what=what)

    def __call__(self, event: dict[str, Any]) -> dict[str, Any] | None:
        if not self.charged:
            self._charge()
        shared, _report = self.sanitizer.sanitize(event)
        return shared

    def _charge(self) -> None:
        cost = self.sanitizer.release_cost()
        if cost.epsilon > 0 or cost.delta > 0:
            if self.ledger is None:
                raise SanitizerUnavailableError("the sanitiser spends privacy budget but no ledger is configured")
            self.ledger.spend(epsilon=cost.epsilon, delta=cost.delta, what=self.what, scope="sync")
        self.charged = True


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
