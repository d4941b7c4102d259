"""Shared fixtures: a configuration for "Example Energy Ltd", and MISP events with planted canaries."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from legion_misp.privacy.ledger import open_ledger
from legion_misp.privacy.mechanisms import SeededNoise
from legion_misp.privacy.policy import Policy
from legion_misp.privacy.pseudonyms import Pseudonymizer
from legion_misp.privacy.sanitizer import Sanitizer
from legion_misp.sections import load_config

CONFIG_TEMPLATE = """
[organisation]
name = "Example Energy Ltd"
pseudonym = "member-7f3a"
internal_networks = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fd00::/8"]
internal_domains = ["corp.example", "exampleenergy.example"]
public_networks = ["192.0.2.224/27"]
sensitive_terms = ["Project Nightjar", "Substation Kestrel"]
sensitive_terms_file = "file:terms.txt"
sensitive_patterns = ['INC-\\d{{7}}']

[federation]
name = "energy-federation"
pseudonym_key = "file:federation.key"

[ledger]
path = "ledger.sqlite"
epsilon = {budget}
delta = 1e-4
window = "30d"

[privacy]
sharing_groups = {{ "energy-isac" = ["energy-federation"] }}
"""

FEDERATION_KEY = "5f1c9a0e7b3d42c8a6e1f09b7d35c2a48e6b1f0d9c7a53e2b4f8061d3a9c5e7b"  # 32 bytes, hex
STAFF_NAMES = ["Margaret Holloway", "Dev Raghunathan"]


def write_config(folder: Path, *, budget: float = 10.0, init_ledger: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "terms.txt").write_text("# staff directory export\n" + "\n".join(STAFF_NAMES) + "\n", encoding="utf-8")
    key = folder / "federation.key"
    key.write_text(FEDERATION_KEY, encoding="utf-8")
    key.chmod(0o600)
    path = folder / "legion.toml"
    path.write_text(CONFIG_TEMPLATE.format(budget=budget), encoding="utf-8")
    if init_ledger:
        open_ledger(load_config(path), create=True)  # what `legion budget init` does
    return path


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path / "conf")


@pytest.fixture
def config(config_path: Path):
    return load_config(config_path)


@pytest.fixture
def policy(config) -> Policy:
    return Policy.from_config(config)


@pytest.fixture
def sanitizer(policy: Policy) -> Sanitizer:
    return Sanitizer(policy, pseudonymizer=Pseudonymizer(bytes.fromhex(FEDERATION_KEY)), noise=SeededNoise(7))


def new_uuid() -> str:
    return str(uuid.uuid4())


def attribute(attribute_type: str, value: str, **extra: Any) -> dict[str, Any]:
    return {"uuid": new_uuid(), "type": attribute_type, "value": value, "timestamp": "1700000000",
            "to_ids": True, **extra}


def event(*attributes: dict[str, Any], distribution: str = "3", info: str = "Phishing wave", **extra: Any
          ) -> dict[str, Any]:
    return {"uuid": new_uuid(), "info": info, "distribution": distribution, "date": "2024-03-01",
            "threat_level_id": "2", "analysis": "1", "timestamp": "1700000000", "published": True,
            "Orgc": {"id": "1", "name": "Example Energy Ltd", "uuid": new_uuid()},
            "Org": {"id": "1", "name": "Example Energy Ltd", "uuid": new_uuid()},
            "Attribute": list(attributes), **extra}


def write_feed(folder: Path, events: list[dict[str, Any]]) -> Path:
    from legion_misp.stores import FeedStore

    store = FeedStore(folder)
    with store.batch():
        for item in events:
            store.upsert(item)
    return folder


def dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
