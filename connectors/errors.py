"""Typed sync errors. Each names the collection (API root URL + collection id) and, where known, the object."""

from __future__ import annotations

from legion_misp.errors import LegionError, join_context


class SyncError(LegionError):
    """A sync step failed. ``collection`` is ``<api root>|<collection id>``; ``status`` the HTTP status if any."""

    def __init__(self, message: str, *, collection: str | None = None, status: int | None = None,
                 object_id: str | None = None):
        self.collection = collection
        self.status = status
        self.object_id = object_id
        super().__init__(join_context(message, object_id and f"object {object_id}",
                                      collection and f"collection {collection}"))


class TransportError(SyncError):
    """The server could not be reached (DNS, refused connection, TLS, timeout) after every retry."""


class AuthenticationError(SyncError):
    """The server refused the credentials (HTTP 401)."""


class AccessDeniedError(SyncError):
    """The account may not read or write this collection (403, or 404 from servers that hide collections)."""


class ProtocolError(SyncError):
    """The server answered something a TAXII 2.1 server should not (bad JSON, missing fields, unexpected status)."""


class InvalidPageError(ProtocolError):
    """A page that is not a TAXII envelope (not JSON, not an object). ``payload`` is the page for the quarantine;
    ``date_added_last`` the server's ``X-TAXII-Date-Added-Last`` for it (lets the cursor pass it once kept)."""

    def __init__(self, message: str, *, payload: str = "", date_added_last: str | None = None, **kwargs: object):
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.payload = payload
        self.date_added_last = date_added_last


class NextExpiredError(ProtocolError):
    """A ``next`` token was refused (expired, exhausted, or filters changed): resume from the cursor."""


class SanitizerUnavailableError(SyncError):
    """No sanitiser is installed and ``--no-sanitize`` was not given: nothing is published."""

    exit_code = 2


class LockedError(SyncError):
    """Another sync run holds the lock."""
