"""The reconcile engine: git branches -> validated route tables -> a target, with state on disk.

``Engine`` (engine.py) is the entry point; it depends only on ``core`` and on the small Protocols
in protocols.py, which ``gitrepo.Mirror`` and the targets (``LocalTarget`` here, the Kubernetes
target elsewhere) satisfy. ``cli`` wires them together.
"""

from gitops_ingress.core.desired import DesiredEnvironment
from gitops_ingress.sync.engine import Engine, EngineOptions
from gitops_ingress.sync.events import EventBus
from gitops_ingress.sync.local import LocalTarget
from gitops_ingress.sync.metrics import SyncMetrics
from gitops_ingress.sync.protocols import RepoSource, Target
from gitops_ingress.sync.store import Store

__all__ = [
    "DesiredEnvironment",
    "Engine",
    "EngineOptions",
    "EventBus",
    "LocalTarget",
    "RepoSource",
    "Store",
    "SyncMetrics",
    "Target",
]
