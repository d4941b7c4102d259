"""Test and benchmark helpers: real TAXII 2.1 servers on 127.0.0.1 (medallion, OpenTAXII), started and stopped by PID.

Not used by the sync job itself; shipped so the demo, the tests and the benchmarks share one implementation.
"""
