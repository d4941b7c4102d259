"""Module settings shared by legion-misp's MISP modules (MISP sends them in each request's ``config``).

MISP stores them as ``Plugin.<Family>_<module>_<key>``: ``config_path`` (legion.toml with the organisation, privacy
policy and ledger), ``pseudonym_key`` (an ``env:NAME``/``file:PATH`` reference to the federation's pseudonym key,
resolved in the misp-modules server process; never the key itself). The ledger is always ``[ledger] path`` of
that configuration: no setting or request can choose another one.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..config import Config
from ..errors import ConfigError
from ..privacy.ledger import Ledger, LedgerMissing, open_ledger
from ..privacy.pseudonyms import PseudonymKeyError, key_from_text
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
        return key_from_text(Secret(reference, config.base_dir).reveal())
    except (ConfigError, PseudonymKeyError) as exc:
        raise ModuleInputError(str(exc)) from exc


def configured_ledger(settings: dict[str, str], config: Config) -> Ledger:
    """The ledger of ``[ledger] path`` in the configuration: a request can never point at another ledger (that
    would let any MISP user who can run an export reset the budget)."""
    if "ledger_path" in settings:
        raise ModuleInputError("ledger_path is not accepted: the ledger is [ledger] path of the legion "
                               "configuration (config_path), so no request can choose a fresh budget")
    try:
        return open_ledger(config)
    except LedgerMissing as exc:
        raise ModuleInputError(str(exc)) from exc
