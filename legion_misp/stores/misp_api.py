"""A MISP instance through its REST API (PyMISP's session), paginated, TLS verification on by default.

Tested against a real MISP 2.5.1 (``tests/misp/``). Endpoints: ``POST /events/restSearch`` (``timestamp``,
``tags``, ``uuid``, ``metadata``, ``page``, ``limit``), ``POST /events/add/metadata:1`` and
``POST /events/edit/<uuid>/metadata:1`` (MISP answers with the event's metadata, not the whole event),
``POST /tags/removeTagFromObject``, ``POST /sightings/add/<attribute uuid>``, ``POST /events/delete/<uuid>``,
``POST /attributes/restSearch`` (:meth:`MispApiStore.search_attributes`: one page of attributes, for the host-name
learner of :mod:`legion_misp.privacy.hostname_store`).

What MISP does that a naive client trips over, and what this store does about it:

- An event's existence is probed with ``restSearch`` by uuid (an empty list when absent), in batches for
  :meth:`MispApiStore.upsert_many`, never with ``GET /events/view`` (a 404 that PyMISP logs as an error).
- Two adds in flight race inside MISP on new tags/organisations and on correlations of a shared value; inside
  :meth:`MispApiStore.batch` new events are added by background writers that never overlap such adds
  (:mod:`~legion_misp.stores.misp_adds`).
- MISP answers with more than it was given and rewrites some values; "unchanged" is decided on
  :func:`~legion_misp.stores.misp_compare.misp_view`, not on the raw JSON.
- MISP refuses an edit whose event timestamp is not newer than its copy (HTTP 403 "Could not edit Event"), silently
  skips attributes and objects whose timestamp is not newer, and never removes tags or attributes missing from an
  edit. An update therefore bumps the timestamps of what changed, soft-deletes attributes and objects the incoming
  event no longer has, and removes tags it no longer carries.
- ``restSearch`` with ``published`` pages before it filters (short and empty pages mid-way), so that filter is
  applied here after reading, like the other stores do.
- MISP drops an object without ``template_uuid`` ("Object dropped due to validation") and keeps the event.
- Who may edit (``ACLComponent::canModifyEvent``): a site admin any event; an org admin (``perm_modify_org``) events
  whose creator organisation (``orgc``) is the key's organisation; a user with ``perm_modify`` the events they
  created. A sync user (``perm_sync``) may add events of any creator organisation. When the key may not edit an event
  that changed, the store says so for that event (:class:`MispPermissionError`) without sending the edit.

PyMISP is used for its session (auth header, TLS, proxies); its request helpers are not, because they log every
HTTP error at ERROR level. The API key never appears in errors or logs.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import StoreError
from ..secrets import Secret
from .base import ErrorHandler, EventStore, UpsertResult
from .events import check_event, event_tag_names, event_timestamp, iter_attributes, matches, unwrap_event
from .misp_adds import AddQueue, CorrelationSettings
from .misp_compare import misp_view, same_content

log = logging.getLogger(__name__)


class MispPermissionError(StoreError):
    """The API key's user may not create or edit this event in MISP (names the rule and what to do)."""


class MispApiStore(EventStore):
    """Read and write events on a MISP instance.

    Parameters
    ----------
    url : base URL of the MISP instance (https://misp.example).
    api_key : a :class:`~legion_misp.secrets.Secret` (``env:``/``file:``) holding the automation key.
    verify_tls : verify the server certificate (default True). ``ca_bundle`` overrides it with a CA file.
    timeout : seconds per request.
    page_size : events per restSearch page (reads, and the existence probe of :meth:`upsert_many`).
    parallel_adds : new events added at once inside :meth:`batch` (1: one at a time).
    """

    def __init__(self, url: str, api_key: Secret, *, verify_tls: bool = True, ca_bundle: str | None = None,
                 timeout: float = 30.0, page_size: int = 100, parallel_adds: int = 2):
        self.url = url.rstrip("/")
        self.page_size = page_size
        if not verify_tls and not ca_bundle and self.url.startswith("https:"):
            log.warning("TLS certificate verification is OFF for %s: use only in a lab", self.url)
        self._misp = _connect(self.url, api_key, ca_bundle or verify_tls, timeout)
        self._user = _user_rights(self._misp)
        self.user_id = self._user.user_id  # whose view of MISP this store reads (MISP's ACL)
        self.parallel_adds = parallel_adds
        self._known: set[str] | None = None  # inside batch(): uuids of every event MISP holds
        self._adds: AddQueue | None = None  # inside batch(): the background writers adding new events
        self.server_time: float | None = None  # MISP's clock (its HTTP Date header) at the last answer
        self.requests = 0  # HTTP requests sent (benchmarks and tests of the incremental learner)

    def __repr__(self) -> str:
        return f"MispApiStore({self.url!r})"

    # ---- reads -----------------------------------------------------------------------------------------------

    def query(self, *, since: int | None = None, tags: list[str] | None = None, published: bool | None = None,
              on_error: ErrorHandler | None = None) -> Iterator[dict[str, Any]]:
        filters: dict[str, Any] = {}
        if since is not None:
            filters["timestamp"] = since
        if tags:
            filters["tags"] = {"AND": list(tags)}
        # ``published`` is filtered here, not by MISP: 2.5.1 applies it after paging (pages of a published=0
        # search come back short or empty while later pages still hold matches), which ends a paged read early.
        for document in self._search_pages(filters, include_sightings=True):
            event = self._unwrap(document, on_error)
            if event is not None and matches(event, since=since, tags=tags, published=published):
                yield event

    def _search_pages(self, filters: dict[str, Any], *, include_sightings: bool) -> Iterator[Any]:
        page = 1
        while True:
            body = {**filters, "page": page, "limit": self.page_size, "returnFormat": "json"}
            if include_sightings:
                body["includeSightings"] = 1
            batch = self._request("POST", "events/restSearch", body)
            batch = batch.get("response") if isinstance(batch, dict) else batch
            if not isinstance(batch, list):
                raise StoreError("unexpected restSearch answer (not a list of events)",
                                 location=f"{self.url}/events/restSearch")
            yield from batch
            if len(batch) < self.page_size:
                return
            page += 1

    def _unwrap(self, document: Any, on_error: ErrorHandler | None) -> dict[str, Any] | None:
        try:
            return unwrap_event(document, location=f"{self.url}/events/restSearch")
        except StoreError as exc:
            if on_error is None:
                raise
            on_error(exc)
            return None

    def get(self, event_uuid: str) -> dict[str, Any] | None:
        return self._existing([event_uuid]).get(event_uuid)

    def search_attributes(self, filters: dict[str, Any], *, page: int, limit: int) -> list[dict[str, Any]]:
        """One page of ``POST /attributes/restSearch`` (flat attributes, each with a small ``Event`` header).

        ``filters`` are MISP's (``type``, ``value`` with ``%`` wildcards, ``timestamp``, ``order``...). MISP applies
        its ``timestamp`` filter to the attribute's own timestamp, and keeps the timestamp an added or synchronised
        event carries (an event imported today can hold last year's timestamps). Deleted attributes are not returned.
        """
        body = {**filters, "page": page, "limit": limit, "returnFormat": "json"}
        answer = self._request("POST", "attributes/restSearch", body)
        rows = answer.get("response", answer) if isinstance(answer, dict) else answer
        rows = rows.get("Attribute", []) if isinstance(rows, dict) else rows
        if not isinstance(rows, list):
            raise StoreError("unexpected attribute restSearch answer (not a list of attributes)",
                             location=f"{self.url}/attributes/restSearch")
        return [row for row in rows if isinstance(row, dict)]

    def _existing(self, uuids: list[str]) -> dict[str, dict[str, Any]]:
        """MISP's copies of these events (absent ones are simply missing): one restSearch per page of uuids."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(uuids), self.page_size):
            chunk = uuids[start:start + self.page_size]
            for document in self._search_pages({"uuid": chunk, "deleted": [0]}, include_sightings=False):
                event = unwrap_event(document, location=f"{self.url}/events/restSearch")
                found[event["uuid"]] = event
        return found

    # ---- writes ----------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def batch(self) -> Iterator[MispApiStore]:
        """Many single upserts (``legion sync pull``). The uuids MISP holds are listed once (``restSearch`` with
        ``metadata``, 1,000 a page), so a new event needs no existence probe; and new events are added by
        ``parallel_adds`` background writers while the caller converts the next one, with the rules of
        :mod:`~legion_misp.stores.misp_adds` (an event that would create a tag or organisation, or that shares a
        value with an add in flight, waits: MISP races on those). ``upsert`` answers ``created`` for such an event
        at once; an add that then fails makes the batch raise :class:`StoreError` when it closes (the pull then
        keeps those groups for its next run). An event another client creates meanwhile makes its add fail the
        same way (MISP refuses a second copy of a uuid); the next run compares and updates it."""
        self._known = self._all_uuids()
        correlation = self._correlation_settings()
        self._adds = AddQueue(lambda event: self._write(event, None, False), writers=self.parallel_adds,
                              location=self.url, correlation=correlation,
                              over_correlating=self._over_correlating if self.parallel_adds > 1 else None)
        try:
            yield self
        finally:
            failed = self._adds.close()
            self._known, self._adds = None, None
        if failed:
            raise StoreError(f"{len(failed)} new event(s) were not added to MISP (the first: {failed[0]})",
                             location=self.url)

    def _correlation_settings(self) -> CorrelationSettings:
        """MISP's correlation settings (``servers/getSetting``, a site admin's right); the cautious defaults of
        :class:`CorrelationSettings` when they cannot be read."""
        if self.parallel_adds <= 1:
            return CorrelationSettings()
        values: dict[str, Any] = {}
        for name in ("MISP.completely_disable_correlation", "MISP.correlation_limit",
                     "MISP.enable_advanced_correlations"):
            try:
                answer = self._request("GET", f"servers/getSetting/{name}", None)
            except StoreError:
                return CorrelationSettings()
            values[name] = answer.get("value") if isinstance(answer, dict) else None
        try:
            limit = int(values["MISP.correlation_limit"] or 20)  # OverCorrelatingValue::getLimit(): "?: 20"
        except (TypeError, ValueError):
            limit = None
        return CorrelationSettings(disabled=_flag(values["MISP.completely_disable_correlation"]), limit=limit,
                                   advanced=_flag(values["MISP.enable_advanced_correlations"]))

    def _over_correlating(self) -> set[str] | None:
        """The values MISP has blocked as over-correlating (``GET /correlations/overCorrelations``, a site admin's
        right; the first 1,000), case-folded; None when they cannot be read."""
        try:
            answer = self._request("GET", "correlations/overCorrelations/limit:1000", None)
        except StoreError:
            return None
        rows = answer.get("response", answer) if isinstance(answer, dict) else answer
        if not isinstance(rows, list):
            return None
        values = set()
        for row in rows:
            entry = row.get("OverCorrelatingValue", row) if isinstance(row, dict) else None
            if isinstance(entry, dict) and isinstance(entry.get("value"), str):
                values.add(entry["value"].casefold())
        return values

    def _all_uuids(self) -> set[str]:
        uuids: set[str] = set()
        page = 1
        while True:
            answer = self._request("POST", "events/restSearch",
                                   {"metadata": 1, "page": page, "limit": 1000, "returnFormat": "json"})
            rows = answer.get("response") if isinstance(answer, dict) else answer
            if not isinstance(rows, list):
                raise StoreError("unexpected restSearch answer (not a list of events)",
                                 location=f"{self.url}/events/restSearch")
            uuids.update(str((row.get("Event") or row).get("uuid")) for row in rows if isinstance(row, dict))
            if len(rows) < 1000:
                return uuids
            page += 1

    def upsert(self, event: dict[str, Any], *, force: bool = False) -> UpsertResult:
        check_event(event, location=self.url)
        event_uuid = event["uuid"]
        known, adds = self._known, self._adds
        if known is None or adds is None:
            return self._write(event, self.get(event_uuid), force)
        adds.wait_for(event_uuid)  # the same uuid again in this batch: its add must land before we compare
        if event_uuid in known:
            return self._write(event, self.get(event_uuid), force)
        self._check_may_create(event)
        known.add(event_uuid)
        adds.submit(event)
        return UpsertResult.CREATED

    def upsert_many(self, events: Iterable[dict[str, Any]], *, on_error: ErrorHandler | None = None
                    ) -> dict[UpsertResult, int]:
        """Upsert a stream of events, probing MISP for existing copies once per ``page_size`` events."""
        counts = dict.fromkeys(UpsertResult, 0)
        batch: list[dict[str, Any]] = []
        for event in events:
            batch.append(event)
            if len(batch) >= self.page_size:
                self._upsert_batch(batch, counts, on_error)
                batch = []
        if batch:
            self._upsert_batch(batch, counts, on_error)
        return counts

    def _upsert_batch(self, batch: list[dict[str, Any]], counts: dict[UpsertResult, int],
                      on_error: ErrorHandler | None) -> None:
        valid: list[dict[str, Any]] = []
        for event in batch:
            try:
                check_event(event, location=self.url)
                valid.append(event)
            except StoreError as exc:
                _handle(exc, on_error)
        existing = self._existing(list(dict.fromkeys(e["uuid"] for e in valid)))
        written: set[str] = set()
        for event in valid:
            try:
                # a uuid seen twice in one batch: the second copy is compared with what the first one wrote
                prior = self.get(event["uuid"]) if event["uuid"] in written else existing.get(event["uuid"])
                written.add(event["uuid"])
                counts[self._write(event, prior, False)] += 1
            except StoreError as exc:
                _handle(exc, on_error)

    def _write(self, event: dict[str, Any], existing: dict[str, Any] | None, force: bool) -> UpsertResult:
        event_uuid = event["uuid"]
        if existing is None:
            self._check_may_create(event)
            self._request("POST", "events/add/metadata:1", {"Event": event}, event_uuid=event_uuid)
            return UpsertResult.CREATED
        if same_content(existing, event):
            return UpsertResult.UNCHANGED
        if not force and event_timestamp(existing) > event_timestamp(event):
            return UpsertResult.STALE
        self._check_may_edit(existing)
        self._request("POST", f"events/edit/{event_uuid}/metadata:1", {"Event": edit_payload(existing, event)},
                      event_uuid=event_uuid)
        self._remove_dropped_tags(existing, event)
        return UpsertResult.UPDATED

    def _remove_dropped_tags(self, existing: dict[str, Any], incoming: dict[str, Any]) -> None:
        pairs = [(existing["uuid"], set(event_tag_names(existing)) - set(event_tag_names(incoming)))]
        incoming_attributes = {a.get("uuid"): a for a in iter_attributes(incoming)}
        for attribute in iter_attributes(existing):
            kept = incoming_attributes.get(attribute.get("uuid"))
            if kept is not None:
                pairs.append((attribute["uuid"], set(event_tag_names(attribute)) - set(event_tag_names(kept))))
        for item_uuid, names in pairs:
            for name in sorted(names):
                self._request("POST", "tags/removeTagFromObject", {"uuid": item_uuid, "tag": name},
                              event_uuid=incoming["uuid"])

    def _check_may_create(self, event: dict[str, Any]) -> None:
        orgc = event.get("Orgc") if isinstance(event.get("Orgc"), dict) else {}
        if self._user.may_create_for(orgc):
            return
        raise MispPermissionError(
            f"not created: MISP lets only a site admin or a sync user create an event of another creator "
            f"organisation ({orgc.get('name') or orgc.get('uuid')}), and this API key belongs to "
            f"{self._user.describe()}; use a sync user's key (role 'Sync user')",
            location=f"{self.url}/events/add", event_uuid=event["uuid"])

    def _check_may_edit(self, existing: dict[str, Any]) -> None:
        if self._user.may_edit(existing):
            return
        orgc = existing.get("Orgc") or {}
        raise MispPermissionError(
            f"changed but not updated: MISP lets only a site admin, an org admin of the creator organisation "
            f"({orgc.get('name', '?')}) or the user who created it edit this event, and this API key belongs to "
            f"{self._user.describe()}", location=f"{self.url}/events/edit/{existing['uuid']}",
            event_uuid=existing["uuid"])

    def delete(self, event_uuid: str) -> bool:
        if self.get(event_uuid) is None:
            return False
        self._request("POST", f"events/delete/{event_uuid}", {}, event_uuid=event_uuid)
        return True

    def add_sighting(self, attribute_uuid: str, sighting: dict[str, Any], *,
                     event_uuid: str | None = None) -> None:
        body = {k: v for k, v in sighting.items() if k in ("type", "date_sighting", "source", "uuid")}
        self._request("POST", f"sightings/add/{attribute_uuid}", body, event_uuid=event_uuid)

    # ---- HTTP ------------------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: Any, *, event_uuid: str | None = None) -> Any:
        location = f"{self.url}/{path}"
        self.requests += 1
        try:
            response = self._misp._prepare_request(method, path, data=body)
        except OSError as exc:
            raise StoreError(f"MISP unreachable: {type(exc).__name__}", location=location,
                             event_uuid=event_uuid) from exc
        self.server_time = _http_date(response.headers.get("Date")) or self.server_time
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code >= 400:
            text = _error_text(answer if answer is not None else response.text)
            error = MispPermissionError if response.status_code in (403, 405) and event_uuid else StoreError
            raise error(f"MISP answered HTTP {response.status_code}: {text}", location=location,
                        event_uuid=event_uuid)
        if answer is None:
            raise StoreError(f"MISP answered HTTP {response.status_code} without JSON", location=location,
                             event_uuid=event_uuid)
        return answer


class _UserRights:
    """The API key's user as MISP's ACL sees it (``/users/view/me``, read once at connect)."""

    def __init__(self, user: dict[str, Any], role: dict[str, Any], organisation: dict[str, Any]):
        self.user_id = str(user.get("id", ""))
        self.org_id = str(user.get("org_id", ""))
        self.org_uuid = str(organisation.get("uuid", ""))
        self.org_name = str(organisation.get("name", ""))
        self.role_name = str(role.get("name", "?"))
        self.site_admin = _flag(role.get("perm_site_admin"))
        self.sync = _flag(role.get("perm_sync"))
        self.modify_org = _flag(role.get("perm_modify_org"))
        self.modify = _flag(role.get("perm_modify"))

    def describe(self) -> str:
        return f"a user of {self.org_name or 'organisation ' + self.org_id} with role '{self.role_name}'"

    def may_create_for(self, orgc: dict[str, Any]) -> bool:
        if self.site_admin or self.sync or not orgc:
            return True
        return orgc.get("uuid") == self.org_uuid or (not orgc.get("uuid") and orgc.get("name") == self.org_name)

    def may_edit(self, existing: dict[str, Any]) -> bool:
        if self.site_admin or self.sync:  # a sync user passes the controller check over REST
            return True
        if str(existing.get("orgc_id", self.org_id)) != self.org_id:
            return False  # others may edit only their own organisation's events (or those they created, same org)
        return self.modify_org or self.modify


def edit_payload(existing: dict[str, Any], incoming: dict[str, Any]) -> dict[str, Any]:
    """The ``/events/edit`` body that makes MISP's copy say what ``incoming`` says.

    MISP applies an edit only if its event timestamp is newer, and each attribute or object only if its own
    timestamp is newer; what changed gets ``max(own, MISP's + 1)``. Attributes and objects that MISP has and the
    incoming event does not are sent back with ``deleted: true`` (MISP's soft delete).
    """
    payload = copy.deepcopy(incoming)
    payload["timestamp"] = str(max(event_timestamp(incoming), event_timestamp(existing) + 1))
    old_view, new_view = misp_view(existing, like=incoming), misp_view(incoming)
    old_attributes = {a.get("uuid"): a for a in existing.get("Attribute", [])}
    for attribute in payload.get("Attribute", []):
        if old_view["Attribute"].get(attribute.get("uuid")) != new_view["Attribute"].get(attribute.get("uuid")):
            _bump(attribute, old_attributes.get(attribute.get("uuid")))
    old_objects = {o.get("uuid"): o for o in existing.get("Object", [])}
    for obj in payload.get("Object", []):
        before = old_objects.get(obj.get("uuid"))
        if old_view["Object"].get(obj.get("uuid")) != new_view["Object"].get(obj.get("uuid")):
            _bump(obj, before)
            inner = {a.get("uuid"): a for a in (before or {}).get("Attribute", [])}
            for attribute in obj.get("Attribute", []):
                _bump(attribute, inner.get(attribute.get("uuid")))
            kept = {a.get("uuid") for a in obj.get("Attribute", [])}
            obj.setdefault("Attribute", []).extend(
                _tombstone(a) for a in inner.values() if a.get("uuid") not in kept)
    kept_attributes = {a.get("uuid") for a in payload.get("Attribute", [])}
    payload.setdefault("Attribute", []).extend(
        _tombstone(a) for a in existing.get("Attribute", []) if a.get("uuid") not in kept_attributes)
    kept_objects = {o.get("uuid") for o in payload.get("Object", [])}
    payload.setdefault("Object", []).extend(
        _tombstone(o) for o in existing.get("Object", []) if o.get("uuid") not in kept_objects)
    return payload


def _bump(item: dict[str, Any], before: dict[str, Any] | None) -> None:
    if before is not None:
        item["timestamp"] = str(max(event_timestamp(item), event_timestamp(before) + 1))


def _tombstone(item: dict[str, Any]) -> dict[str, Any]:
    dead = {k: item[k] for k in ("uuid", "type", "category", "value", "object_relation", "name", "meta-category",
                                 "template_uuid") if k in item}
    dead.update(deleted=True, timestamp=str(event_timestamp(item) + 1))
    return dead


def _handle(exc: StoreError, on_error: ErrorHandler | None) -> None:
    if on_error is None:
        raise exc
    on_error(exc)


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


def _connect(url: str, api_key: Secret, ssl: bool | str, timeout: float) -> Any:
    from pymisp import PyMISP  # ~0.2 s to import: only when a MISP store is opened
    from pymisp.exceptions import PyMISPError

    key = api_key.reveal()
    pymisp_log = logging.getLogger("pymisp")
    level = pymisp_log.level
    pymisp_log.setLevel(logging.CRITICAL)  # PyMISP logs a wrong key as an ERROR with the server's answer
    try:
        return PyMISP(url, key, ssl=ssl, timeout=timeout, tool="legion-misp")
    except PyMISPError as exc:
        text = _first_line(exc).replace(key, "***")
        hint = " (check store.api_key: MISP rejected it)" if "403" in text or "uthentication" in text else ""
        raise StoreError(f"cannot connect to MISP: {text}{hint}", location=url) from None
    except OSError as exc:
        raise StoreError(f"MISP unreachable: {type(exc).__name__}", location=url) from None
    finally:
        pymisp_log.setLevel(level)


def _user_rights(misp: Any) -> _UserRights:
    response = misp._prepare_request("GET", "users/view/me")
    try:
        me = response.json()
    except ValueError:
        me = {}
    if response.status_code >= 400 or not isinstance(me, dict):
        raise StoreError(f"cannot read the API key's user: HTTP {response.status_code}",
                         location=f"{misp.root_url}users/view/me")
    return _UserRights(me.get("User") or {}, me.get("Role") or {}, me.get("Organisation") or {})


def _http_date(value: Any) -> float | None:
    """An HTTP ``Date`` header as epoch seconds, or None."""
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(str(value)).timestamp() if value else None
    except (TypeError, ValueError, IndexError):
        return None


def _error_text(body: Any) -> str:
    if isinstance(body, dict):
        parts = [str(body.get("message") or body.get("name") or "")]
        errors = body.get("errors")
        if errors:
            parts.append(json.dumps(errors)[:200] if not isinstance(errors, str) else errors[:200])
        return ": ".join(p for p in parts if p)[:300] or str(body)[:300]
    return str(body)[:300]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
