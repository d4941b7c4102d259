"""Text scrubbing: protected content is found as written, defanged and encoded; external content is left alone."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest

from legion_misp.privacy.scrub import ProtectedContent, refang


@pytest.fixture
def protected(config) -> ProtectedContent:
    return ProtectedContent(config.organisation, placeholder="[X]")


@pytest.mark.parametrize("text, kind", [
    ("beacon from 10.1.2.3 at noon", "protected-ip"),
    ("own address 192.0.2.230 leaked", "protected-ip"),
    ("ipv6 fd00::17 internal", "protected-ip"),
    ("RDP to 172.16.5.9|3389", "protected-ip"),
    ("mail alice.b@corp.example now", "internal-email"),
    ("host DC01.CORP.EXAMPLE.", "internal-host"),
    ("https://intranet.exampleenergy.example/hr", "internal-host"),
    ("report for example energy ltd", "sensitive-term"),
    ("report for Example Energy", "sensitive-term"),
    ("codename project_nightjar", "sensitive-term"),
    ("codename ProjectNightjar", "sensitive-term"),
    ("staff: margaret holloway", "sensitive-term"),
    ("ticket INC-1234567", "sensitive-pattern"),
])
def test_plain_forms_are_found(protected: ProtectedContent, text: str, kind: str) -> None:
    assert protected.contains(text) == kind


@pytest.mark.parametrize("text", [
    "pivot 10[.]0[.]0[.]1 done",
    "pivot 10(.)0(.)0(.)1 done",
    "hxxps://vpn[.]corp[.]example/login",
    "alice[at]corp[dot]example",
    "alice at corp dot example",
    "10\\.0\\.0\\.1",
])
def test_defanged_forms_are_found(protected: ProtectedContent, text: str) -> None:
    assert protected.contains(text) is not None


@pytest.mark.parametrize("secret", ["10.0.0.1", "vpn.corp.example", "Project Nightjar", "INC-7654321"])
def test_encoded_forms_are_found(protected: ProtectedContent, secret: str) -> None:
    percent = "".join(f"%{b:02x}" for b in secret.encode())
    assert protected.contains(f"/r?u={percent}") == "encoded-protected"
    assert protected.contains("/r?u=" + quote(quote(secret, safe=""), safe="")) is not None
    assert protected.contains("cfg " + base64.b64encode(f"x={secret};".encode()).decode()) == "encoded-protected"
    assert protected.contains(base64.urlsafe_b64encode(f"{secret}??".encode()).decode()) == "encoded-protected"
    assert protected.contains("-enc " + base64.b64encode(f"echo {secret}".encode("utf-16-le")).decode()) \
        == "encoded-protected"
    nested = base64.b64encode(base64.b64encode(f"k={secret}".encode())).decode()
    assert protected.contains(nested) == "encoded-protected"


@pytest.mark.parametrize("text", [
    "beacon to 203.0.113.10 and 8.8.8.8",
    "evilcorp.example and corp.examples.com are not ours",
    "https://notcorp.example/x",
    "hash 9e107d9d372bb6826bd81d3542a419d6 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "version 110.20.30.400 and 1.2.3.4.5",
    "Energy sector actors",
    base64.b64encode(b"nothing to see here at all").decode(),
])
def test_external_content_is_left_alone(protected: ProtectedContent, text: str) -> None:
    assert protected.find(text) == []
    assert protected.scrub(text) == (text, [])


def test_scrub_replaces_only_the_protected_spans(protected: ProtectedContent) -> None:
    text = "C2 203.0.113.9 reached from 10[.]1[.]2[.]3 and ws1.corp.example by Margaret Holloway"
    scrubbed, kinds = protected.scrub(text)
    assert scrubbed == "C2 203.0.113.9 reached from [X] and [X] by [X]"
    assert kinds == ["internal-host", "protected-ip", "sensitive-term"]


def test_refang_maps_positions_back_to_the_original() -> None:
    plain, starts, ends = refang("a[.]b hxxp://c")
    assert plain == "a.b http://c"
    assert (starts[1], ends[1]) == (1, 4)
    assert (starts[4], ends[7]) == (6, 10)
