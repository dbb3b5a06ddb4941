"""Simulated cameras and link faults, for the demo, the tests and the benchmarks."""
