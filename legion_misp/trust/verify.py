"""Verifying pulled STIX objects against the roster: pure functions, no I/O, the clock passed in.

:meth:`Verifier.verify` decides about one object; :func:`verify_bundle` about a list (what the MISP import module
calls). A :class:`Verdict` says whether the object is accepted and, if not, why, with a stable ``code``:

=================== ==========================================================================================
code                meaning
=================== ==========================================================================================
unsigned            no signature, and ``require_signatures`` is on
malformed-signature the signature entry is not shaped as the extension's schema says
unknown-member      the signer is not in the roster
unknown-key         the key id is not one of the signer's keys (a key of another member is named as such)
bad-signature       the signature does not verify: the object was altered, or not signed by that key
revoked-key         the key was revoked at or before the time the object was received
expired-key         a rotated-out key used after its ``retired_at`` + ``key_overlap``
not-allowed         the signer may not publish to this collection
replay              a version older than the one already accepted for this id (rollback)
signer-changed      this id was accepted from another member before (re-published under another signature)
constant-mismatch   an object with a protocol-constant id (extension definition, TLP marking) that differs
malformed           not a STIX object, or ``modified``/``created`` is not a timestamp
=================== ==========================================================================================

Order of checks: shape → member → key → signature → key status (revoked/expired) → collection → history. So a
forged object is reported as forged even when it claims a revoked key, and an authentic object of a revoked key
is reported as revoked.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..timeutil import parse_time
from .canonical import CanonicalizationError, canonicalize, signature_entry, signing_payload, without_signature
from .extension import ALGORITHM, constant_objects
from .roster import KeyStatus, Roster


class Code(StrEnum):
    ACCEPTED = "accepted"
    UNSIGNED = "unsigned"
    MALFORMED_SIGNATURE = "malformed-signature"
    UNKNOWN_MEMBER = "unknown-member"
    UNKNOWN_KEY = "unknown-key"
    BAD_SIGNATURE = "bad-signature"
    REVOKED_KEY = "revoked-key"
    EXPIRED_KEY = "expired-key"
    NOT_ALLOWED = "not-allowed"
    REPLAY = "replay"
    SIGNER_CHANGED = "signer-changed"
    CONSTANT_MISMATCH = "constant-mismatch"
    MALFORMED = "malformed"


@dataclass(frozen=True)
class AcceptedVersion:
    """The latest version of an id accepted so far, and who signed the first accepted version (None: unsigned,
    accepted while ``require_signatures`` was off, or a protocol constant)."""

    version: str
    signer: str | None


@dataclass(frozen=True)
class Verdict:
    """The decision about one object. ``reason`` is a sentence for the quarantine; ``code`` is stable."""

    code: Code
    reason: str = ""
    stix_id: str | None = None
    version: str = ""
    signer: str | None = None
    key_id: str | None = None

    @property
    def accepted(self) -> bool:
        return self.code is Code.ACCEPTED

    @property
    def quarantine_reason(self) -> str:
        return f"trust: {self.code.value}: {self.reason}"


def _reject(code: Code, reason: str, stix_id: str | None, version: str = "", signer: str | None = None,
            key: str | None = None) -> Verdict:
    return Verdict(code=code, reason=reason, stix_id=stix_id, version=version, signer=signer, key_id=key)


class Verifier:
    """Checks objects against a roster.

    Parameters
    ----------
    roster : who may sign, with which keys, where.
    require_signatures : refuse unsigned objects (default True). Signed objects are always verified.
    key_overlap : seconds a rotated-out key stays valid after its ``retired_at``.
    """

    def __init__(self, roster: Roster, *, require_signatures: bool = True, key_overlap: float = 7 * 86400.0):
        self.roster = roster
        self.require_signatures = require_signatures
        self.key_overlap = key_overlap
        self._constants = {i: canonicalize(o) for i, o in constant_objects().items()}

    def verify(self, obj: Any, *, now: dt.datetime, collection: str | None = None,
               previous: AcceptedVersion | None = None) -> Verdict:
        """Decide about one object received at ``now`` from ``collection`` (None: not checked), given the
        version of the same id accepted before (``previous``), if any."""
        if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
            return _reject(Code.MALFORMED, "not a STIX object (no string 'id')", None)
        stix_id = obj["id"]
        version = str(obj.get("modified") or obj.get("created") or "")
        if version:
            try:
                parse_time(version)
            except ValueError:
                return _reject(Code.MALFORMED, f"'modified'/'created' {version[:40]!r} is not a timestamp",
                               stix_id)
        if stix_id in self._constants:
            return self._verify_constant(obj, stix_id, version)
        entry = signature_entry(obj)
        if entry is None:
            if self.require_signatures:
                return _reject(Code.UNSIGNED, "the object carries no signature and require_signatures is on",
                               stix_id, version)
            return self._check_history(stix_id, version, None, None, previous)
        checked = self._check_entry(entry, stix_id, version)
        if isinstance(checked, Verdict):
            return checked
        signer, wanted_key, signature = checked
        member = self.roster.get(signer)
        if member is None:
            return _reject(Code.UNKNOWN_MEMBER, f"signer {signer[:80]!r} is not a member of the federation roster",
                           stix_id, version, signer[:80], wanted_key)
        key = member.key(wanted_key)
        if key is None:
            owner = self.roster.owner_of(wanted_key)
            detail = (f"; that key belongs to member {owner[0].pseudonym!r}" if owner is not None else "")
            return _reject(Code.UNKNOWN_KEY, f"key {wanted_key} is not a key of member {signer!r}{detail}",
                           stix_id, version, signer, wanted_key)
        try:
            payload = signing_payload(obj)
        except CanonicalizationError as exc:
            return _reject(Code.MALFORMED, str(exc), stix_id, version, signer, wanted_key)
        try:
            Ed25519PublicKey.from_public_bytes(key.public_key).verify(signature, payload)
        except InvalidSignature:
            return _reject(Code.BAD_SIGNATURE, f"the signature does not verify with key {wanted_key} of member "
                           f"{signer!r}: the object was altered after signing, or signed by someone else",
                           stix_id, version, signer, wanted_key)
        if key.status is KeyStatus.REVOKED and key.since is not None and now >= key.since:
            why = f" ({key.reason})" if key.reason else ""
            return _reject(Code.REVOKED_KEY, f"key {wanted_key} of member {signer!r} was revoked at "
                           f"{key.since.isoformat()}{why}; signatures by it are no longer accepted",
                           stix_id, version, signer, wanted_key)
        if key.status is KeyStatus.PREVIOUS and key.since is not None \
                and now > key.since + dt.timedelta(seconds=self.key_overlap):
            return _reject(Code.EXPIRED_KEY, f"key {wanted_key} of member {signer!r} was retired at "
                           f"{key.since.isoformat()} and its overlap of {self.key_overlap:.0f} s has ended",
                           stix_id, version, signer, wanted_key)
        if collection is not None and not member.may_publish_to(collection):
            return _reject(Code.NOT_ALLOWED, f"member {signer!r} may not publish to collection {collection!r} "
                           f"(its roster entry allows: {', '.join(sorted(member.collections)) or 'none'})",
                           stix_id, version, signer, wanted_key)
        return self._check_history(stix_id, version, signer, wanted_key, previous)

    def _verify_constant(self, obj: dict[str, Any], stix_id: str, version: str) -> Verdict:
        try:
            same = canonicalize(without_signature(obj)) == self._constants[stix_id]
        except CanonicalizationError:
            same = False
        if not same:
            return _reject(Code.CONSTANT_MISMATCH, "this id belongs to a protocol constant (the signature extension "
                           "definition or a STIX TLP marking) but the content differs from it", stix_id, version)
        return Verdict(code=Code.ACCEPTED, stix_id=stix_id, version=version)

    @staticmethod
    def _check_entry(entry: Any, stix_id: str, version: str) -> Verdict | tuple[str, str, bytes]:
        def bad(what: str) -> Verdict:
            return _reject(Code.MALFORMED_SIGNATURE, f"the signature extension entry {what}", stix_id, version)

        if not isinstance(entry, dict):
            return bad("is not an object")
        if entry.get("extension_type") != "property-extension":
            return bad("does not say extension_type = property-extension")
        if entry.get("algorithm") != ALGORITHM:
            return bad(f"names algorithm {str(entry.get('algorithm'))[:40]!r}, not {ALGORITHM}")
        signer, wanted_key, text = entry.get("signer"), entry.get("key_id"), entry.get("signature")
        if not isinstance(signer, str) or not signer:
            return bad("has no signer")
        if not isinstance(wanted_key, str) or len(wanted_key) != 32:
            return bad("has no valid key_id")
        if not isinstance(text, str) or len(text) != 86:
            return bad("has no 64-byte base64url signature")
        try:
            signature = base64.urlsafe_b64decode(text + "==")
        except (binascii.Error, ValueError):
            return bad("has a signature that is not base64url")
        if len(signature) != 64:
            return bad("has a signature that is not 64 bytes")
        extra = set(entry) - {"extension_type", "signer", "algorithm", "key_id", "signature"}
        if extra:
            return bad(f"has unknown members: {', '.join(sorted(extra))[:80]}")
        return signer, wanted_key, signature

    @staticmethod
    def _check_history(stix_id: str, version: str, signer: str | None, key: str | None,
                       previous: AcceptedVersion | None) -> Verdict:
        if previous is not None:
            if previous.signer is not None and signer != previous.signer:
                who = f"member {signer!r}" if signer else "nobody (unsigned)"
                return _reject(Code.SIGNER_CHANGED, f"{stix_id} was published by member {previous.signer!r}; a "
                               f"version signed by {who} is refused", stix_id, version, signer, key)
            if _older(version, previous.version):
                return _reject(Code.REPLAY, f"version {version or '(none)'} is older than version "
                               f"{previous.version} already accepted for this id (replay or rollback)",
                               stix_id, version, signer, key)
        return Verdict(code=Code.ACCEPTED, stix_id=stix_id, version=version, signer=signer, key_id=key)


def _older(version: str, than: str) -> bool:
    if not than:
        return False
    if not version:
        return True
    return parse_time(version) < parse_time(than)


def remember(previous: AcceptedVersion | None, verdict: Verdict) -> AcceptedVersion:
    """The history entry after accepting ``verdict``: the newest version; the first signer stays."""
    if previous is None:
        return AcceptedVersion(version=verdict.version, signer=verdict.signer)
    newer = verdict.version if _older(previous.version, verdict.version) else previous.version
    return AcceptedVersion(version=newer, signer=previous.signer or verdict.signer)


@dataclass
class BundleVerification:
    """The outcome of :func:`verify_bundle`: accepted objects, rejected ones with their verdicts (input order),
    and the history entries the caller should persist."""

    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[tuple[Any, Verdict]] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    history: dict[str, AcceptedVersion] = field(default_factory=dict)

    @property
    def reasons(self) -> dict[str, int]:
        """How many objects were rejected per code."""
        counts: dict[str, int] = {}
        for _, verdict in self.rejected:
            counts[verdict.code.value] = counts.get(verdict.code.value, 0) + 1
        return counts


def verify_bundle(objects: Iterable[Any], roster: Roster, *, now: dt.datetime, collection: str | None = None,
                  history: Mapping[str, AcceptedVersion] | None = None, require_signatures: bool = True,
                  key_overlap: float = 7 * 86400.0) -> BundleVerification:
    """Verify a list of STIX objects (e.g. a bundle's ``objects``) as one delivery received at ``now``.

    Parameters
    ----------
    objects : the objects, untrusted.
    roster : the federation roster.
    now : the receipt time (aware datetime), for revocation and key overlap.
    collection : the collection id they came from; None skips the "may publish here" check.
    history : id → :class:`AcceptedVersion` accepted before (persisted by the caller, e.g. in
        :class:`~.state.TrustState`); replays and signer changes are judged against it and against earlier objects
        of the same delivery. Versions of one id inside the delivery are judged oldest first.
    require_signatures, key_overlap : as :class:`Verifier`.

    Returns
    -------
    BundleVerification
        ``accepted`` (in input order), ``rejected`` as (object, verdict), ``verdicts`` aligned with the input,
        and ``history``: the updated entries of every id accepted here.
    """
    verifier = Verifier(roster, require_signatures=require_signatures, key_overlap=key_overlap)
    items = list(objects)
    known: dict[str, AcceptedVersion] = {}
    result = BundleVerification()
    verdicts: dict[int, Verdict] = {}

    def order(index: int) -> float:
        obj = items[index]
        text = str(obj.get("modified") or obj.get("created") or "") if isinstance(obj, dict) else ""
        try:
            return parse_time(text).timestamp() if text else float("-inf")
        except ValueError:
            return float("-inf")

    for index in sorted(range(len(items)), key=order):
        obj = items[index]
        stix_id = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else None
        previous = known.get(stix_id) if stix_id else None
        if previous is None and stix_id and history is not None:
            previous = history.get(stix_id)
        verdict = verifier.verify(obj, now=now, collection=collection, previous=previous)
        verdicts[index] = verdict
        if verdict.accepted and stix_id:
            known[stix_id] = remember(previous, verdict)
    for index, obj in enumerate(items):
        verdict = verdicts[index]
        result.verdicts.append(verdict)
        if verdict.accepted:
            result.accepted.append(obj)
        else:
            result.rejected.append((obj, verdict))
    result.history = known
    return result
