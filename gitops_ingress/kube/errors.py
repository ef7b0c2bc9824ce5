"""Kubernetes API failures as the package's own exceptions.

The engine only knows ``GitopsIngressError``: any of these makes it mark the branch ERROR, keep
the last applied state and retry with back-off. The mapping happens here, once, at the boundary:
``api_call`` wraps every request so that a 403 names the verb, resource and namespace that the
ServiceAccount lacks, a 409 from server-side apply names the other field manager, and a refused
connection, a timeout or a 5xx all become ``KubeUnavailable`` with the API server's address.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import urllib3.exceptions
from kubernetes.client.exceptions import ApiException

from gitops_ingress.core.errors import GitopsIngressError, Standby

T = TypeVar("T")


class KubeError(GitopsIngressError):
    """A Kubernetes API request failed; the last applied state stays."""


class KubeUnavailable(KubeError):
    """The API server is unreachable, too slow, or answered 5xx/429."""


class KubeForbidden(KubeError):
    """401 or 403: credentials missing or a permission (verb, resource, namespace) not granted."""


class KubeConflict(KubeError):
    """Server-side apply met a field owned by another field manager (and force is off)."""


class KubeNotFound(KubeError):
    """404: the object (or its namespace) does not exist."""


class ForeignObject(KubeError):
    """A namespace or object of the name we need exists and is not ours: never adopted."""


class NotLeader(KubeError, Standby):
    """This replica does not hold the lease (or lost it during a write); the leader does the
    work. A ``Standby`` to the engine: the branch waits for the leader, it is not in error."""


def _status_message(exc: ApiException) -> str:
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        return str(exc.reason or "").strip()
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return str(exc.reason or "").strip()


def where(resource: str, namespace: str, name: str = "") -> str:
    obj = f"{resource}/{name}" if name else resource
    return f"{obj} in namespace {namespace!r}" if namespace else f"{obj} (cluster-wide)"


def map_error(
    exc: Exception, verb: str, resource: str, namespace: str = "", name: str = "", server: str = ""
) -> KubeError:
    """One backend error -> our exception, naming what was being done."""
    target = where(resource, namespace, name)
    if isinstance(exc, ApiException):
        message = _status_message(exc)
        if exc.status == 401:
            return KubeForbidden(
                f"Kubernetes API {server}: 401 Unauthorized on {verb} {target}: the credentials "
                f"(kubeconfig user or ServiceAccount token) were rejected"
            )
        if exc.status == 403:
            scope = f'in namespace "{namespace}"' if namespace else "cluster-wide"
            return KubeForbidden(
                f"Kubernetes API {server}: 403 Forbidden: missing permission to {verb} {resource} {scope}"
                f" (grant verb {verb!r} on resource {resource!r} in the ClusterRole; see deploy/rbac.yaml): {message}"
            )
        if exc.status == 404:
            return KubeNotFound(f"{target} not found")
        if exc.status == 409:
            return KubeConflict(f"conflict on {verb} {target}: {message}")
        if exc.status in (429,) or (exc.status or 0) >= 500 or exc.status == 0:
            return KubeUnavailable(f"Kubernetes API {server} answered {exc.status} on {verb} {target}: {message}")
        return KubeError(f"Kubernetes API {server} answered {exc.status} on {verb} {target}: {message}")
    return KubeUnavailable(f"Kubernetes API {server} unreachable on {verb} {target}: {type(exc).__name__}: {exc}")


TRANSPORT_ERRORS = (urllib3.exceptions.HTTPError, OSError, TimeoutError)


def api_call(
    call: Callable[..., T],
    verb: str,
    resource: str,
    namespace: str = "",
    name: str = "",
    server: str = "",
    /,
    **kwargs: Any,
) -> T:
    try:
        return call(**kwargs)
    except (ApiException, *TRANSPORT_ERRORS) as exc:
        raise map_error(exc, verb, resource, namespace, name, server) from exc
