"""Event stores: one interface (:class:`EventSource` / :class:`EventSink`) over feed directories, MISP, memory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConfigError, ConfigProblem
from .base import EventSink, EventSource, EventStore, UpsertResult, new_sighting
from .feed import FeedStore
from .memory import MemoryEventStore

if TYPE_CHECKING:
    from ..config import Config

__all__ = ["EventSink", "EventSource", "EventStore", "FeedStore", "MemoryEventStore", "UpsertResult",
           "new_sighting", "open_store"]


def open_store(config: Config) -> EventStore:
    """The store configured in ``[store]``."""
    section = config.section("store")
    if section["kind"] == "feed":
        return FeedStore(config.resolve_path(section["path"]))
    from .misp_api import MispApiStore

    api_key = config.secret(section["api_key"])
    if api_key is None or not section["url"]:
        raise ConfigError("store.kind = 'misp' needs store.url and store.api_key",
                          [ConfigProblem("store", "url and api_key are required for kind = 'misp'")])
    return MispApiStore(section["url"], api_key, verify_tls=section["verify_tls"], ca_bundle=section["ca_bundle"],
                        timeout=section["timeout"], page_size=section["page_size"])
