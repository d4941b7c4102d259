"""``legion sanitize``: bad input, dry runs, reports, exit codes, and ``legion sanitize stats``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from legion_misp.cli import main as legion_main
from legion_misp.privacy.ledger import open_ledger
from legion_misp.sections import load_config
from legion_misp.stores import FeedStore

from .conftest import attribute, event, new_uuid, write_config, write_feed
from .test_ledger import event_files


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        legion_main(args)
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out, captured.err


@pytest.fixture
def bad_feed(tmp_path: Path) -> tuple[Path, dict[str, str], list[str]]:
    good = [event(attribute("domain", f"good{i}.example.net")) for i in range(3)]
    feed = write_feed(tmp_path / "feed", good)
    manifest = json.loads((feed / "manifest.json").read_text())
    bad: dict[str, str] = {}

    def plant(name: str, data: bytes, uuid: str | None = None) -> None:
        uuid = uuid or new_uuid()
        (feed / f"{uuid}.json").write_bytes(data)
        manifest[uuid] = {"timestamp": 1700000000, "info": "x", "Tag": [], "Orgc": {}}
        bad[name] = uuid

    plant("malformed", b'{"Event": {"uuid": "')
    plant("non-utf8", '{"Event": {"info": "caf\u00e9"}}'.encode("latin-1"))
    unknown = event(attribute("no-such-type", "x"))
    plant("unknown-type", json.dumps({"Event": unknown}).encode(), unknown["uuid"])
    bad["unknown-type-event"] = unknown["uuid"]
    missing = {k: v for k, v in event(attribute("domain", "m.example.net")).items() if k != "distribution"}
    plant("missing-distribution", json.dumps({"Event": missing}).encode(), missing["uuid"])
    bad["missing-distribution-event"] = missing["uuid"]
    no_value = event({"uuid": new_uuid(), "type": "domain"})
    plant("missing-value", json.dumps({"Event": no_value}).encode(), no_value["uuid"])
    bad["missing-value-event"] = no_value["uuid"]
    (feed / "manifest.json").write_text(json.dumps(manifest))
    return feed, bad, [e["uuid"] for e in good]


def test_bad_input_fails_alone_with_a_clear_error(tmp_path: Path, bad_feed, config_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    feed, bad, good = bad_feed
    out_dir, report_path = tmp_path / "out", tmp_path / "report.json"
    code, stdout, stderr = run(["--config", str(config_path), "sanitize", "--in", str(feed), "--out", str(out_dir),
                                "--report", str(report_path)], capsys)
    assert code == 1
    assert "malformed JSON" in stderr and "not UTF-8" in stderr
    assert "unknown attribute type 'no-such-type'" in stderr
    assert "missing field: event 'distribution'" in stderr
    assert "'type' and 'value'" in stderr
    for name in ("malformed", "non-utf8", "unknown-type", "missing-distribution", "missing-value"):
        assert bad[name] in stderr, name  # the file (named by uuid) is in the message
    for name in ("unknown-type-event", "missing-distribution-event", "missing-value-event"):
        assert f"event {bad[name]}" in stderr
    assert sorted(p.stem for p in event_files(out_dir)) == sorted(good)
    assert FeedStore(out_dir).check() == []
    assert not list(out_dir.glob(".*.tmp"))
    report = json.loads(report_path.read_text())
    assert report["summary"]["failed"] == 5 and report["summary"]["shared"] == 3
    assert "8 events read" in stdout


def test_dry_run_writes_nothing_and_debits_nothing(tmp_path: Path, config_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    item = event(attribute("ip-dst", "10.0.0.1"), attribute("email-dst", "v@partner.example"),
                 attribute("counter", "7"), attribute("text", "see ws1.corp.example"))
    feed = write_feed(tmp_path / "feed", [item])
    report_path = tmp_path / "dry.json"
    code, stdout, _ = run(["--config", str(config_path), "sanitize", "--in", str(feed), "--out",
                           str(tmp_path / "out"), "--dry-run", "--report", str(report_path), "--seed", "1"], capsys)
    assert code == 0
    assert not (tmp_path / "out").exists()
    assert open_ledger(load_config(config_path)).entries() == []
    # a dry run draws no noise: it says that the sighting counts would be noised, and never decides on them
    line = re.search(re.escape(item["uuid"]) + r"  '.*': shared \(dropped 1, pseudonymised 2, scrubbed 1, noised (\d+)",
                     stdout)
    assert line is not None and int(line.group(1)) >= 1
    assert "release cost (not debited, dry run): ε 1," in stdout
    entry = json.loads(report_path.read_text())["events"][0]
    reasons = {a["action"]: a["reason"] for a in entry["actions"]}
    assert reasons["dropped"] == "value contains protected-ip"
    assert entry["epsilon"] == pytest.approx(1.0)  # a sighting-tree block; counter shared as-is; no times here
    assert entry["fresh_noise"] > 0 and entry["republished_noise"] == 0
    assert "10.0.0.1" not in report_path.read_text() and "v@partner.example" not in report_path.read_text()


def test_seed_is_refused_for_a_real_release(tmp_path: Path, config_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    feed = write_feed(tmp_path / "feed", [event(attribute("domain", "a.example.net"))])
    code, _, stderr = run(["--config", str(config_path), "sanitize", "--in", str(feed), "--out",
                           str(tmp_path / "out"), "--seed", "3"], capsys)
    assert code == 2 and "refused for a real release" in stderr
    assert not (tmp_path / "out").exists() and open_ledger(load_config(config_path)).entries() == []


def test_a_real_run_reports_and_debits_once(tmp_path: Path, config_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LEGION_ALLOW_TEST_SEED", "1")
    feed = write_feed(tmp_path / "feed", [event(attribute("domain", "a.example.net"))])
    code, stdout, stderr = run(["--config", str(config_path), "sanitize", "--in", str(feed), "--out",
                                str(tmp_path / "out"), "--seed", "3"], capsys)
    assert code == 0
    assert "NOT private" in stderr
    assert "release cost debited: ε 1," in stdout
    entries = open_ledger(load_config(config_path)).entries()
    assert len(entries) == 1 and entries[0].epsilon == pytest.approx(1.0) and entries[0].scope == "sanitize"


def test_a_withdrawn_event_loses_its_shared_copy(tmp_path: Path, config_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    item = event(attribute("domain", "a.example.net"))
    feed = write_feed(tmp_path / "feed", [item])
    args = ["--config", str(config_path), "sanitize", "--in", str(feed), "--out", str(tmp_path / "out")]
    assert run(args, capsys)[0] == 0
    FeedStore(feed).upsert(dict(item, Tag=[{"name": "tlp:red"}], timestamp="1700000999"))
    code, stdout, _ = run(args, capsys)
    assert code == 0 and "withdrew 1" in stdout
    assert event_files(tmp_path / "out") == []


@pytest.mark.parametrize("problem, args", [
    ("same", ["--out", "{feed}"]),
    ("missing", ["--in", "{tmp}/nope", "--out", "{tmp}/out"]),
])
def test_usage_errors_exit_2(tmp_path: Path, config_path: Path, capsys: pytest.CaptureFixture[str],
                             problem: str, args: list[str]) -> None:
    feed = write_feed(tmp_path / "feed", [event(attribute("domain", "a.example.net"))])
    filled = [a.format(feed=feed, tmp=tmp_path) for a in args]
    if problem == "same":
        filled = ["--in", str(feed), *filled]
    code, _, stderr = run(["--config", str(config_path), "sanitize", *filled], capsys)
    assert code == 2, stderr


def test_config_errors_exit_2_and_never_print_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_path = write_config(tmp_path / "conf")
    text = config_path.read_text().replace('[privacy]', '[privacy]\nsightings_epsilon = -1')
    config_path.write_text(text)
    code, _, stderr = run(["--config", str(config_path), "sanitize", "--dry-run"], capsys)
    assert code == 2 and "privacy.sightings_epsilon" in stderr
    key_path = tmp_path / "conf" / "federation.key"
    key_path.write_text("short")
    config_path.write_text(text.replace("sightings_epsilon = -1", ""))
    code, stdout, stderr = run(["--config", str(config_path), "sanitize", "--dry-run"], capsys)
    assert code == 2 and "pseudonym_key" in stderr and "short" not in stderr + stdout


def test_stats_release_is_one_documented_event_and_is_debited(tmp_path: Path, config_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    import time

    monkeypatch.setenv("LEGION_ALLOW_TEST_SEED", "1")
    now = int(time.time())
    events = [event(attribute("ip-dst", f"203.0.113.{i % 200}"), attribute("domain", f"d{i}.example.net"),
                    timestamp=str(now - 3600), distribution="0" if i % 2 else "3",
                    Tag=[{"name": "tlp:green"}, {"name": 'misp-galaxy:mitre-attack-pattern="Phishing - T1566"'}])
              for i in range(400)]
    events.append(event(attribute("ip-dst", "203.0.113.1"), timestamp=str(now - 90 * 86400)))
    feed = write_feed(tmp_path / "feed", events)
    out_dir = tmp_path / "stats"
    code, stdout, _ = run(["--config", str(config_path), "sanitize", "stats", "--window", "30d", "--in", str(feed),
                           "--out", str(out_dir), "--report", str(tmp_path / "stats.json"), "--seed", "5"], capsys)
    assert code == 0, stdout
    [released] = list(FeedStore(out_dir).query())
    header = next(o for o in released["Object"] if o["name"] == "legion-dp-statistics")
    fields = {a["object_relation"]: a["value"] for a in header["Attribute"]}
    assert fields["epsilon"] == "1" and float(fields["delta"]) <= 1e-6
    assert "one MISP event" in fields["unit-of-privacy"]
    counts = {(f["dimension"], f["key"]): int(f["count"]) for f in
              ({a["object_relation"]: a["value"] for a in o["Attribute"]} for o in released["Object"]
               if o["name"] == "legion-dp-count")}
    assert abs(counts[("total", "events")] - 400) < 60  # the 90-day-old event is outside the window
    assert ("type", "ip-dst") in counts and ("category", "Network activity") in counts
    assert ("technique", "T1566") in counts and ("tag", "tlp:green") in counts
    assert ("type", "sha512") not in counts  # noisy zeros are suppressed
    assert released["Orgc"]["name"] == "member-7f3a"
    assert "Example Energy" not in json.dumps(released)
    entries = open_ledger(load_config(config_path)).entries()
    assert [(e.scope, e.epsilon) for e in entries] == [("stats", 1.0)]


def test_stats_dry_run_releases_nothing(tmp_path: Path, config_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = run(["--config", str(config_path), "sanitize", "stats", "--dry-run", "--out",
                           str(tmp_path / "s")], capsys)
    assert code == 0 and "nothing released" in stdout
    assert not (tmp_path / "s").exists()
    assert open_ledger(load_config(config_path)).entries() == []


def test_keys_pseudonym_creates_a_strong_0600_key_and_never_prints_it(tmp_path: Path, config_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from legion_misp.privacy.pseudonyms import key_from_text

    out = tmp_path / "keys" / "pseudonym.key"
    code, stdout, stderr = run(["--config", str(config_path), "keys", "pseudonym", "--out", str(out)], capsys)
    assert code == 0, stderr
    text = out.read_text()
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert len(key_from_text(text)) == 32 and text.strip() not in stdout + stderr
    assert 'pseudonym_key = "file:' in stdout and "pseudonym_epoch" in stdout
    code, _, stderr = run(["--config", str(config_path), "keys", "pseudonym", "--out", str(out)], capsys)
    assert code == 2 and "already exists" in stderr and out.read_text() == text
