"""The Kubernetes control-plane adapter: the only user of the official ``kubernetes`` client.

``connect`` builds an API client from a kubeconfig or the in-cluster service account,
``KubernetesTarget`` applies branches into namespaces (the sync engine's ``Target``), and
``LeaderElector`` makes sure only one control-plane replica writes. The proxy's in-cluster route
source lives in ``proxy/sources/kubernetes.py`` (adapters never import each other).
"""

from gitops_ingress.kube.client import KubeOptions, connect
from gitops_ingress.kube.errors import (
    KubeConflict,
    KubeError,
    KubeForbidden,
    KubeUnavailable,
    NotLeader,
)
from gitops_ingress.kube.leader import LeaderElector
from gitops_ingress.kube.target import KubernetesTarget

__all__ = [
    "KubeConflict",
    "KubeError",
    "KubeForbidden",
    "KubeOptions",
    "KubeUnavailable",
    "KubernetesTarget",
    "LeaderElector",
    "NotLeader",
    "connect",
]
