"""A MISP REST API test double, kept for fast unit tests of error paths a real MISP cannot produce on demand
(a malformed event in a restSearch answer). Everything else is tested against a real MISP 2.5.1 (tests/misp/).

It is a small werkzeug app that answers only the endpoints legion-misp uses, with response shapes taken from MISP's
documented API (https://www.misp-project.org/openapi/) and PyMISP's expectations:

- ``GET /servers/getVersion`` → ``{"version": ..., "pymisp_recommended_version": ...}``
- ``GET /users/view/me`` → ``{"User": {...}, "Role": {...}, "UserSetting": {}, "Organisation": {...}}``
- ``GET /attributes/describeTypes.json`` → ``{"result": <PyMISP's bundled describeTypes>}``
- ``POST /events/restSearch`` → ``{"response": [{"Event": {...}}, ...]}`` with ``timestamp``, ``tags``,
  ``published``, ``page``, ``limit``
- ``GET /events/view/<uuid>`` → ``{"Event": {...}}`` or 404 ``{"name": "Invalid event.", ...}``
- ``POST /events/add``, ``POST /events/edit/<uuid>`` → ``{"Event": {...}}``
- ``POST /events/delete/<uuid>`` → ``{"saved": true, "success": true, ...}``
- ``POST /sightings/add/<attribute uuid>`` → ``{"Sighting": {...}}``

A wrong or missing ``Authorization`` key gets MISP's 403 ``{"name": "Authentication failed. ...", ...}``.
"""

from __future__ import annotations

import copy
import json
import threading
from importlib import resources
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

AUTH_FAILED = ("Authentication failed. Please make sure you pass the API key of an API enabled user along in the "
               "Authorization header.")


class MispDouble:
    def __init__(self, api_key: str):
        self.api_key = api_key
        self.events: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    # ---- HTTP plumbing --------------------------------------------------------------------------------------

    def __call__(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        self.requests.append((request.method, request.path))
        if request.headers.get("Authorization") != self.api_key:
            return _json({"name": AUTH_FAILED, "message": AUTH_FAILED, "url": request.path}, 403)
        path = request.path.rstrip("/")
        with self.lock:
            for prefix, handler in self._routes():
                if path == prefix or path.startswith(prefix + "/"):
                    return handler(request, path[len(prefix) + 1:])
        return _json({"name": "Not Found", "message": "Not Found", "url": request.path}, 404)

    def _routes(self) -> list[tuple[str, Any]]:
        return [("/servers/getVersion", self.version), ("/servers/getPyMISPVersion.json", self.pymisp_version),
                ("/users/view/me", self.me), ("/attributes/describeTypes.json", self.describe_types),
                ("/events/restSearch", self.rest_search), ("/events/view", self.view),
                ("/events/add", self.add), ("/events/edit", self.edit), ("/events/delete", self.delete),
                ("/sightings/add", self.add_sighting)]

    # ---- endpoints ------------------------------------------------------------------------------------------

    def version(self, request: Request, rest: str) -> Response:
        return _json({"version": "2.5.1", "pymisp_recommended_version": "2.5.34.4", "perm_sync": True,
                      "perm_sighting": True, "perm_galaxy_editor": False, "request_encoding": ["gzip"]})

    def pymisp_version(self, request: Request, rest: str) -> Response:
        return _json({"version": "2.5.34.4"})

    def me(self, request: Request, rest: str) -> Response:
        return _json({"User": {"id": "1", "email": "admin@admin.test", "org_id": "1", "role_id": "1"},
                      "Role": {"id": "1", "name": "admin", "perm_add": True, "perm_sync": True,
                               "perm_site_admin": True},
                      "UserSetting": {}, "Organisation": {"id": "1", "name": "ORGNAME"}})

    def describe_types(self, request: Request, rest: str) -> Response:
        data = resources.files("pymisp").joinpath("data/describeTypes.json").read_text(encoding="utf-8")
        return Response(data, status=200, content_type="application/json")

    def rest_search(self, request: Request, rest: str) -> Response:
        query = request.get_json(force=True, silent=True) or {}
        events = [e for e in self.events.values() if _matches(e, query)]
        events.sort(key=lambda e: (int(e.get("timestamp", 0)), e["uuid"]))
        limit, page = int(query.get("limit") or 0), int(query.get("page") or 1)
        if limit:
            events = events[(page - 1) * limit: page * limit]
        return _json({"response": [{"Event": copy.deepcopy(e)} for e in events]})

    def view(self, request: Request, rest: str) -> Response:
        event = self.events.get(rest)
        if event is None:
            return _json({"name": "Invalid event.", "message": "Invalid event.", "url": request.path}, 404)
        return _json({"Event": copy.deepcopy(event)})

    def add(self, request: Request, rest: str) -> Response:
        event = _event_from(request)
        if event["uuid"] in self.events:
            return _json({"name": "Event already exists.", "message": "Event already exists.",
                          "url": request.path, "errors": "An event with this uuid already exists."}, 403)
        self.events[event["uuid"]] = event
        return _json({"Event": copy.deepcopy(event)})

    def edit(self, request: Request, rest: str) -> Response:
        if rest not in self.events:
            return _json({"name": "Invalid event", "message": "Invalid event", "url": request.path}, 404)
        event = _event_from(request)
        self.events[rest] = event
        return _json({"Event": copy.deepcopy(event)})

    def delete(self, request: Request, rest: str) -> Response:
        if self.events.pop(rest, None) is None:
            return _json({"name": "Invalid event", "message": "Invalid event", "url": request.path}, 404)
        return _json({"saved": True, "success": True, "name": "Event deleted.", "message": "Event deleted.",
                      "url": request.path})

    def add_sighting(self, request: Request, rest: str) -> Response:
        sighting = request.get_json(force=True, silent=True) or {}
        for event in self.events.values():
            for attribute in _attributes(event):
                if attribute.get("uuid") == rest:
                    attribute.setdefault("Sighting", []).append(sighting)
                    return _json({"Sighting": sighting})
        return _json({"name": "Invalid attribute.", "message": "Invalid attribute.", "url": request.path}, 404)


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json")


def _event_from(request: Request) -> dict[str, Any]:
    body = request.get_json(force=True, silent=True) or {}
    return copy.deepcopy(body.get("Event", body))


def _attributes(event: dict[str, Any]) -> list[dict[str, Any]]:
    return [*event.get("Attribute", []), *(a for o in event.get("Object", []) for a in o.get("Attribute", []))]


def _matches(event: dict[str, Any], query: dict[str, Any]) -> bool:
    if query.get("timestamp") is not None and int(event.get("timestamp", 0)) < int(query["timestamp"]):
        return False
    if query.get("uuid") and event.get("uuid") not in query["uuid"]:
        return False
    if query.get("tags"):
        names = {t.get("name") for t in event.get("Tag", [])}
        wanted = query["tags"]["AND"] if isinstance(query["tags"], dict) else query["tags"]
        if not set(wanted) <= names:
            return False
    if query.get("published") is not None and bool(event.get("published")) != bool(query["published"]):
        return False
    return True


class RunningDouble:
    """The double served on 127.0.0.1 (ephemeral port) in a thread; ``stop()`` shuts it down."""

    def __init__(self, api_key: str):
        self.app = MispDouble(api_key)
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
