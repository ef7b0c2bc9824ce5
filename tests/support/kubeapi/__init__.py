"""A stand-in Kubernetes API server for tests: real HTTP, in-memory state.

Start it with :func:`run_stand_in` (in-process, free port) or as a process with
``python tests/support/kube_apiserver.py --listen 127.0.0.1:PORT``.
"""

from .server import StandIn, run_stand_in

__all__ = ["StandIn", "run_stand_in"]
