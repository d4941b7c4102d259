"""Test support: helpers that start real components (MISP, TAXII servers) for tests and benchmarks."""
