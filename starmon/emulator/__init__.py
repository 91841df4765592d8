"""A StarRocks emulator: real wire formats on real loopback sockets.

It plays one or many clusters (FE HTTP, BE HTTP, MySQL protocol) for tests, benchmarks
and the demo a new user sees. See `python -m starmon.emulator --help`.
"""

from .model import ClusterModel, Faults, Workload
from .server import ClusterSpec, Emulator

__all__ = ["ClusterModel", "ClusterSpec", "Emulator", "Faults", "Workload"]
