"""The configuration schema of legion-misp, composed in one place (app layer).

Each subsystem declares the keys it reads; this module puts them into ``legion.toml``'s sections, explicitly:

==================  ==========================================================================================
``[organisation]``  :mod:`legion_misp.config` (who we are; every subsystem reads it)
``[store]``         :data:`legion_misp.stores.STORE_KEYS`
``[federation]``    the federation's name; :data:`~legion_misp.privacy.policy.PSEUDONYM_KEY` and
                    :data:`~legion_misp.privacy.policy.PSEUDONYM_EPOCH` (privacy);
                    :data:`~legion_misp.trust.settings.MEMBERS_KEY` and
                    :data:`~legion_misp.trust.settings.TRUST_KEYS` (trust);
                    :data:`~connectors.settings.COLLECTIONS_KEY` (sync)
``[ledger]``        :data:`legion_misp.privacy.ledger.LEDGER_KEYS`
``[privacy]``       :data:`legion_misp.privacy.policy.PRIVACY_KEYS`
``[sync]``          :data:`connectors.settings.SYNC_KEYS`
==================  ==========================================================================================

Apps (CLI, demo, MISP modules) load configuration through :func:`load_config` here; nothing registers itself by being
imported.
"""

from __future__ import annotations

import os
from pathlib import Path

from connectors.settings import COLLECTIONS_KEY, SYNC_KEYS

from . import config
from .config import Config, Section
from .privacy.ledger import LEDGER_KEYS
from .privacy.policy import PRIVACY_KEYS, PSEUDONYM_EPOCH, PSEUDONYM_KEY
from .schema import Key
from .stores import STORE_KEYS, store_problems
from .trust.settings import MEMBERS_KEY, TRUST_KEYS, member_problems

FEDERATION_NAME_KEY = Key("name", str, "legion-federation", "The federation's name.")

SECTIONS: tuple[Section, ...] = (
    Section("store", STORE_KEYS, check=store_problems),
    Section("federation", (FEDERATION_NAME_KEY, PSEUDONYM_KEY, PSEUDONYM_EPOCH, MEMBERS_KEY, COLLECTIONS_KEY,
                           *TRUST_KEYS), check=member_problems),
    Section("ledger", LEDGER_KEYS),
    Section("privacy", PRIVACY_KEYS),
    Section("sync", SYNC_KEYS),
)


def all_sections() -> dict[str, tuple[Key, ...]]:
    """Every section and its keys, ``[organisation]`` first (for ``legion config reference`` and docs/)."""
    return {config.ORGANISATION: config.ORGANISATION_KEYS, **{s.name: s.keys for s in SECTIONS}}


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate ``legion.toml`` (default: ``$LEGION_CONFIG``, else ``./legion.toml``)."""
    return config.load_config(path, sections=SECTIONS)


def parse_config(text: str, *, base_dir: Path, path: Path | None = None) -> Config:
    """Validate configuration text; relative paths resolve under ``base_dir``."""
    return config.parse_config(text, base_dir=base_dir, path=path, sections=SECTIONS)


def load_default_config(base_dir: Path | None = None) -> Config:
    """The embedded example configuration, with relative paths under ``base_dir`` (default: cwd)."""
    return parse_config(config.example_config_text(), base_dir=base_dir or Path.cwd())
