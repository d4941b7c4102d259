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
    """The real sanitiser as a hook. Its DP noise makes every push a release: the ε ledger is debited with the
    sanitiser's ``release_cost()`` once, *before* the first event of the release is sanitised (nothing is spent
    when every event is unchanged). :meth:`fresh` starts a new release (one per collection and run: each gets
    freshly drawn noise)."""

    def __init__(self, sanitizer: Any, ledger: Any = None, *, what: str = "sync push"):
        self.sanitizer = sanitizer
        self.ledger = ledger
        self.what = what
        self.charged = False

    def fresh(self, what: str) -> SanitizerHook:
        return SanitizerHook(self.sanitizer, self.ledger, what=what)

    def __call__(self, event: dict[str, Any]) -> dict[str, Any] | None:
        if not self.charged:
            self._charge()
        return unwrap_sanitized(self.sanitizer.sanitize(event))

    def _charge(self) -> None:
        cost_of = getattr(self.sanitizer, "release_cost", None)
        cost = cost_of() if callable(cost_of) else None
        epsilon, delta = (getattr(cost, "epsilon", 0.0), getattr(cost, "delta", 0.0)) if cost else (0.0, 0.0)
        if epsilon > 0 or delta > 0:
            if self.ledger is None:
                raise SanitizerUnavailableError("the sanitiser spends privacy budget but no ledger is configured")
            self.ledger.spend(epsilon=epsilon, delta=delta, what=self.what, scope="sync")
        self.charged = True


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
