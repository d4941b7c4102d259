"""STIX 2.1 codec and validation (core layer)."""
