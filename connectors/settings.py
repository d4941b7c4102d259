"""The ``[sync]`` configuration section and the validated :class:`SyncSettings` / :class:`CollectionSettings`.

``[[federation.collections]]`` (:data:`COLLECTIONS_KEY`) says *where* to sync; ``[sync]`` says *how*: state file,
envelope caps, timeouts, retries, page size, revoked-object handling. Values are validated once, by the config
loader, and frozen here; later code trusts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from legion_misp.schema import Key, in_range, is_url, non_empty_str, one_of
from legion_misp.timeutil import is_duration, parse_duration

if TYPE_CHECKING:
    from legion_misp.config import Config
    from legion_misp.secrets import Secret


def _positive(value: Any) -> str | None:
    return None if value > 0 else f"must be > 0; got {value}"


SYNC_KEYS: tuple[Key, ...] = (
    Key("state_path", str, "data/sync-state.sqlite", "SQLite file holding cursors, published versions, the dedup "
        "index, the quarantine and the run history (relative to the config file)."),
    Key("lock_path", str, None, "Lock file that keeps two sync runs from overlapping [default: <state_path>.lock]."),
    Key("envelope_max_bytes", int, 4 * 1024 * 1024, "Largest envelope POSTed, in bytes (also capped by the API "
        "root's max_content_length).", check=_positive),
    Key("envelope_max_objects", int, 500, "Most STIX objects in one envelope.", check=_positive),
    Key("page_size", int, 500, "Objects asked for per GET (TAXII 'limit'; servers may return fewer). Never 0.",
        check=_positive),
    Key("connect_timeout", float, 10.0, "Seconds to wait for a TCP/TLS connection.", check=_positive),
    Key("read_timeout", float, 120.0, "Seconds to wait for a response once connected.", check=_positive),
    Key("retries", int, 5, "Retries of one request on connection errors, 429 and 5xx (0 = none).",
        check=in_range(0, 20)),
    Key("backoff", float, 1.0, "First retry delay in seconds; doubled each retry, with jitter, capped by "
        "backoff_max. A Retry-After header from the server wins.", check=in_range(0, None)),
    Key("backoff_max", float, 60.0, "Longest delay between two retries, in seconds.", check=in_range(0, None)),
    Key("status_timeout", float, 300.0, "Seconds to poll a status resource until it is 'complete'.",
        check=_positive),
    Key("status_poll_interval", float, 0.5, "First delay between status polls, in seconds (grows to 5 s).",
        check=_positive),
    Key("revoked", str, "tag", "What a revoked STIX container does to the local event: 'tag' (add the tag "
        "'legion:revoked') or 'delete'.", check=one_of("tag", "delete")),
    Key("push_only_published", bool, True, "Push only published MISP events (MISP's own sync rule)."),
    Key("push_tags", list, [], "Push only events carrying all these tags."),
    Key("max_object_bytes", int, 1024 * 1024, "Pulled objects larger than this (serialised, bytes) are "
        "quarantined.", check=_positive),
    Key("max_nesting", int, 32, "Pulled objects nested deeper than this (dicts/lists) are quarantined.",
        check=in_range(2, 1000)),
    Key("every", str, "15m", "Default interval of 'legion sync run --every'.", check=is_duration),
)

COLLECTION_KEYS: tuple[Key, ...] = (
    Key("url", str, doc="TAXII 2.1 API root URL.", check=is_url),
    Key("collection", str, doc="Collection id (or alias, where the server supports it).", check=non_empty_str),
    Key("direction", str, "both", "'push', 'pull' or 'both'.", check=one_of("push", "pull", "both")),
    Key("peer", str, None, "For pulls: the pseudonym of the member publishing there (optional)."),
    Key("username", str, None, "HTTP basic-auth user name."),
    Key("password", str, None, "HTTP basic-auth password, as 'env:NAME' or 'file:PATH'.", secret=True),
    Key("api_key", str, None, "API key sent as a bearer token, as 'env:NAME' or 'file:PATH'.", secret=True),
    Key("verify_tls", bool, True, "Verify the server's TLS certificate."),
    Key("ca_bundle", str, None, "CA bundle (PEM) for a server with a private CA."),
    Key("client_cert", str, None, "Client certificate (PEM) for mutual TLS."),
    Key("client_key", str, None, "Client private key (PEM) for mutual TLS, as 'file:PATH'.", secret=True),
)

COLLECTIONS_KEY = Key("collections", list, [], "TAXII collections to sync ([[federation.collections]] tables).",
                      item_schema=COLLECTION_KEYS)


@dataclass(frozen=True)
class SyncSettings:
    """How to sync. Times in seconds, sizes in bytes."""

    state_path: Path
    lock_path: Path
    envelope_max_bytes: int = 4 * 1024 * 1024
    envelope_max_objects: int = 500
    page_size: int = 500
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    retries: int = 5
    backoff: float = 1.0
    backoff_max: float = 60.0
    status_timeout: float = 300.0
    status_poll_interval: float = 0.5
    revoked: str = "tag"
    push_only_published: bool = True
    push_tags: tuple[str, ...] = ()
    max_object_bytes: int = 1024 * 1024
    max_nesting: int = 32
    every: float = 900.0

    @classmethod
    def from_config(cls, config: Config) -> SyncSettings:
        values = dict(config.section("sync"))
        state_path = config.resolve_path(values.pop("state_path"))
        lock = values.pop("lock_path")
        lock_path = config.resolve_path(lock) if lock else state_path.with_name(state_path.name + ".lock")
        values["push_tags"] = tuple(values["push_tags"])
        values["every"] = parse_duration(values["every"])
        return cls(state_path=state_path, lock_path=lock_path, **values)

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)


@dataclass(frozen=True)
class CollectionSettings:
    """One ``[[federation.collections]]`` entry. Secrets stay :class:`Secret` references until a request needs
    them."""

    url: str
    collection: str
    direction: str = "both"
    peer: str | None = None
    username: str | None = None
    password: Secret | None = None
    api_key: Secret | None = None
    verify_tls: bool = True
    ca_bundle: str | None = None
    client_cert: str | None = None
    client_key: Secret | None = None

    @property
    def key(self) -> str:
        """Stable identity of the collection in the state database: ``<api root url>|<collection id>``."""
        return f"{self.url.rstrip('/')}/|{self.collection}"

    @property
    def pushes(self) -> bool:
        return self.direction in ("push", "both")

    @property
    def pulls(self) -> bool:
        return self.direction in ("pull", "both")

    def __repr__(self) -> str:
        return f"CollectionSettings({self.url!r}, {self.collection!r}, direction={self.direction!r})"

    @classmethod
    def from_config(cls, config: Config) -> list[CollectionSettings]:
        out = []
        for entry in config.section("federation")["collections"]:
            out.append(cls(
                url=entry["url"], collection=entry["collection"], direction=entry["direction"], peer=entry["peer"],
                username=entry["username"], password=config.secret(entry["password"]),
                api_key=config.secret(entry["api_key"]), verify_tls=entry["verify_tls"],
                ca_bundle=str(config.resolve_path(entry["ca_bundle"])) if entry["ca_bundle"] else None,
                client_cert=str(config.resolve_path(entry["client_cert"])) if entry["client_cert"] else None,
                client_key=config.secret(entry["client_key"])))
        return out
