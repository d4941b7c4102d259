"""Privacy: what may leave the organisation, and the differential privacy of the numbers that do.

Public API (used by the CLI, the MISP modules and the connectors):

- :class:`Policy` (``[privacy]``), :class:`Sanitizer` (``Sanitizer.from_config(config)``,
  ``sanitizer.sanitize(event) -> (event_or_None, EventReport)``, ``sanitizer.release_cost()``);
- :func:`publish_gate_findings` for the MISP publish gate;
- :func:`sanitize_events` (streaming run over a source and a sink, ledger debited first; its JSON report:
  :class:`~.report_file.ReportFile`);
- :func:`release_statistics` (``legion sanitize stats``: DP counts over a window, ledger debited first);
- the persistent ε ledger: :class:`Ledger`, :func:`open_ledger`, :class:`BudgetExceeded`.
"""

from .ledger import BudgetExceeded, Ledger, open_ledger
from .mechanisms import PrivacyCost, SecureNoise, SeededNoise
from .policy import Policy, PolicyError
from .release import sanitize_events
from .report import Action, EventReport
from .sanitizer import SanitizeInputError, Sanitizer
from .stats import release_statistics

__all__ = ["Action", "BudgetExceeded", "EventReport", "Ledger", "Policy", "PolicyError", "PrivacyCost",
           "SanitizeInputError", "Sanitizer", "SecureNoise", "SeededNoise", "open_ledger", "release_statistics",
           "sanitize_events"]
