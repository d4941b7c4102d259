"""HTTP transport for TAXII 2.1: taxii2-client underneath, with what it lacks.

taxii2-client 2.3.0 has no timeouts, no retries, hides the ``X-TAXII-Date-Added-First/Last`` headers, formats
whole-second datetimes without a fraction (OpenTAXII answers 400) and sends ``limit=0`` from ``as_pages`` (400 from
medallion and OpenTAXII). This module adds:

- :class:`RetryingSession`: a :class:`requests.Session` with default (connect, read) timeouts in seconds and bounded
  retries with exponential backoff and full jitter on connection errors, timeouts, 429 and 5xx; ``Retry-After``
  (seconds or an HTTP date) wins over the computed delay. TLS errors are not retried (they will not heal).
- :class:`TaxiiClient`: one API root + collection. TLS verification is on by default (``ca_bundle`` for a private
  CA, ``client_cert``/``client_key`` for mutual TLS), proxies come from the environment (``HTTPS_PROXY``,
  ``NO_PROXY``), credentials from ``env:``/``file:`` secrets (basic auth, or an API key sent as a bearer token).
  :meth:`TaxiiClient.get_page` is the raw GET that exposes the date-added headers; :meth:`TaxiiClient.add_objects`
  posts a pre-serialised envelope and polls the status resource.

Server quirks handled here (measured on medallion 3.0.0 and OpenTAXII 0.10.0b1):

- 401 comes as HTML (medallion) or TAXII JSON (OpenTAXII): both become :class:`AuthenticationError`.
- A denied write is 403 (medallion) or 404 (OpenTAXII): both become :class:`AccessDeniedError`.
- A refused ``next`` is a 400 (expired after ``session_timeout``, exhausted, or filters changed):
  :class:`NextExpiredError`, so the caller resumes from its cursor.
- ``added_after`` always carries a fractional second (:func:`format_timestamp`).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import requests
from taxii2client.common import _HTTPConnection
from taxii2client.exceptions import TAXIIServiceException
from taxii2client.exceptions import ValidationError as TaxiiValidationError
from taxii2client.v21 import ApiRoot, Collection, Status

from legion_misp.errors import (
    AccessDeniedError,
    AuthenticationError,
    InvalidPageError,
    NextExpiredError,
    ProtocolError,
    SyncError,
    TransportError,
)
from legion_misp.timeutil import format_time, parse_time

from .settings import CollectionSettings, SyncSettings

log = logging.getLogger(__name__)

MEDIA_TAXII = "application/taxii+json;version=2.1"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 300.0
USER_AGENT = "legion-misp-sync (taxii2-client)"


# ---- timestamps ------------------------------------------------------------------------------------------------

def parse_timestamp(text: str) -> dt.datetime:
    """An RFC 3339 timestamp from a TAXII server as aware UTC (a missing zone is read as UTC, as servers mean it)."""
    return parse_time(text, assume_utc=True)


def format_timestamp(moment: dt.datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ``: always with a fraction (OpenTAXII refuses whole seconds)."""
    return format_time(moment, digits=6)


def rewind(cursor: str, milliseconds: int = 1) -> str:
    """The cursor moved back by ``milliseconds``, formatted with a fraction.

    Servers disagree on whether ``added_after`` is exclusive; objects sharing the cursor's ``date_added`` may sit on
    the next page. Asking from just before the cursor re-delivers them (the dedup index skips what was seen) instead
    of losing them.
    """
    return format_timestamp(parse_timestamp(cursor) - dt.timedelta(milliseconds=milliseconds))


# ---- session with timeouts and retries -------------------------------------------------------------------------

class RetryingSession(requests.Session):
    """A session with default timeouts and bounded retries (exponential backoff, full jitter, Retry-After).

    Parameters
    ----------
    timeout : (connect, read) seconds used when a call gives none.
    retries : retries after the first attempt (0 = none).
    backoff : first delay in seconds; attempt n waits a random time in [0, backoff * 2**n], capped by backoff_max.
    sleep, rng : injected for tests.
    """

    def __init__(self, *, timeout: tuple[float, float] = (10.0, 120.0), retries: int = 5, backoff: float = 1.0,
                 backoff_max: float = 60.0, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None):
        super().__init__()
        self.default_timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self._sleep = sleep
        self._rng = rng or random.Random()  # jitter, not cryptography
        self.headers["User-Agent"] = USER_AGENT
        self.attempts = 0  # requests sent, retries included (for tests and the run report)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.default_timeout)
        # requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override a session's verify when a call passes none
        # (psf/requests#3829): pass the session's own setting so a configured ca_bundle (or False) always holds.
        if kwargs.get("verify") is None:
            kwargs["verify"] = self.verify
        attempt = 0
        while True:
            self.attempts += 1
            try:
                response = super().request(method, url, *args, **kwargs)
            except requests.exceptions.SSLError:
                raise
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                if attempt >= self.retries:
                    raise
                delay = self._delay(attempt, None)
                log.info("%s %s failed (%s); retry %d/%d in %.2f s", method, _strip_query(url),
                         type(exc).__name__, attempt + 1, self.retries, delay)
            else:
                if response.status_code not in RETRY_STATUSES or attempt >= self.retries:
                    return response
                delay = self._delay(attempt, response.headers.get("Retry-After"))
                log.info("%s %s answered %d; retry %d/%d in %.2f s", method, _strip_query(url),
                         response.status_code, attempt + 1, self.retries, delay)
                response.close()
            attempt += 1
            self._sleep(delay)

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            seconds = _parse_retry_after(retry_after)
            if seconds is not None:
                return min(seconds, MAX_RETRY_AFTER)
        ceiling = min(self.backoff_max, self.backoff * (2 ** attempt))
        return self._rng.uniform(0, ceiling)


def _parse_retry_after(value: str) -> float | None:
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _strip_query(url: str) -> str:
    return url.split("?", 1)[0]


class BearerAuth(requests.auth.AuthBase):
    """``Authorization: Bearer <key>``; the key never appears in ``repr``."""

    def __init__(self, key: str):
        self._key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._key}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(***)"


# ---- pages and status ------------------------------------------------------------------------------------------

@dataclass
class Page:
    """One GET of the objects endpoint. ``objects`` are the raw JSON items (not yet validated)."""

    objects: list[Any]
    more: bool
    next: str | None
    date_added_first: str | None
    date_added_last: str | None
    size: int = 0  # bytes of the response body


@dataclass
class AddStatus:
    """Outcome of one POST: the (id, version) pairs the server accepted, refused, or still has pending."""

    status_id: str | None
    status: str
    successes: set[tuple[str, str | None]] = field(default_factory=set)
    failures: dict[tuple[str, str | None], str] = field(default_factory=dict)
    pendings: set[tuple[str, str | None]] = field(default_factory=set)
    success_count: int = 0
    failure_count: int = 0
    pending_count: int = 0
    total_count: int = 0


# ---- the client ------------------------------------------------------------------------------------------------

class TaxiiClient:
    """One TAXII 2.1 collection: metadata, raw paged GET with headers, envelope POST with status polling.

    A context manager; ``close()`` releases the connection pool. Secrets are revealed only to build the session's
    auth object and never appear in ``repr``, errors or logs.
    """

    def __init__(self, collection: CollectionSettings, sync: SyncSettings, *,
                 session: RetryingSession | None = None):
        self.settings = collection
        self.sync = sync
        self.key = collection.key
        self.session = session or RetryingSession(timeout=sync.timeout, retries=sync.retries, backoff=sync.backoff,
                                                  backoff_max=sync.backoff_max)
        self.session.verify = collection.ca_bundle or collection.verify_tls
        if collection.verify_tls is False and not collection.ca_bundle:
            log.warning("TLS certificate verification is OFF for %s: use only in a lab", collection.url)
        if collection.client_cert:
            self.session.cert = (collection.client_cert, _key_path(collection)) if collection.client_key \
                else collection.client_cert
        if collection.username and collection.password is not None:
            self.session.auth = requests.auth.HTTPBasicAuth(collection.username, collection.password.reveal())
        elif collection.api_key is not None:
            self.session.auth = BearerAuth(collection.api_key.reveal())
        conn = _HTTPConnection(verify=self.session.verify, version="2.1", user_agent=USER_AGENT)
        conn.session.close()
        conn.session = self.session  # taxii2-client objects share our session (timeouts, retries, auth, TLS)
        self._conn = conn
        root_url = collection.url if collection.url.endswith("/") else collection.url + "/"
        self.api_root = ApiRoot(root_url, conn=conn)
        self.collection = Collection(urljoin(root_url, f"collections/{collection.collection}/"), conn=conn)
        self._max_content_length: int | None = None

    def __repr__(self) -> str:
        return f"TaxiiClient({self.key!r})"

    def __enter__(self) -> TaxiiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    # -- metadata -------------------------------------------------------------------------------------------------

    def check_access(self, *, write: bool = False) -> None:
        """GET the collection resource and check ``can_read`` / ``can_write``; errors name the collection."""
        self._call(lambda: self.collection.refresh(), "read the collection")
        allowed = self.collection.can_write if write else self.collection.can_read
        if not allowed:
            raise AccessDeniedError(f"this account may not {'write to' if write else 'read'} the collection",
                                    collection=self.key, status=403)

    @property
    def max_content_length(self) -> int | None:
        """The API root's ``max_content_length`` in bytes (None if the server does not say)."""
        if self._max_content_length is None:
            try:
                self._call(lambda: self.api_root.refresh_information(), "read the API root")
                self._max_content_length = int(self.api_root.max_content_length or 0) or None
            except (SyncError, TypeError, ValueError) as exc:
                log.info("API root information unavailable for %s: %s", self.key, exc)
                self._max_content_length = 0
        return self._max_content_length or None

    def _call(self, func: Callable[[], Any], what: str) -> Any:
        try:
            return func()
        except requests.exceptions.HTTPError as exc:
            raise _error_for(exc.response, what, self.key) from None
        except requests.exceptions.SSLError as exc:
            raise TransportError(f"TLS failure while trying to {what}: {_reason(exc)}", collection=self.key) from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise TransportError(f"server unreachable while trying to {what} ({type(exc).__name__}, "
                                 f"{self.sync.retries} retries)", collection=self.key) from None
        except (TAXIIServiceException, TaxiiValidationError, ValueError, KeyError) as exc:
            raise ProtocolError(f"unexpected answer while trying to {what}: {_reason(exc)}",
                                collection=self.key) from None

    # -- reading --------------------------------------------------------------------------------------------------

    def get_page(self, *, added_after: str | None = None, next_token: str | None = None, limit: int = 100,
                 extra: dict[str, str] | None = None) -> Page:
        """GET one page of objects. ``limit`` must be > 0. With ``next_token``, repeat the first page's filters."""
        if limit <= 0:
            raise ValueError("limit must be > 0 (servers answer 400 to limit=0)")
        params: dict[str, Any] = {"limit": limit}
        if added_after:
            params["added_after"] = added_after
        if next_token:
            params["next"] = next_token
        params.update(extra or {})
        response = self._send("GET", self.collection.objects_url, "get objects", params=params)
        if response.status_code == 400 and next_token:
            raise NextExpiredError("the server refused the 'next' token (expired, exhausted or filters changed)",
                                   collection=self.key, status=400)
        if response.status_code != 200:
            raise _error_for(response, "get objects", self.key)
        body = response.content
        preview = body[:65536].decode("utf-8", errors="replace")
        try:
            envelope = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise InvalidPageError(f"the objects page is not valid JSON ({_reason(exc)})", collection=self.key,
                                   status=200, payload=preview) from None
        if not isinstance(envelope, dict):
            raise InvalidPageError("the objects page is not a TAXII envelope (not a JSON object)",
                                   collection=self.key, payload=preview)
        objects = envelope.get("objects", [])
        if not isinstance(objects, list):
            raise InvalidPageError("the envelope's 'objects' is not a list", collection=self.key, payload=preview)
        next_value = envelope.get("next")
        return Page(objects=objects, more=bool(envelope.get("more", False)),
                    next=str(next_value) if next_value not in (None, "") else None,
                    date_added_first=response.headers.get("X-TAXII-Date-Added-First"),
                    date_added_last=response.headers.get("X-TAXII-Date-Added-Last"), size=len(body))

    def object_versions(self, object_id: str) -> set[str | None]:
        """Every version of one object stored on the server: ``modified``, else ``created`` (as
        :func:`~.convert.object_version` and the publisher count it), else None (SCOs)."""
        url = urljoin(self.collection.objects_url, f"{object_id}/")
        response = self._send("GET", url, "get an object", params={"match[version]": "all"})
        if response.status_code == 404:
            return set()
        if response.status_code != 200:
            raise _error_for(response, "get an object", self.key)
        try:
            objects = response.json().get("objects", [])
        except (ValueError, AttributeError):
            raise ProtocolError("object answer is not valid JSON", collection=self.key) from None
        return {o.get("modified") or o.get("created") for o in objects
                if isinstance(o, dict) and o.get("id") == object_id}

    # -- writing --------------------------------------------------------------------------------------------------

    def add_objects(self, serialised: list[bytes]) -> AddStatus:
        """POST one envelope built from pre-serialised objects, then poll its status until complete (or
        ``status_timeout``). Returns per-object outcomes."""
        body = b'{"objects":[' + b",".join(serialised) + b"]}"
        response = self._send("POST", self.collection.objects_url, "add objects", data=body,
                              headers={"Content-Type": MEDIA_TAXII})
        if response.status_code not in (200, 201, 202):
            raise _error_for(response, "add objects", self.key)
        try:
            info = response.json()
            status = Status(urljoin(self.collection.url, f"../../status/{info['id']}/"), conn=self._conn,
                            status_info=info)
        except (ValueError, KeyError, TypeError, TaxiiValidationError) as exc:
            raise ProtocolError(f"the status answer to a POST is not a TAXII status ({_reason(exc)})",
                                collection=self.key) from None
        deadline = time.monotonic() + self.sync.status_timeout
        delay = self.sync.status_poll_interval
        while status.status != "complete" and time.monotonic() < deadline:
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
            self._call(status.refresh, "poll the status resource")
        return _add_status(status)

    def _send(self, method: str, url: str, what: str, **kwargs: Any) -> requests.Response:
        headers = {"Accept": MEDIA_TAXII, **kwargs.pop("headers", {})}
        try:
            return self.session.request(method, url, headers=headers, **kwargs)
        except requests.exceptions.SSLError as exc:
            raise TransportError(f"TLS failure while trying to {what}: {_reason(exc)}", collection=self.key) from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise TransportError(f"server unreachable while trying to {what} ({type(exc).__name__}, "
                                 f"{self.sync.retries} retries)", collection=self.key) from None


def _add_status(status: Status) -> AddStatus:
    def pairs(items: list[Any]) -> list[tuple[tuple[str, str | None], str]]:
        out = []
        for item in items or []:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                out.append(((item["id"], item.get("version")), str(item.get("message") or "")))
        return out

    return AddStatus(
        status_id=status.id, status=status.status,
        successes={key for key, _ in pairs(status.successes)},
        failures=dict(pairs(status.failures)),
        pendings={key for key, _ in pairs(status.pendings)},
        success_count=int(status.success_count or 0), failure_count=int(status.failure_count or 0),
        pending_count=int(status.pending_count or 0), total_count=int(status.total_count or 0))


def _key_path(collection: CollectionSettings) -> str:
    reference = collection.client_key.reference if collection.client_key else ""
    if not reference.startswith("file:"):
        raise SyncError("client_key must be 'file:PATH' (requests reads the key from a file)",
                        collection=collection.key)
    path = reference.removeprefix("file:")
    base = getattr(collection.client_key, "_base_dir", None)
    if base is not None and not path.startswith("/"):
        return str(base / path)
    return path


def _error_for(response: requests.Response | None, what: str, key: str) -> SyncError:
    if response is None:
        return TransportError(f"no response while trying to {what}", collection=key)
    status = response.status_code
    detail = _body_detail(response)
    if status == 401:
        return AuthenticationError(f"the server refused the credentials (HTTP 401) while trying to {what}; check "
                                   "username/password or api_key", collection=key, status=401)
    if status in (403, 404):
        return AccessDeniedError(f"HTTP {status} while trying to {what}: the collection does not exist or this "
                                 f"account may not use it{detail}", collection=key, status=status)
    if status == 413:
        return ProtocolError(f"HTTP 413 while trying to {what}: envelope larger than the server accepts "
                             "(lower sync.envelope_max_bytes)", collection=key, status=413)
    return ProtocolError(f"HTTP {status} while trying to {what}{detail}", collection=key, status=status)


def _body_detail(response: requests.Response) -> str:
    content_type = response.headers.get("Content-Type", "")
    if "json" not in content_type:
        return ""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        text = str(body.get("description") or body.get("title") or "")[:200]
        return f" ({text})" if text else ""
    return ""


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
