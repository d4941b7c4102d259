"""Intrusion tolerance across the federation: roster, signed objects, verification, corroboration, replay
protection.

Public API:

- keys: :func:`generate_key_file`, :func:`rotate_key_file`, :func:`load_private_key`, :class:`KeyInfo`;
- signing: :class:`Signer` (``Signer.from_config(config).sign(obj)``), the extension (:data:`EXTENSION_ID`,
  :func:`extension_definition`, :data:`SIGNATURE_SCHEMA`), :func:`signing_payload` (RFC 8785);
- verifying: :class:`Roster`, :class:`Verifier`, :func:`verify_bundle` (pure; what the MISP import module calls),
  :class:`Verdict` and its :class:`Code`;
- corroboration: :func:`indicator_key`, :func:`indicator_refs`, :func:`sighting_of`, :func:`corroborate`,
  :func:`apply_corroboration`, :class:`Corroboration`;
- persistence and the pull hook: :class:`TrustState`, :class:`TrustPolicy` (``TrustPolicy.from_config(config)``),
  :class:`PullGuard`.

The trust core knows no transport: it takes and returns STIX objects (dicts) and MISP events (dicts).

For the MISP import module (a bundle in, a MISP event out), the pure path is::

    result = verify_bundle(objects, roster, now=now, history=state)       # state: TrustState or a dict
    sightings = [s for o, v in zip(objects, result.verdicts) if v.accepted
                 and (s := sighting_of(o, signer=v.signer, key_id=v.key_id, received=now))]
    refs = indicator_refs(result.accepted)
    decisions = {k: corroborate(k, known_sightings + sightings, f=f, n=len(roster), window=window)
                 for k in set(refs.values())}
    event = apply_corroboration(event, refs, decisions)                    # to_ids + legion:corroboration tags
"""

from ..errors import KeyFileError, SigningError, TrustError
from .canonical import CanonicalizationError, canonicalize, signing_payload, without_signature
from .corroboration import (
    Corroboration,
    Sighting,
    apply_corroboration,
    corroborate,
    corroborating_members,
    indicator_key,
    indicator_refs,
    sighting_of,
)
from .extension import EXTENSION_ID, SIGNATURE_SCHEMA, extension_definition, published_constants
from .guard import PullGuard, TrustPolicy
from .keys import KeyInfo, generate_key_file, load_private_key, public_key_text, rotate_key_file
from .roster import KeyStatus, Member, MemberKey, Roster, key_id
from .settings import TrustSettings
from .signing import Signer, require_signer
from .state import TrustState
from .verify import AcceptedVersion, BundleVerification, Code, Verdict, Verifier, verify_bundle

__all__ = [
    "EXTENSION_ID", "SIGNATURE_SCHEMA", "AcceptedVersion", "BundleVerification", "CanonicalizationError", "Code",
    "Corroboration", "KeyFileError", "KeyInfo", "KeyStatus", "Member", "MemberKey", "PullGuard", "Roster",
    "Sighting", "Signer", "SigningError", "TrustError", "TrustPolicy", "TrustSettings", "TrustState", "Verdict",
    "Verifier", "apply_corroboration", "canonicalize", "corroborate", "corroborating_members",
    "extension_definition", "generate_key_file", "indicator_key", "indicator_refs", "key_id", "load_private_key",
    "public_key_text", "published_constants", "require_signer", "rotate_key_file", "sighting_of", "signing_payload",
    "verify_bundle", "without_signature",
]
