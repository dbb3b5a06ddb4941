"""Simulated cameras and link faults, for the demo, the tests and the benchmarks."""

from vms.sim.launcher import SimCameras
from vms.sim.proxy import FaultProxy, LinkEvent

__all__ = ["FaultProxy", "LinkEvent", "SimCameras"]
