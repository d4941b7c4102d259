"""Configuration: validation with key paths, defaults, secrets never literal, example config valid."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from legion_misp.config import example_config_text
from legion_misp.errors import ConfigError
from legion_misp.sections import load_config, load_default_config, parse_config


def _public_key() -> str:
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "legion.toml"
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL = '[organisation]\nname = "Org"\npseudonym = "member-1"\n'


def test_example_config_is_valid_and_complete():
    config = load_default_config()
    org = config.organisation
    assert org.pseudonym == "member-7f3a"
    assert org.is_protected_ip("10.20.30.40") and org.is_protected_ip("192.0.2.230")
    assert not org.is_protected_ip("192.0.2.10") and not org.is_protected_ip("not-an-ip")
    assert org.is_internal_domain("DC01.corp.example.") and not org.is_internal_domain("corp.example.net")
    assert config.section("store")["verify_tls"] is True
    assert config.section("ledger")["epsilon"] == 10.0


def test_minimal_config_gets_documented_defaults(tmp_path):
    config = load_config(_write(tmp_path, MINIMAL))
    assert [str(n) for n in config.organisation.internal_networks][:3] == ["10.0.0.0/8", "172.16.0.0/12",
                                                                           "192.168.0.0/16"]
    assert config.section("store")["kind"] == "feed"
    assert config.resolve_path("data/feed") == tmp_path / "data/feed"


def test_every_problem_is_reported_with_its_key_path(tmp_path):
    text = MINIMAL + f"""
internal_networks = ["10.0.0.0/8", "not-a-net"]
sensitive_patterns = ["INC-(["]
[store]
kind = "ftp"
verify_tls = "yes"
[federation]
[[federation.members]]
pseudonym = "a"
public_key = "{_public_key()}"
[[federation.members]]
pseudonym = "b"
public_key = "{_public_key()}"
[[federation.members]]
pseudonym = "c"
public_key = "AAAA"
[bogus]
x = 1
"""
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, text))
    paths = {p.key_path: p.message for p in info.value.problems}
    assert "not a valid Ed25519 key" in paths["federation.members[2].public_key"]
    assert "not-a-net" in paths["organisation.internal_networks"]
    assert "regular expression" in paths["organisation.sensitive_patterns"]
    assert "must be one of feed, misp" in paths["store.kind"]
    assert "true or false" in paths["store.verify_tls"]
    assert "unknown section" in paths["bogus"]
    assert "federation.members[0].public_key" not in paths


def test_literal_secret_is_refused_without_echoing_it(tmp_path):
    text = MINIMAL + '[store]\nkind = "misp"\nurl = "https://misp.example"\napi_key = "s3cr3t-literal-key"\n'
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, text))
    assert "store.api_key" in str(info.value)
    assert "s3cr3t-literal-key" not in str(info.value)


def test_misp_store_requires_url_and_key(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, MINIMAL + '[store]\nkind = "misp"\n'))
    assert {p.key_path for p in info.value.problems} == {"store.url", "store.api_key"}


def test_sensitive_terms_file_is_merged(tmp_path):
    (tmp_path / "terms.txt").write_text("# staff\nAlice Example\n\nProject Heron\n", encoding="utf-8")
    config = load_config(_write(tmp_path, MINIMAL + 'sensitive_terms = ["X"]\nsensitive_terms_file = '
                                '"file:terms.txt"\n'))
    assert config.organisation.sensitive_terms == ("X", "Alice Example", "Project Heron")


def test_missing_terms_file_and_bad_toml_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="sensitive_terms_file"):
        load_config(_write(tmp_path, MINIMAL + 'sensitive_terms_file = "file:nope.txt"\n'))
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_config("[organisation\n", base_dir=tmp_path)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.toml")


def test_init_template_mentions_every_organisation_key():
    text = example_config_text()
    for key in ("name", "pseudonym", "internal_networks", "internal_domains", "public_networks",
                "sensitive_terms", "sensitive_terms_file", "sensitive_patterns", "kind", "path", "url", "api_key",
                "verify_tls"):
        assert f"{key} =" in text
