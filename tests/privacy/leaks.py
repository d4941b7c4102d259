"""Search everything written to a folder for canaries: plain, case-insensitive, URL-decoded and base64-decoded."""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path
from urllib.parse import unquote

_B64 = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")


def output_text(folder: Path) -> str:
    """Every file under ``folder`` (recursively), decoded leniently, joined."""
    parts = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            parts.append(path.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(parts)


def _decoded_base64_tokens(text: str) -> list[str]:
    found = []
    for token in _B64.findall(text):
        body = token.rstrip("=").replace("-", "+").replace("_", "/")
        for trim in range(4):
            chunk = body[: len(body) - trim] if trim else body
            if len(chunk) % 4 == 1:
                continue
            try:
                raw = base64.b64decode(chunk + "=" * (-len(chunk) % 4), validate=True)
            except (binascii.Error, ValueError):
                continue
            found.append(raw.decode("utf-8", errors="ignore"))
            found.append(raw.decode("utf-16-le", errors="ignore"))
            break
    return found


def _base64_forms(value: str) -> list[str]:
    """base64 of the value at each of the three alignments inside a longer string (stable inner part)."""
    forms = []
    for shift in range(3):
        encoded = base64.b64encode(b"\x00" * shift + value.encode()).decode()
        start = {0: 0, 1: 4, 2: 4}[shift]
        inner = encoded[start:len(encoded) - 4]
        if len(inner) >= 8:
            forms.append(inner)
    return forms


def find_leaks(text: str, values: list[str]) -> list[tuple[str, str]]:
    """``(value, where)`` for every value found in ``text`` in any of the searched forms."""
    lowered = text.lower()
    url_decoded = unquote(unquote(text)).lower()
    b64_decoded = "\n".join(_decoded_base64_tokens(text)).lower()
    leaks = []
    for value in values:
        needle = value.lower()
        if needle in lowered:
            leaks.append((value, "plain"))
        elif needle in url_decoded:
            leaks.append((value, "url-encoded"))
        elif needle in b64_decoded:
            leaks.append((value, "base64-decoded"))
        elif any(form in text for form in _base64_forms(value)):
            leaks.append((value, "base64-embedded"))
    return leaks
