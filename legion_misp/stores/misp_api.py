"""A MISP instance through its REST API (PyMISP), paginated, TLS verification on by default.

Uses ``POST /events/restSearch`` (``timestamp``, ``tags``, ``published``, ``page``, ``limit``), ``GET
/events/view/<uuid>``, ``POST /events/add``, ``POST /events/edit/<uuid>``, ``POST /sightings/add/<attribute uuid>``.
PyMISP reports HTTP 4xx as ``{"errors": (status, body)}`` instead of raising; every such answer becomes a
:class:`~legion_misp.errors.StoreError` naming the URL and the event. The API key never appears in errors or logs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from ..errors import StoreError
from ..secrets import Secret
from .base import ErrorHandler, EventStore, UpsertResult, decide_upsert
from .events import check_event, matches, unwrap_event

log = logging.getLogger(__name__)


class MispApiStore(EventStore):
    """Read and write events on a MISP instance.

    Parameters
    ----------
    url : base URL of the MISP instance (https://misp.example).
    api_key : a :class:`~legion_misp.secrets.Secret` (``env:``/``file:``) holding the automation key.
    verify_tls : verify the server certificate (default True). ``ca_bundle`` overrides it with a CA file.
    timeout : seconds per request.
    page_size : events per restSearch page.
    """

    def __init__(self, url: str, api_key: Secret, *, verify_tls: bool = True, ca_bundle: str | None = None,
                 timeout: float = 30.0, page_size: int = 100):
        self.url = url.rstrip("/")
        self.page_size = page_size
        if not verify_tls and not ca_bundle:
            log.warning("TLS certificate verification is OFF for %s: use only in a lab", self.url)
        self._misp = _connect(self.url, api_key, ca_bundle or verify_tls, timeout)

    def __repr__(self) -> str:
        return f"MispApiStore({self.url!r})"

    def query(self, *, since: int | None = None, tags: list[str] | None = None, published: bool | None = None,
              on_error: ErrorHandler | None = None) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            batch = self._search_page(page, since, tags, published)
            for document in batch:
                event = self._unwrap(document, on_error)
                if event is not None and matches(event, since=since, tags=tags, published=published):
                    yield event
            if len(batch) < self.page_size:
                return
            page += 1

    def _search_page(self, page: int, since: int | None, tags: list[str] | None,
                     published: bool | None) -> list[Any]:
        kwargs: dict[str, Any] = {"controller": "events", "page": page, "limit": self.page_size,
                                  "include_sightings": True, "pythonify": False}
        if since is not None:
            kwargs["timestamp"] = since
        if tags:
            kwargs["tags"] = tags
        if published is not None:
            kwargs["published"] = published
        answer = self._call("search", f"{self.url}/events/restSearch", **kwargs)
        if not isinstance(answer, list):
            raise StoreError("unexpected restSearch answer (not a list of events)",
                             location=f"{self.url}/events/restSearch")
        return answer

    def _unwrap(self, document: Any, on_error: ErrorHandler | None) -> dict[str, Any] | None:
        try:
            return unwrap_event(document, location=f"{self.url}/events/restSearch")
        except StoreError as exc:
            if on_error is None:
                raise
            on_error(exc)
            return None

    def get(self, event_uuid: str) -> dict[str, Any] | None:
        location = f"{self.url}/events/view/{event_uuid}"
        answer = self._call("get_event", location, event_uuid, pythonify=False, allow_not_found=True)
        return None if answer is None else unwrap_event(answer, location=location)

    def upsert(self, event: dict[str, Any], *, force: bool = False) -> UpsertResult:
        check_event(event, location=self.url)
        result = decide_upsert(self.get(event["uuid"]), event, force)
        if result is UpsertResult.CREATED:
            self._call("add_event", f"{self.url}/events/add", {"Event": event}, pythonify=False,
                       event_uuid=event["uuid"])
        elif result is UpsertResult.UPDATED:
            self._call("update_event", f"{self.url}/events/edit/{event['uuid']}", {"Event": event},
                       event_id=event["uuid"], pythonify=False, event_uuid=event["uuid"])
        return result

    def delete(self, event_uuid: str) -> bool:
        answer = self._call("delete_event", f"{self.url}/events/delete/{event_uuid}", event_uuid,
                            allow_not_found=True, event_uuid=event_uuid)
        return answer is not None

    def add_sighting(self, attribute_uuid: str, sighting: dict[str, Any], *,
                     event_uuid: str | None = None) -> None:
        body = {k: v for k, v in sighting.items() if k in ("type", "date_sighting", "source", "uuid")}
        self._call("add_sighting", f"{self.url}/sightings/add/{attribute_uuid}", body, attribute=attribute_uuid,
                   event_uuid=event_uuid)

    def _call(self, method: str, location: str, *args: Any, allow_not_found: bool = False,
              event_uuid: str | None = None, **kwargs: Any) -> Any:
        from pymisp.exceptions import PyMISPError

        try:
            answer = getattr(self._misp, method)(*args, **kwargs)
        except PyMISPError as exc:
            raise StoreError(f"MISP request failed: {_first_line(exc)}", location=location,
                             event_uuid=event_uuid) from exc
        except OSError as exc:
            raise StoreError(f"MISP unreachable: {type(exc).__name__}", location=location,
                             event_uuid=event_uuid) from exc
        if isinstance(answer, dict) and "errors" in answer:
            status = _status_of(answer["errors"])
            if allow_not_found and status == 404:
                return None
            raise StoreError(f"MISP answered HTTP {status}: {_error_text(answer['errors'])}", location=location,
                             event_uuid=event_uuid)
        return answer


def _connect(url: str, api_key: Secret, ssl: bool | str, timeout: float) -> Any:
    from pymisp import PyMISP  # ~0.2 s to import: only when a MISP store is opened
    from pymisp.exceptions import PyMISPError

    key = api_key.reveal()
    try:
        return PyMISP(url, key, ssl=ssl, timeout=timeout, tool="legion-misp")
    except PyMISPError as exc:
        text = _first_line(exc).replace(key, "***")
        hint = " (check store.api_key: MISP rejected it)" if "403" in text or "uthentication" in text else ""
        raise StoreError(f"cannot connect to MISP: {text}{hint}", location=url) from None


def _status_of(errors: Any) -> int | None:
    if isinstance(errors, (tuple, list)) and errors and isinstance(errors[0], int):
        return errors[0]
    return None


def _error_text(errors: Any) -> str:
    body = errors[1] if isinstance(errors, (tuple, list)) and len(errors) > 1 else errors
    if isinstance(body, dict):
        return str(body.get("message") or body.get("name") or body.get("errors") or body)[:300]
    return str(body)[:300]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
