"""Sanitiser hardening (issue 12): detectors and their switches, withheld events, host names learned from the
store, the residual-risk report, the publish gate on the same detection, and property tests of the normalised view."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from legion_misp.cli import main as legion_main
from legion_misp.errors import ConfigError
from legion_misp.privacy.findings import publish_gate_findings
from legion_misp.privacy.normalize import skeleton, views
from legion_misp.privacy.policy import Policy
from legion_misp.privacy.sanitizer import Sanitizer
from legion_misp.sections import load_config

from .adversarial import CYRILLIC
from .conftest import attribute, event, write_feed
from .test_adversarial import write_adversarial_config


@pytest.fixture(scope="module")
def hard_config(tmp_path_factory: pytest.TempPathFactory):
    return load_config(write_adversarial_config(tmp_path_factory.mktemp("hard")))


def with_privacy(folder: Path, extra: str, store: Path | None = None) -> Path:
    path = write_adversarial_config(folder)
    text = path.read_text(encoding="utf-8").replace("[privacy]", "[privacy]\n" + extra, 1)
    if store is not None:
        text = text.replace("learn_hostnames_from_store = false", "learn_hostnames_from_store = true")
        text += f'\n[store]\nkind = "feed"\npath = "{store}"\n'
    path.write_text(text, encoding="utf-8")
    return path


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        legion_main(args)
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out + captured.err


# ---- detectors ----------

def test_a_switched_off_detector_no_longer_redacts_and_the_others_still_do(tmp_path: Path) -> None:
    text = "refund to GB82 WEST 1234 5698 7654 32, call +44 20 7946 0958"
    item = event(attribute("text", text), info="x")
    on = Sanitizer.from_config(load_config(write_adversarial_config(tmp_path / "on")), seed=1)
    off = Sanitizer.from_config(load_config(with_privacy(tmp_path / "off", 'detectors = ["phone"]')), seed=1)
    shared_on = json.dumps(on.sanitize(item)[0])
    shared_off = json.dumps(off.sanitize(item)[0])
    assert "GB82 WEST" not in shared_on and "7946 0958" not in shared_on
    assert "GB82 WEST 1234 5698 7654 32" in shared_off and "7946 0958" not in shared_off


def test_unknown_detectors_and_bad_patterns_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="detectors"):
        load_config(with_privacy(tmp_path / "a", 'detectors = ["iban", "horoscope"]'))
    with pytest.raises(ConfigError, match="phone_regions"):
        load_config(with_privacy(tmp_path / "b", "phone_regions = ['XX']"))
    path = write_adversarial_config(tmp_path / "c")
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("internal_hostname_patterns = [", "internal_hostname_patterns = ['ws(', "),
                    encoding="utf-8")
    with pytest.raises(ConfigError, match="internal_hostname_patterns"):
        load_config(path)


def test_a_user_profile_path_keeps_its_indicator_value_with_the_name_replaced(hard_config) -> None:
    sanitizer = Sanitizer.from_config(hard_config, seed=1)
    item = event(attribute("filename", "C:\\Users\\a.kowalczyk\\AppData\\Local\\Temp\\stage2.exe"))
    shared, report = sanitizer.sanitize(item)
    values = [a["value"] for a in shared["Attribute"]]
    assert "C:\\Users\\[REDACTED]\\AppData\\Local\\Temp\\stage2.exe" in values
    assert any(a.action == "scrubbed" and "user-path" in a.reason for a in report.actions)


def test_an_indicator_holding_a_bank_number_is_dropped_not_shared(hard_config) -> None:
    sanitizer = Sanitizer.from_config(hard_config, seed=1)
    item = event(attribute("url", "https://evil.test/pay?iban=DE89370400440532013000"), attribute("ip-dst", "8.8.4.4"))
    shared, _ = sanitizer.sanitize(item)
    assert "DE8937" not in json.dumps(shared) and "8.8.4.4" in json.dumps(shared)


# ---- structure ----------

def test_an_event_with_an_unknown_field_is_withheld_with_the_reason(hard_config) -> None:
    sanitizer = Sanitizer.from_config(hard_config, seed=1)
    shared, report = sanitizer.sanitize(event(attribute("ip-dst", "8.8.4.4", customer="x"), info="x"))
    assert shared is None and report.outcome == "dropped"
    assert "withheld" in report.actions[0].reason and "attribute.customer" in report.actions[0].reason


def test_valid_enumerations_are_kept_and_the_rest_scrubbed_or_removed(hard_config) -> None:
    sanitizer = Sanitizer.from_config(hard_config, seed=1)
    obj = {"uuid": "3f1a0c5e-0a8c-4d7b-9a43-5d1f0e7b2c11", "name": "file", "meta-category": "file",
           "distribution": "5", "template_version": "x", "Attribute": [attribute("filename", "a.exe",
                                                                             object_relation="filename")],
           "ObjectReference": [{"uuid": "6b0f0d0e-1f1a-4c1e-8a8f-0f9c1a2b3c4d", "relationship_type": "drops",
                                "referenced_uuid": "7c1f0d0e-1f1a-4c1e-8a8f-0f9c1a2b3c4d"}]}
    shared, _ = sanitizer.sanitize(event(attribute("ip-dst", "8.8.4.4", first_seen="yesterday-ish"),
                                         Object=[obj], extends_uuid="not-a-uuid"))
    assert "extends_uuid" not in shared and "first_seen" not in shared["Attribute"][0]
    kept = shared["Object"][0]
    assert kept["meta-category"] == "file" and "template_version" not in kept
    assert kept["ObjectReference"][0]["relationship_type"] == "drops"
    assert kept["Attribute"][0]["object_relation"] == "filename"


# ---- host names learned from the store ----------

def test_short_host_names_are_learned_from_the_whole_local_store(tmp_path: Path) -> None:
    store = write_feed(tmp_path / "store", [event(attribute("hostname", "histsrv42.corp.example"), info="old")])
    sanitizer = Sanitizer.from_config(load_config(with_privacy(tmp_path / "conf", "", store=store)), seed=1)
    shared, _ = sanitizer.sanitize(event(attribute("text", "beacon from HISTSRV42 to 8.8.4.4"), info="new"))
    text = json.dumps(shared)
    assert "HISTSRV42" not in text and "8.8.4.4" in text
    alone = Sanitizer.from_config(load_config(with_privacy(tmp_path / "conf2", "")), seed=1)
    assert "HISTSRV42" in json.dumps(alone.sanitize(event(attribute("text", "from HISTSRV42"), info="n"))[0])


# ---- residual-risk report ----------

def test_the_dry_run_report_lists_surviving_identifier_like_tokens(tmp_path: Path, capsys) -> None:
    config_path = write_adversarial_config(tmp_path / "conf")
    feed = write_feed(tmp_path / "feed", [event(attribute(
        "text", "operator j.doe on FIN-LT0231 uploaded ticket 88123456 via CORP\\svc_backup"), info="x")])
    report_path = tmp_path / "report.json"
    code, output = run(["--config", str(config_path), "sanitize", "--in", str(feed), "--dry-run", "--report",
                        str(report_path)], capsys)
    assert code == 0 and "residual risk: 4 token(s)" in output
    residual = json.loads(report_path.read_text(encoding="utf-8"))["events"][0]["residual"]
    assert {(r["kind"], r["token"]) for r in residual} == {
        ("user-like", "j.doe"), ("host-like", "FIN-LT0231"), ("long-number", "88123456"),
        ("user-like", "CORP\\svc_backup")}
    assert not (tmp_path / "conf" / "data").exists()


# ---- publish gate ----------

def test_the_publish_gate_sees_what_the_sanitiser_sees(hard_config) -> None:
    policy = Policy.from_config(hard_config)
    item = event(attribute("counter", "734003200"), attribute("ip-dst", "8.8.4.4", comment="ask +44 20 7946 0958"),
                 Object=[{"uuid": "3f1a0c5e-0a8c-4d7b-9a43-5d1f0e7b2c11", "name": "file", "distribution": "5",
                          "description": "from \\\\FILESRV07\\finance$", "Attribute": []}],
                 info="c\u043erp\u3002example incident")
    kinds = {(f.path, f.kind) for f in publish_gate_findings(item, hard_config.organisation, policy)}
    assert kinds == {("info", "internal-host"), ("Attribute[1].comment", "phone"),
                     ("Object[0].description", "unc-host")}


# ---- property tests of the normalised view ----------

PROTECTED = ["vpn.corp.example", "Project Nightjar", "alice.b@corp.example", "Margaret Holloway"]
DOTS = ["\u3002", "\uff0e", "\uff61", "\u2024", "&#46;", "&period;", "[.]"]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u00ad", "\ufeff", "\u2060"]


def disguise(value: str, choices: list[int]) -> str:
    out = []
    for index, char in enumerate(value):
        choice = choices[index % len(choices)]
        if char == "." and choice % 3 == 0:
            out.append(DOTS[choice % len(DOTS)])
            continue
        if char.isalpha():
            char = char.upper() if choice % 2 else char.lower()
            if choice % 5 == 0:
                char = char.translate(CYRILLIC)
            elif choice % 7 == 0 and "a" <= char.lower() <= "z":
                char = chr(ord(char) + 0xFEE0)  # full width
        out.append(char)
        if choice % 4 == 1:
            out.append(INVISIBLE[choice % len(INVISIBLE)])
    return "".join(out)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(PROTECTED), st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=12),
       st.text(alphabet="abc xyz,;:()", max_size=12), st.text(alphabet="abc xyz,;:()", max_size=12))
def test_any_disguise_a_reader_sees_as_the_value_is_redacted(hard_config, value, choices, before, after) -> None:
    from legion_misp.privacy.scrub import ProtectedContent

    protected = ProtectedContent(hard_config.organisation, placeholder="#")
    written = disguise(value, choices)
    text = f"{before} {written} {after}"
    scrubbed, kinds = protected.scrub(text)
    assert kinds, text
    assert skeleton(value) not in views(scrubbed).skeleton.text


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60))
def test_every_view_character_maps_inside_the_original(text: str) -> None:
    seen = views(text)
    for view in (seen.clean, seen.plain, seen.skeleton):
        assert len(view.starts) == len(view.text) == len(view.ends)
        for start, end in zip(view.starts, view.ends, strict=True):
            assert 0 <= start < end <= len(text)
