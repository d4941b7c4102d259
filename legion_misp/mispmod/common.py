"""Request validation and error containment shared by legion-misp's MISP modules.

A module handler must never raise into the misp-modules server, never echo its input back, and never leak a
traceback: every problem becomes ``{"error": "<short actionable message>"}`` (HTTP 200). Expansion answers always
carry ``results`` (MISP's bulk "Enrich event" aborts on a reply without it).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import LegionError

log = logging.getLogger("legion_misp.mispmod")

MAX_REQUEST_DEPTH = 40
MAX_STRING_CHARS = 1_000_000  # 1 MB of text per value: more than any e-mail body a classifier needs
MAX_ERROR_CHARS = 300

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class ModuleInputError(LegionError):
    """The request cannot be served; the message is shown to the MISP user (keep it short, no input echoed)."""


def check_shape(request: Any) -> dict[str, Any]:
    """Reject non-objects, too-deep nesting and oversized strings before any work is done."""
    if not isinstance(request, dict):
        raise ModuleInputError("the request must be a JSON object")
    stack: list[tuple[Any, int]] = [(request, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_REQUEST_DEPTH:
            raise ModuleInputError(f"the request is nested deeper than {MAX_REQUEST_DEPTH} levels")
        if isinstance(node, str) and len(node) > MAX_STRING_CHARS:
            raise ModuleInputError(f"a value is longer than {MAX_STRING_CHARS} characters")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return request


def module_config(request: dict[str, Any]) -> dict[str, str]:
    """The admin settings sent with the request (MISP sends every key, unset ones as null)."""
    config = request.get("config")
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise ModuleInputError("'config' must be an object")
    return {str(k): v for k, v in config.items() if isinstance(v, str) and v.strip()}


def existing_file(settings: dict[str, str], key: str, what: str) -> Path | None:
    """A path setting that, when given, must name an existing file."""
    value = settings.get(key)
    if value is None:
        return None
    path = Path(value).expanduser()
    if not path.is_file():
        raise ModuleInputError(f"setting '{key}' ({what}) names a file that does not exist")
    return path


def contain(module_name: str, work: Handler, *, expansion: bool = False,
            max_error_chars: int = MAX_ERROR_CHARS) -> Handler:
    """Wrap ``work`` so any failure becomes ``{"error": ...}``; expansion answers always carry ``results``."""

    def dict_handler(request: Any = None) -> dict[str, Any]:
        try:
            answer = work(check_shape(request))
        except ModuleInputError as exc:
            answer = {"error": _short(f"{module_name}: {exc}", MAX_ERROR_CHARS)}
        except Exception:  # contained: a module must never crash the server or show a traceback
            log.exception("%s failed", module_name)
            answer = {"error": f"{module_name}: internal error (details are in the misp-modules server log)"}
        if isinstance(answer.get("error"), str):
            answer["error"] = _short(answer["error"], max_error_chars)
        if expansion and "results" not in answer:
            answer["results"] = {}
        return answer

    return dict_handler


def bytes_handler(dict_handler: Handler) -> Callable[..., Any]:
    """The legacy ``handler(q)`` entry point over ``dict_handler`` (q is the raw HTTP body)."""

    def handler(q: Any = False) -> Any:
        if q is False:
            return False
        try:
            request = json.loads(q)
        except (ValueError, RecursionError):
            return {"error": "the request is not valid JSON"}
        return dict_handler(request)

    return handler


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
