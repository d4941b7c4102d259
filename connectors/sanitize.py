"""The sanitise hook between the local store and publishing: ``event -> event | None``.

Nothing is published unsanitised by default. :func:`resolve_sanitizer` returns, in order: the hook the caller
passed; the real sanitiser from :mod:`legion_misp.privacy` (imported lazily, built from the configuration); the
identity function only when the caller explicitly asked for ``--no-sanitize``. Otherwise it raises
:class:`SanitizerUnavailableError` and nothing is pushed.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from legion_misp.errors import SanitizerUnavailableError

if TYPE_CHECKING:
    from legion_misp.config import Config

log = logging.getLogger(__name__)

SanitizeHook = Callable[[dict[str, Any]], "dict[str, Any] | None"]

# Where the sanitiser may live (first found wins): module, class name.
_CANDIDATES = (("legion_misp.privacy", "Sanitizer"), ("legion_misp.privacy.sanitizer", "Sanitizer"))


def find_sanitizer_class() -> Any | None:
    for module_name, attribute in _CANDIDATES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        found = getattr(module, attribute, None)
        if found is not None:
            return found
    return None


class SanitizerHook:
    """The real sanitiser as a hook, with persistent noise (:mod:`legion_misp.privacy.noise_store`).

    Every datum is noised once: an event whose noised data did not change republishes the stored noisy values and
    spends nothing. Fresh noise (new or changed data) is recorded in the noise store and paid in the ledger in one
    transaction **inside the call**, before the event is returned to the publisher: a crash after that and before
    (or during) the push republishes exactly the same values on the next run, so the server never receives two
    different versions of a datum and the ledger never shows less than what left. :meth:`fresh` starts a new
    release (one per collection and run); in a dry run it draws, records and spends nothing.
    """

    def __init__(self, sanitizer: Any, ledger: Any = None, *, what: str = "sync push", dry_run: bool = False):
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
        return unwrap_sanitized(self.sanitizer.sanitize(event, book=self.book))


def sanitizer_from_config(config: Config) -> SanitizerHook | None:
    """The real sanitiser as a hook (with the configured ε ledger), or None when ``legion_misp.privacy`` does not
    provide one."""
    cls = find_sanitizer_class()
    if cls is None:
        return None
    from legion_misp.privacy.ledger import open_ledger

    return SanitizerHook(cls.from_config(config), open_ledger(config))


def unwrap_sanitized(result: Any) -> dict[str, Any] | None:
    """Accept the sanitiser's result shapes: ``(event_or_None, report)``, an object with ``.event``, or a dict."""
    if isinstance(result, tuple):
        result = result[0]
    if result is None:
        return None
    if isinstance(result, dict):
        return result.get("Event", result) if isinstance(result.get("Event"), dict) else result
    event = getattr(result, "event", None)
    if isinstance(event, dict):
        return event
    to_dict = getattr(result, "to_dict", None)
    if callable(to_dict):
        return unwrap_sanitized(to_dict())
    raise TypeError(f"the sanitiser returned {type(result).__name__}, not an event")


def identity(event: dict[str, Any]) -> dict[str, Any]:
    return event


def resolve_sanitizer(config: Config | None, *, hook: SanitizeHook | None = None, no_sanitize: bool = False
                      ) -> SanitizeHook:
    if hook is not None:
        return hook
    if no_sanitize:
        log.warning("--no-sanitize: events are published exactly as stored, without the sanitiser")
        return identity
    found = sanitizer_from_config(config) if config is not None else None
    if found is None:
        raise SanitizerUnavailableError(
            "no sanitiser is available (legion_misp.privacy provides none): refusing to publish unsanitised events. "
            "Install/enable the sanitiser, or pass --no-sanitize if these events may be shared as they are")
    return found
