"""Event stores: one interface (:class:`EventSource` / :class:`EventSink`) over feed directories, MISP, memory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConfigError, ConfigProblem
from ..schema import Key, is_url, one_of
from .base import EventSink, EventSource, EventStore, UpsertResult, new_sighting
from .feed import FeedStore
from .memory import MemoryEventStore

if TYPE_CHECKING:
    from ..config import Config

__all__ = ["STORE_KEYS", "EventSink", "EventSource", "EventStore", "FeedStore", "MemoryEventStore", "UpsertResult",
           "new_sighting", "open_store", "store_problems"]

STORE_KEYS: tuple[Key, ...] = (
    Key("kind", str, "feed", "'feed' (a MISP feed directory) or 'misp' (a MISP instance through its REST API).",
        check=one_of("feed", "misp")),
    Key("path", str, "data/feed", "Feed directory for kind = 'feed' (relative to the config file)."),
    Key("url", str, None, "MISP base URL for kind = 'misp'.", check=is_url),
    Key("api_key", str, None, "MISP API key for kind = 'misp', as 'env:NAME' or 'file:PATH'.", secret=True),
    Key("verify_tls", bool, True, "Verify the MISP server's TLS certificate. Turn off only for a lab."),
    Key("ca_bundle", str, None, "Path to a CA bundle (PEM) for a MISP server with a private CA."),
    Key("timeout", float, 30.0, "Seconds to wait for each MISP API request."),
    Key("page_size", int, 100, "Events per MISP restSearch page.", check=lambda v: None if v > 0 else "must be > 0"),
    Key("parallel_adds", int, 2, "New events a sync pull adds to MISP at once (1: one at a time). An event that "
        "would create a tag or organisation, or that shares a value MISP correlates with an add in flight, waits "
        "its turn (MISP races on those).", check=lambda v: None if 1 <= v <= 16 else "must be between 1 and 16"),
)


def store_problems(values: dict) -> list[ConfigProblem]:
    """``[store]`` checks across keys: kind = 'misp' needs a URL and an API key."""
    if values.get("kind") != "misp":
        return []
    return [ConfigProblem(f"store.{key}", "is required when store.kind = 'misp'")
            for key in ("url", "api_key") if not values.get(key)]


def open_store(config: Config) -> EventStore:
    """The store configured in ``[store]``."""
    section = config.section("store")
    if section["kind"] == "feed":
        return FeedStore(config.resolve_path(section["path"]))
    from .misp_api import MispApiStore  # PyMISP takes ~0.2 s to import: only for kind = "misp"

    api_key = config.secret(section["api_key"])
    if api_key is None or not section["url"]:
        raise ConfigError("store.kind = 'misp' needs store.url and store.api_key",
                          [ConfigProblem("store", "url and api_key are required for kind = 'misp'")])
    return MispApiStore(section["url"], api_key, verify_tls=section["verify_tls"], ca_bundle=section["ca_bundle"],
                        timeout=section["timeout"], page_size=section["page_size"],
                        parallel_adds=section["parallel_adds"])
