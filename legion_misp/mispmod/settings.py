"""Module settings shared by legion-misp's MISP modules (MISP sends them in each request's ``config``).

MISP stores them as ``Plugin.<Family>_<module>_<key>``: ``config_path`` (legion.toml with the organisation, privacy
policy and ledger), ``pseudonym_key`` (an ``env:NAME``/``file:PATH`` reference to the federation's pseudonym key,
resolved in the misp-modules server process; never the key itself), ``ledger_path`` (overrides ``[ledger] path``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import ConfigError
from ..privacy.ledger import Ledger, open_ledger
from ..secrets import Secret, is_secret_reference
from ..sections import load_config
from .common import ModuleInputError


def legion_config(settings: dict[str, str]) -> Config:
    """The legion.toml named by the ``config_path`` setting, else by ``$LEGION_CONFIG`` of the server."""
    path = settings.get("config_path") or os.environ.get("LEGION_CONFIG")
    if not path:
        raise ModuleInputError("set the module's config_path setting (path to legion.toml)")
    try:
        return load_config(Path(path).expanduser())
    except ConfigError as exc:
        raise ModuleInputError(f"the legion configuration is not usable: {str(exc).splitlines()[0]}") from exc


def pseudonym_key(settings: dict[str, str], config: Config) -> bytes | None:
    """The pseudonym key from the ``pseudonym_key`` setting (a reference, never a literal), else from config."""
    reference = settings.get("pseudonym_key")
    if reference is None:
        return None
    if not is_secret_reference(reference):
        raise ModuleInputError("pseudonym_key must be 'env:NAME' or 'file:PATH', never the key itself")
    try:
        return Secret(reference, config.base_dir).reveal().encode("utf-8")
    except ConfigError as exc:
        raise ModuleInputError(str(exc)) from exc


def ledger_override(settings: dict[str, str], config: Config) -> Any:
    ledger = open_ledger(config)
    if settings.get("ledger_path"):
        return Ledger(Path(settings["ledger_path"]).expanduser(), budget_epsilon=ledger.budget_epsilon,
                      budget_delta=ledger.budget_delta, window_days=ledger.window_days)
    return ledger
