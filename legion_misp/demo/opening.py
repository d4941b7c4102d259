"""The report's opening: three sentences of what happened, computed from what the stages recorded."""

from __future__ import annotations

from typing import Any


def what_happened(data: dict[str, Any], failed: list[str]) -> list[str]:
    """Sharing, defence, learning: one sentence each (a stage that did not run says so)."""
    return [_sharing(data), _defence(data), _learning(data, failed)]


def _sharing(data: dict[str, Any]) -> str:
    from .sharing_stage import HONEST, MALICIOUS, OUR_ORG

    results = data.get("federation_results")
    if not results:
        return "The federation stage did not run, so nothing was shared."
    ours = results[OUR_ORG[0]]
    shared = sum(r.shared for r in results.values())
    return (f"{len(HONEST) + 1} member organisations ({len(HONEST)} honest, {MALICIOUS} malicious) shared "
            f"{shared} sanitised events as signed STIX 2.1 over TAXII 2.1 on this machine; {OUR_ORG[0]} "
            f"({OUR_ORG[1]}) shared {ours.shared} of its {ours.events} events, kept {ours.kept_home} home and spent "
            f"ε {ours.epsilon:.3g} of its {ours.budget:g} budget.")


def _defence(data: dict[str, Any]) -> str:
    from .attacks import ATTACKS
    from .sharing_stage import MALICIOUS

    results = data.get("federation_results")
    if not results:
        return "No attack was tried."
    honest = [r for name, r in results.items() if name != MALICIOUS]
    stopped = sum(all(_code(r.reasons.get(a, "")) == code for r in honest) for a, code in ATTACKS.items())
    flood = max((r.flood_seen for r in honest), default=0)
    flood_trusted = sum(r.flood_trusted for r in honest)
    trusted = len(set().union(*(set(r.trusted) for r in honest)))
    return (f"Every honest member refused {stopped} of {MALICIOUS}'s {len(ATTACKS)} attacks "
            f"({', '.join(ATTACKS)}), and {flood_trusted} of its {flood} invented indicators reached to_ids, while "
            f"{trusted} indicators published by at least two members did.")


def _learning(data: dict[str, Any], failed: list[str]) -> str:
    results = data.get("learning_results")
    if not results:
        return "The learning stage did not run" + (f" (failed: {', '.join(failed)})." if failed else ".")
    private, plain = results["fl+dp"], results["fl"]
    sentence = (f"The same members trained the compromised-message classifier with DP federated learning "
                f"(ε {private.rounds[-1].epsilon:.3g} per member, δ = 1e-5): "
                f"{100 * private.rounds[-1].metrics['accuracy']:.1f} % test accuracy, against "
                f"{100 * plain.rounds[-1].metrics['accuracy']:.1f} % without DP")
    if data.get("classified"):
        sentence += f", and the real misp-modules server classified {data['classified']} sample messages with it"
    return sentence + "."


def _code(reason: str) -> str:
    return reason.split(":")[1].strip() if reason.startswith("trust:") else "accepted"
