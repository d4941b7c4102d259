"""Key files (mode 0600, atomic, never overwritten, never shown), rotation, and `legion keys`."""

from __future__ import annotations

import base64
import logging
import os
import stat
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import serialization

from legion_misp.cli import main
from legion_misp.errors import ConfigError
from legion_misp.log import RedactingFilter
from legion_misp.sections import parse_config
from legion_misp.timeutil import parse_time
from legion_misp.trust import KeyFileError, Signer, generate_key_file, load_private_key, rotate_key_file

CONFIG = """[organisation]
name = "Example Energy Ltd"
pseudonym = "member-7f3a"

[federation]
private_key = "file:keys/member.pem"
key_overlap = "2d"

[[federation.collections]]
url = "https://taxii.example/api1/"
collection = "c-shared"
direction = "both"
"""


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_key_file_is_created_0600_whatever_the_umask(tmp_path):
    previous = os.umask(0)
    try:
        info = generate_key_file(tmp_path / "sub" / "k.pem")
    finally:
        os.umask(previous)
    path = tmp_path / "sub" / "k.pem"
    assert _mode(path) == 0o600
    assert _mode(path.parent) & 0o077 == 0
    assert [p.name for p in path.parent.iterdir()] == ["k.pem"]  # no temporary file left behind
    key = load_private_key(path)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert base64.b64decode(info.public_key) == raw and len(info.key_id) == 32


def test_existing_key_is_never_overwritten(tmp_path):
    path = tmp_path / "k.pem"
    generate_key_file(path)
    before = path.read_bytes()
    with pytest.raises(KeyFileError, match="refusing to overwrite") as caught:
        generate_key_file(path)
    assert caught.value.path == path and caught.value.exit_code == 2
    assert path.read_bytes() == before


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_key_readable_by_others_is_refused(tmp_path, mode):
    path = tmp_path / "k.pem"
    generate_key_file(path)
    path.chmod(mode)
    with pytest.raises(KeyFileError, match=f"mode {mode:04o}"):
        load_private_key(path)


def test_missing_or_wrong_key_files_name_the_path_only(tmp_path):
    with pytest.raises(KeyFileError, match="does not exist"):
        load_private_key(tmp_path / "absent.pem")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    junk.chmod(0o600)
    with pytest.raises(KeyFileError, match="PKCS#8") as caught:
        load_private_key(junk)
    assert "not a key" not in str(caught.value)


def test_rotation_archives_the_old_key_and_signs_with_the_new(tmp_path):
    path = tmp_path / "k.pem"
    first = generate_key_file(path)
    old, new, archive = rotate_key_file(path, now=parse_time("2026-11-02T10:00:00Z"))
    assert old == first and new.key_id != first.key_id
    assert archive.name == "k.pem.retired-20261102T100000Z"
    assert _mode(path) == 0o600 and _mode(archive) == 0o600
    assert Signer.from_file("m", path).key_id == new.key_id
    assert Signer.from_file("m", archive).key_id == old.key_id


def test_private_key_must_be_a_file_reference(tmp_path):
    with pytest.raises(ConfigError, match=r"federation\.private_key") as caught:
        parse_config(CONFIG.replace("file:keys/member.pem", "env:LEGION_KEY"), base_dir=tmp_path)
    assert "mode 0600" in str(caught.value)
    with pytest.raises(ConfigError, match="never the value itself"):
        parse_config(CONFIG.replace("file:keys/member.pem", "MC4CAQAwBQYDK2VwBCIEIA"), base_dir=tmp_path)


@dataclass
class Outcome:
    exit_code: int
    output: str


def _run(tmp_path, capsys, *args, config: str = CONFIG) -> Outcome:
    """`legion -vv keys ...` through the real entry point (exit codes and error lines as a user sees them)."""
    (tmp_path / "legion.toml").write_text(config)
    try:
        main(["--config", str(tmp_path / "legion.toml"), "-vv", "keys", *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return Outcome(code, captured.out + captured.err)


def test_keys_cli_generate_show_rotate_never_print_the_private_key(tmp_path, capsys):
    created = _run(tmp_path, capsys, "generate")
    assert created.exit_code == 0, created.output
    key_file = tmp_path / "keys" / "member.pem"
    assert _mode(key_file) == 0o600
    secret_lines = [line for line in key_file.read_text().splitlines() if not line.startswith("-----")]
    public = Signer.from_file("x", key_file).info.public_key
    assert f'public_key = "{public}"' in created.output and 'collections = ["c-shared"]' in created.output
    assert 'pseudonym = "member-7f3a"' in created.output

    again = _run(tmp_path, capsys, "generate")
    assert again.exit_code == 2 and "refusing to overwrite" in again.output

    shown = _run(tmp_path, capsys, "show")
    assert shown.exit_code == 0 and public in shown.output and "not in its own roster" in shown.output

    rotated = _run(tmp_path, capsys, "rotate")
    assert rotated.exit_code == 0, rotated.output
    new_public = Signer.from_file("x", key_file).info.public_key
    assert new_public != public
    assert f'public_key = "{new_public}"' in rotated.output
    assert "[[federation.members.previous_keys]]" in rotated.output and f'public_key = "{public}"' in rotated.output
    snippet = rotated.output[rotated.output.index("[[federation.members]]"):]
    roster_config = parse_config(CONFIG + "\n" + snippet, base_dir=tmp_path)  # the snippet is valid roster TOML
    (member,) = roster_config.section("federation")["members"]
    assert member["previous_keys"][0]["public_key"] == public

    everything = "\n".join([created.output, again.output, shown.output, rotated.output])
    for line in secret_lines:
        assert line not in everything
    filtered = logging.LogRecord("legion_misp", logging.INFO, __file__, 1, "oops %s", (key_file.read_text(),),
                                 None)
    RedactingFilter().filter(filtered)  # the key text was registered for redaction when it was loaded
    assert all(line not in filtered.getMessage() for line in key_file.read_text().splitlines()[1:-1])


def test_keys_show_without_configured_key_is_a_usage_error(tmp_path, capsys):
    result = _run(tmp_path, capsys, "show", config=CONFIG.replace('private_key = "file:keys/member.pem"\n', ""))
    assert result.exit_code == 2 and "legion keys generate" in result.output


def test_key_file_readable_by_others_stops_the_cli(tmp_path, capsys):
    assert _run(tmp_path, capsys, "generate").exit_code == 0
    (tmp_path / "keys" / "member.pem").chmod(0o644)
    result = _run(tmp_path, capsys, "show")
    assert result.exit_code == 2 and "mode 0644" in result.output and "chmod 600" in result.output


def test_the_one_time_parser_reads_misp_and_taxii_forms():
    import datetime as dt

    from legion_misp.timeutil import format_time, parse_time

    utc = dt.UTC
    assert parse_time("2025-03-03T10:00:00.123456789Z") == dt.datetime(2025, 3, 3, 10, 0, 0, 123456, tzinfo=utc)
    assert parse_time("2025-03-03 10:00:00+02:00") == dt.datetime(2025, 3, 3, 8, tzinfo=utc)  # RFC 3339 5.6 space
    assert parse_time("2025-03-03", assume_utc=True, allow_date=True) == dt.datetime(2025, 3, 3, tzinfo=utc)
    for bad, options in (("2025-03-03T10:00:00", {}), ("2025-03-03", {"assume_utc": True}), ("x", {})):
        with pytest.raises(ValueError):
            parse_time(bad, **options)
    moment = dt.datetime(2026, 11, 2, 10, 0, 0, 123456, tzinfo=utc)
    assert (format_time(moment), format_time(moment, digits=6)) == ("2026-11-02T10:00:00.123Z",
                                                                      "2026-11-02T10:00:00.123456Z")
