"""Privacy: what may leave the organisation, and the differential privacy of the numbers that do.

Public API (used by the CLI, the MISP modules and the connectors):

- :class:`Policy` (``[privacy]``), :class:`Sanitizer` (``Sanitizer.from_config(config)``,
  ``sanitizer.sanitize(event) -> (event_or_None, EventReport)``, ``sanitizer.release_cost()``);
- :func:`publish_gate_findings` for the MISP publish gate;
- :func:`sanitize_events` (streaming run over a source and a sink; fresh noise recorded and paid first; its JSON
  report: :class:`~.report_file.ReportFile`);
- :func:`release_statistics` (``legion sanitize stats``: DP counts over a window, ledger debited first);
- the persistent ε ledger: :class:`Ledger`, :func:`open_ledger`, :class:`BudgetExceeded`, :class:`LedgerMissing`,
  :class:`LedgerClockError`, and its noise store (:class:`PersistentBook`, :class:`DryRunBook`,
  :class:`TransientBook`: each datum noised once, republished afterwards).
"""

from .ledger import BudgetExceeded, Ledger, LedgerClockError, LedgerMissing, open_ledger
from .mechanisms import PrivacyCost, SecureNoise, SeededNoise
from .noise_store import DryRunBook, PersistentBook, TransientBook
from .policy import Policy, PolicyError
from .release import sanitize_events
from .report import Action, EventReport
from .sanitizer import SanitizeInputError, Sanitizer
from .stats import release_statistics

__all__ = ["Action", "BudgetExceeded", "DryRunBook", "EventReport", "Ledger", "LedgerClockError", "LedgerMissing",
           "PersistentBook", "Policy", "PolicyError", "PrivacyCost", "SanitizeInputError", "Sanitizer", "SecureNoise",
           "SeededNoise", "TransientBook", "open_ledger", "release_statistics", "sanitize_events"]
