"""Test and benchmark harnesses: real TAXII 2.1 servers on 127.0.0.1 (medallion, OpenTAXII), started and stopped by PID,
the medallion backend they load, and MISP event builders. Used only by tests and benchmarks; not in the wheel.
"""
