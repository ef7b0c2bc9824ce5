"""Client configuration: kubeconfig or the in-cluster service account, and the target's options.

``connect`` is the only place that reads credentials. The order follows kubectl and client-go: an
explicit kubeconfig path, else ``KUBECONFIG`` / ``~/.kube/config`` when present, else the
in-cluster service account (``KUBERNETES_SERVICE_HOST`` and the mounted token). urllib3's own
retries are switched off: a failed request surfaces at once as ``KubeUnavailable`` and the sync
engine's back-off decides when to try again, so one slow API server never stacks hidden retries
under the engine's timers.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

import kubernetes
from kubernetes.config.config_exception import ConfigException

from gitops_ingress.core.errors import ConfigError

FIELD_MANAGER = "gitops-ingress"


@dataclass(frozen=True, slots=True)
class KubeOptions:
    """Everything the Kubernetes side of the control plane is configured with."""

    kubeconfig: str | None = None
    context: str | None = None
    field_manager: str = FIELD_MANAGER
    force_conflicts: bool = False  # take fields owned by another manager (off: report them)
    preview_tls_secret: str = ""  # "NAMESPACE/NAME" of the wildcard preview certificate
    request_timeout: float = 10.0
    lease_namespace: str = "gitops-ingress"
    lease_name: str = "gitops-ingress-control-plane"
    lease_duration: float = 15.0
    renew_interval: float = 5.0
    identity: str = ""
    retry_initial: float = 1.0  # back-off of a failed resync after gaining the lease
    retry_max: float = 60.0

    def who(self) -> str:
        return self.identity or f"{socket.gethostname()}-{os.getpid()}"


def _default_kubeconfig() -> str | None:
    env = os.environ.get("KUBECONFIG", "")
    for candidate in [p for p in env.split(os.pathsep) if p] or [str(Path.home() / ".kube" / "config")]:
        if Path(candidate).is_file():
            return candidate
    return None


def connect(options: KubeOptions) -> kubernetes.client.ApiClient:
    """An ``ApiClient`` for the configured cluster; ConfigError says what is missing."""
    config = kubernetes.client.Configuration()
    path = options.kubeconfig or _default_kubeconfig()
    try:
        if path is not None:
            kubernetes.config.load_kube_config(config_file=path, context=options.context, client_configuration=config)
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            kubernetes.config.load_incluster_config(client_configuration=config)
        else:
            raise ConfigError(
                "no Kubernetes configuration: set KUBECONFIG, create ~/.kube/config or run in a Pod "
                "with a ServiceAccount"
            )
    except (ConfigException, OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"Kubernetes configuration {path or 'in-cluster'}: {exc}") from exc
    config.retries = 0
    config.connection_pool_maxsize = 16
    return kubernetes.client.ApiClient(config)


def server_of(api: kubernetes.client.ApiClient) -> str:
    return str(api.configuration.host)
