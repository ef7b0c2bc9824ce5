"""The few API calls the target makes, on raw JSON, with errors mapped at this one boundary.

Why raw JSON (``_preload_content=False``) instead of the client's models: the target compares
live objects with manifests field by field, and the generated models rename fields (snake_case)
and fill every unset field with None, which would make every comparison a translation. Server-side
apply goes through the typed ``patch_*`` methods with ``_content_type`` set: kubernetes 37 changed
``ApiClient.call_api``, and the typed methods are the stable surface. Every call is counted, which
is what ``bench/kube.py`` and the no-write tests read.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import kubernetes

from gitops_ingress.kube.client import KubeOptions, server_of
from gitops_ingress.kube.errors import KubeNotFound, api_call

APPLY = "application/apply-patch+yaml"
PAGE = 500
MAX_PAGES = 1000

Obj = dict[str, Any]


def key_of(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


class Cluster:
    def __init__(self, api: kubernetes.client.ApiClient, options: KubeOptions) -> None:
        self.core = kubernetes.client.CoreV1Api(api)
        self.net = kubernetes.client.NetworkingV1Api(api)
        self.server = server_of(api)
        self.options = options
        self.calls: Counter[str] = Counter()
        self._timeout = options.request_timeout

    def _call(
        self,
        method: Callable[..., Any],
        verb: str,
        resource: str,
        where_ns: str = "",
        where_name: str = "",
        /,
        **kwargs: Any,
    ) -> Obj:
        self.calls[verb] += 1
        response = api_call(
            method,
            verb,
            resource,
            where_ns,
            where_name,
            self.server,
            _preload_content=False,
            _request_timeout=self._timeout,
            **kwargs,
        )
        data = response.data
        return json.loads(data) if data else {}

    # -- reads ----------------------------------------------------------------------------

    def list(self, resource: str, namespace: str = "", selector: str = "") -> dict[tuple[str, str], Obj]:
        methods: dict[tuple[str, bool], Callable[..., Any]] = {
            ("namespaces", False): self.core.list_namespace,
            ("ingresses", False): self.net.list_ingress_for_all_namespaces,
            ("ingresses", True): self.net.list_namespaced_ingress,
            ("services", False): self.core.list_service_for_all_namespaces,
            ("services", True): self.core.list_namespaced_service,
        }
        method = methods[(resource, bool(namespace))]
        args: dict[str, Any] = {"namespace": namespace} if namespace else {}
        found: dict[tuple[str, str], Obj] = {}
        token = ""
        for _ in range(MAX_PAGES):
            page = self._call(
                method,
                "list",
                resource,
                namespace,
                label_selector=selector,
                limit=PAGE,
                **({"_continue": token} if token else {}),
                **args,
            )
            for item in page.get("items") or []:
                found[key_of(item)] = item
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token:
                break
        return found

    def get_namespace(self, name: str) -> Obj | None:
        try:
            return self._call(self.core.read_namespace, "get", "namespaces", "", name, name=name)
        except KubeNotFound:
            return None

    # -- writes ---------------------------------------------------------------------------

    def apply(self, resource: str, manifest: Obj, force: bool = False) -> Obj:
        namespace, name = key_of(manifest)
        options: dict[str, Any] = {"field_manager": self.options.field_manager, "_content_type": APPLY}
        if force:
            options["force"] = True
        if resource == "namespaces":
            return self._call(
                self.core.patch_namespace, "patch", resource, "", name, name=name, body=manifest, **options
            )
        method = self.net.patch_namespaced_ingress if resource == "ingresses" else self.core.patch_namespaced_service
        return self._call(
            method, "patch", resource, namespace, name, name=name, namespace=namespace, body=manifest, **options
        )

    def delete(self, resource: str, namespace: str, name: str) -> None:
        args: dict[str, Any] = {"name": name, "propagation_policy": "Background"}
        method: Callable[..., Any]
        if resource == "namespaces":
            method = self.core.delete_namespace
        else:
            method = (
                self.net.delete_namespaced_ingress if resource == "ingresses" else self.core.delete_namespaced_service
            )
            args["namespace"] = namespace
        try:
            self._call(method, "delete", resource, namespace, name, **args)
        except KubeNotFound:
            return  # already gone: deleting is idempotent

    @property
    def writes(self) -> int:
        return self.calls["patch"] + self.calls["delete"]
