"""The trust keys of ``[federation]`` and the validated :class:`TrustSettings`.

The app layer (:mod:`legion_misp.sections`) puts these keys into ``[federation]``:

- the roster (:data:`MEMBERS_KEY`, ``[[federation.members]]``: pseudonym, public key, collections);
- our own signing key (``private_key = "file:PATH"``, mode 0600, see :mod:`.keys`);
- what we accept (``require_signatures``), how many lying members we tolerate (``corroboration_f``) and within
  which window confirmations count (``corroboration_window``);
- per member: ``previous_keys`` (rotated keys, valid for ``key_overlap`` after ``retired_at``) and
  ``revoked_keys`` (never accepted again from ``revoked_at`` on).

Values are validated once by the configuration loader; roster-wide rules (a public key listed for two members,
or listed as both current and revoked) are checked when the :class:`~.roster.Roster` is built.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigProblem
from ..schema import Key, in_range, non_empty_str
from ..timeutil import is_duration, is_timestamp, parse_duration
from .roster import is_ed25519_public_key

if TYPE_CHECKING:
    from ..config import Config

DEFAULT_WINDOW = "30d"
DEFAULT_OVERLAP = "7d"


def _file_reference(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith("file:") and len(value) > 5:
        return None
    return "must be 'file:PATH' (the key file is checked for mode 0600, which an environment variable cannot be)"


def _collection_ids(value: Any) -> str | None:
    if not all(isinstance(v, str) and v.strip() for v in value):
        return "must be an array of collection ids (or \"*\" for any collection)"
    return None


PREVIOUS_KEY_KEYS: tuple[Key, ...] = (
    Key("public_key", str, doc="A rotated-out Ed25519 public key of the member (base64 of the 32 raw bytes).",
        check=is_ed25519_public_key),
    Key("retired_at", (str, dt.datetime), doc="When the member stopped signing with it (RFC 3339, e.g. "
        "2026-11-02T10:00:00Z). Signatures with it are accepted until retired_at + key_overlap.",
        check=is_timestamp),
)

REVOKED_KEY_KEYS: tuple[Key, ...] = (
    Key("public_key", str, doc="A revoked Ed25519 public key of the member (base64 of the 32 raw bytes).",
        check=is_ed25519_public_key),
    Key("revoked_at", (str, dt.datetime), doc="From when no signature by this key is accepted (RFC 3339). "
        "Objects received before stay; anything received from then on is quarantined.", check=is_timestamp),
    Key("reason", str, "", "Why the key was revoked (shown in quarantine reasons), e.g. 'key compromised'."),
)

TRUSTED_MEMBER_KEYS: tuple[Key, ...] = (
    Key("pseudonym", str, doc="The member's federation pseudonym.", check=non_empty_str),
    Key("public_key", str, doc="The member's Ed25519 public key (base64 of the 32 raw bytes).",
        check=is_ed25519_public_key),
    Key("collections", list, [], "Ids of the TAXII collections this member may publish to (\"*\": any). An "
        "object signed by a member on a collection not listed here is quarantined.", check=_collection_ids),
    Key("previous_keys", list, [], "Keys the member rotated out ([[federation.members.previous_keys]]: "
        "public_key, retired_at).", item_schema=PREVIOUS_KEY_KEYS),
    Key("revoked_keys", list, [], "Keys the member revoked ([[federation.members.revoked_keys]]: public_key, "
        "revoked_at, reason).", item_schema=REVOKED_KEY_KEYS),
)

MEMBERS_KEY = Key("members", list, [], "The member roster ([[federation.members]] tables): pseudonym, public_key, "
                  "collections, previous_keys, revoked_keys. List every member, this organisation included.",
                  item_schema=TRUSTED_MEMBER_KEYS)

TRUST_KEYS: tuple[Key, ...] = (
    Key("private_key", str, None, "This organisation's Ed25519 signing key, as 'file:PATH' (created by "
        "`legion keys generate`, mode 0600). Every object published is signed with it.", check=_file_reference,
        secret=True),
    Key("require_signatures", bool, True, "Quarantine pulled objects that carry no signature. Objects with a "
        "signature are always verified, whatever this says."),
    Key("corroboration_f", int, 1, "How many lying members to tolerate: an indicator gets to_ids = true only "
        "when at least f+1 distinct members published it within corroboration_window.", check=in_range(0, 100)),
    Key("corroboration_window", str, DEFAULT_WINDOW, "Publications of the same indicator by different members "
        "corroborate each other when they fall within this span, e.g. '30d'.", check=is_duration),
    Key("key_overlap", str, DEFAULT_OVERLAP, "How long a rotated-out key (previous_keys) stays valid after its "
        "retired_at, e.g. '7d'.", check=is_duration),
)



def member_problems(federation: dict[str, Any]) -> list[ConfigProblem]:
    """``[federation]`` check across members: each pseudonym appears once in the roster."""
    problems = []
    seen: dict[str, int] = {}
    for index, member in enumerate(federation.get("members", [])):
        name = member.get("pseudonym")
        if name in seen:
            problems.append(ConfigProblem(f"federation.members[{index}].pseudonym",
                                          f"duplicate of federation.members[{seen[name]}]"))
        seen.setdefault(name, index)
    return problems


@dataclass(frozen=True)
class TrustSettings:
    """How this organisation signs and what it accepts. Durations in seconds.

    Parameters
    ----------
    pseudonym : our federation pseudonym (the signer name in our signatures).
    private_key_path : our key file, or None when this organisation does not sign (then it may not publish while
        ``require_signatures`` is on).
    require_signatures : quarantine unsigned objects (default True).
    corroboration_f : lying members tolerated; ``to_ids`` needs ``f + 1`` distinct publishers (default 1).
    corroboration_window : span in seconds within which publications corroborate each other (default 30 days).
    key_overlap : seconds a rotated-out key stays valid after its ``retired_at`` (default 7 days).
    """

    pseudonym: str
    private_key_path: Path | None = None
    require_signatures: bool = True
    corroboration_f: int = 1
    corroboration_window: float = parse_duration(DEFAULT_WINDOW)
    key_overlap: float = parse_duration(DEFAULT_OVERLAP)

    @classmethod
    def from_config(cls, config: Config) -> TrustSettings:
        values = config.section("federation")
        reference = values["private_key"]
        return cls(
            pseudonym=config.organisation.pseudonym,
            private_key_path=config.resolve_path(reference.removeprefix("file:")) if reference else None,
            require_signatures=values["require_signatures"],
            corroboration_f=values["corroboration_f"],
            corroboration_window=parse_duration(values["corroboration_window"]),
            key_overlap=parse_duration(values["key_overlap"]),
        )
