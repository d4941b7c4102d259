"""Privacy: the persistent ε ledger, and (see the sanitiser) DP mechanisms for MISP events."""
