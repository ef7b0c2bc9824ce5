"""The Kubernetes API server's per-object checks on Ingress and IngressClass (networking/v1).

This mirrors ``pkg/apis/networking/validation`` on create (no update leniency: a GitOps apply of a
new commit must pass as if the object were new), with the API server's messages.
It works on the pydantic models so the same code serves files
(with positions) and raw request bodies (``validate_manifest``, no positions).
"""

from __future__ import annotations

import re

from gitops_ingress.core.findings import Finding
from gitops_ingress.core.models import (
    INGRESS_CLASS_ANNOTATION,
    FieldPath,
    Ingress,
    IngressBackend,
    IngressClass,
    IngressSpec,
    ObjectMeta,
    SourceMap,
    TypedLocalObjectReference,
)
from gitops_ingress.core.validation import names
from gitops_ingress.core.validation.reporter import GoValue, Reporter

PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024  # apimachinery TotalAnnotationSizeLimitB
_INVALID_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_INVALID_PATH_SUFFIXES = ("/..", "/.")
# Matches every value that contains one of the sequences or ends with one of the suffixes above, so
# an absolute path it does not match passes every check of ``_absolute_path`` (a test holds it).
_ODD_PATH = re.compile(r"//|/\.\.?/|%2[fF]|/\.\.?\Z")
_CONTROLLER_MAX = 250
_SCOPES = ("Cluster", "Namespace")

HINT_SUBDOMAIN = "use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
HINT_LABEL = "use lowercase letters, digits and '-', at most 63 characters"
_HINT_SERVICE = {
    False: "use lowercase letters, digits and '-'",
    True: "use lowercase letters, digits and '-', starting with a letter",
}


def check_ingress(ingress: Ingress, source: SourceMap, key: str, strict_service_names: bool) -> list[Finding]:
    report = Reporter(source, key)
    check_metadata(report, ingress.metadata, namespaced=True)
    spec = ingress.spec or IngressSpec()
    base: FieldPath = ("spec",)
    if not spec.rules and spec.default_backend is None:
        report.invalid(
            "api/rules-or-default-backend",
            base,
            GoValue("[]networking.IngressRule(nil)"),
            "either `defaultBackend` or `rules` must be specified",
            "add spec.rules (hosts and paths) or a spec.defaultBackend",
        )
    if spec.default_backend is not None:
        _backend(report, spec.default_backend, base + ("defaultBackend",), strict_service_names)
    # A path is made only for a finding (``if errors``): most objects have none, and building
    # every field's path was a good part of the time of checking a clean one.
    for index, rule in enumerate(spec.rules):
        if rule.host:
            _rule_host(report, rule.host, ("spec", "rules", index, "host"))
        if rule.http is not None:
            _http(report, rule.http.paths or (), ("spec", "rules", index, "http"), strict_service_names)
    for index, tls in enumerate(spec.tls):
        for host_index, host in enumerate(tls.hosts):
            _host_name(report, "api/tls-host-invalid", host, ("spec", "tls", index, "hosts", host_index))
        if tls.secret_name:
            errors = names.is_dns1123_subdomain(tls.secret_name)
            if errors:
                report.invalid_each(
                    "api/tls-secret-name-invalid",
                    ("spec", "tls", index, "secretName"),
                    tls.secret_name,
                    errors,
                    HINT_SUBDOMAIN,
                )
    if spec.ingress_class_name is not None:
        errors = names.is_dns1123_subdomain(spec.ingress_class_name)
        if errors:
            report.invalid_each(
                "api/ingress-class-name-invalid",
                ("spec", "ingressClassName"),
                spec.ingress_class_name,
                errors,
                HINT_SUBDOMAIN,
            )
        annotation = ingress.metadata.annotations.get(INGRESS_CLASS_ANNOTATION)
        if annotation is not None and annotation != spec.ingress_class_name:
            report.invalid(
                "api/ingress-class-mismatch",
                ("metadata", "annotations", INGRESS_CLASS_ANNOTATION),
                annotation,
                "must match `ingressClassName` when both are specified",
                "drop the deprecated annotation, spec.ingressClassName is enough",
                name=f"annotations.{INGRESS_CLASS_ANNOTATION}",
            )
    return report.findings


def check_metadata(report: Reporter, meta: ObjectMeta, namespaced: bool) -> None:
    if not meta.name:
        report.required(
            "api/name-required", ("metadata", "name"), "name or generateName is required", "set metadata.name"
        )
    else:
        errors = names.is_dns1123_subdomain(meta.name)
        if errors:
            report.invalid_each("api/name-invalid", ("metadata", "name"), meta.name, errors, HINT_SUBDOMAIN)
    if meta.namespace:
        if namespaced:
            errors = names.is_dns1123_label(meta.namespace)
            if errors:
                report.invalid_each(
                    "api/namespace-invalid", ("metadata", "namespace"), meta.namespace, errors, HINT_LABEL
                )
        else:
            report.forbidden(
                "api/namespace-forbidden", ("metadata", "namespace"), "not allowed on this type", "remove it"
            )
    for label, value in meta.labels.items():
        for message in names.is_qualified_name(label):
            path = ("metadata", "labels", label)
            report.invalid("api/label-invalid", path, label, message, "fix the label key", name="metadata.labels")
        for message in names.is_label_value(value):
            path = ("metadata", "labels", label)
            report.invalid("api/label-invalid", path, value, message, "fix the label value", name="metadata.labels")
    for annotation in meta.annotations:
        for message in names.is_qualified_name(annotation.lower()):
            report.invalid(
                "api/annotation-invalid",
                ("metadata", "annotations", annotation),
                annotation,
                message,
                "fix the annotation key",
                name="metadata.annotations",
            )
    # apimachinery's ValidateAnnotationsSize: keys and values together, in bytes (at most 4 per
    # character in UTF-8, so counting the characters mostly settles it without encoding any)
    characters = sum(map(len, meta.annotations)) + sum(map(len, meta.annotations.values()))
    if characters * 4 <= TOTAL_ANNOTATION_SIZE_LIMIT:
        return
    total = sum(len(key.encode()) + len(value.encode()) for key, value in meta.annotations.items())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        report.add(
            "api/annotations-too-long",
            ("metadata", "annotations"),
            f"metadata.annotations: Too long: must have at most {TOTAL_ANNOTATION_SIZE_LIMIT} bytes",
            f"the annotations add up to {total} bytes; move large values out of annotations",
        )


def _rule_host(report: Reporter, host: str, path: FieldPath) -> None:
    if names.is_ip(host):
        report.invalid(
            "api/host-ip",
            path,
            host,
            "must be a DNS name, not an IP address",
            "use a DNS name, or leave host out",
        )
    _host_name(report, "api/host-invalid", host, path)


def _host_name(report: Reporter, rule: str, host: str, path: FieldPath) -> None:
    if "*" in host:
        report.invalid_each(
            rule,
            path,
            host,
            names.is_wildcard_dns1123_subdomain(host),
            "a wildcard must be '*.' then a DNS name",
        )
    else:
        errors = names.is_dns1123_subdomain(host)
        if errors:
            report.invalid_each(rule, path, host, errors, HINT_SUBDOMAIN)


def _http(report: Reporter, paths: tuple, base: FieldPath, strict_service_names: bool) -> None:  # type: ignore[type-arg]
    if not paths:
        report.required("api/paths-required", base + ("paths",), "", "list at least one path under http.paths")
        return
    for index, item in enumerate(paths):
        path = base + ("paths", index)
        value = item.path or ""
        if item.path_type is None:
            report.required(
                "api/path-type-required",
                path + ("pathType",),
                "pathType must be specified",
                "add pathType: Prefix (or Exact)",
            )
            continue  # the API server stops at this path: its backend is not checked either
        if item.path_type in ("Exact", "Prefix"):
            if not value.startswith("/") or _ODD_PATH.search(value) is not None:  # else the usual clean path
                _absolute_path(report, value, path + ("path",))
        elif item.path_type == "ImplementationSpecific":
            if value and not value.startswith("/"):
                report.invalid(
                    "api/path-invalid",
                    path + ("path",),
                    value,
                    "must be an absolute path",
                    "start the path with '/'",
                )
        else:
            report.not_supported(
                "api/path-type-unsupported",
                path + ("pathType",),
                item.path_type,
                PATH_TYPES,
                "pathType is case-sensitive: Exact, Prefix or ImplementationSpecific",
            )
        _backend(report, item.backend or IngressBackend(), path + ("backend",), strict_service_names)


def _absolute_path(report: Reporter, value: str, path: FieldPath) -> None:
    """The findings of a path that is not absolute or has an odd sequence (``_ODD_PATH``)."""
    if not value.startswith("/"):
        report.invalid("api/path-invalid", path, value, "must be an absolute path", "start the path with '/'")
    if not value:
        return
    for sequence in _INVALID_PATH_SEQUENCES:
        if sequence in value:
            report.invalid(
                "api/path-invalid",
                path,
                value,
                f"must not contain '{sequence}'",
                "write the path in normal form",
            )
    for suffix in _INVALID_PATH_SUFFIXES:
        if value.endswith(suffix):
            report.invalid(
                "api/path-invalid",
                path,
                value,
                f"cannot end with '{suffix}'",
                "write the path in normal form",
            )


def _backend(report: Reporter, backend: IngressBackend, path: FieldPath, strict_service_names: bool) -> None:
    service, resource = backend.service, backend.resource
    if service is not None and resource is not None:
        report.invalid(
            "api/backend-both",
            path,
            "",
            "cannot set both resource and service backends",
            "keep only one of them",
        )
        return
    if resource is not None:
        _resource(report, resource, path + ("resource",))
        return
    if service is None:
        report.invalid(
            "api/backend-required", path, "", "resource or service backend is required", "add backend.service"
        )
        return
    if not service.name:
        report.required("api/service-name-required", path + ("service", "name"), "", "name the Service")
    else:
        check = names.is_dns1035_label if strict_service_names else names.is_dns1123_label
        errors = check(service.name)
        if errors:
            report.invalid_each(
                "api/service-name-invalid",
                path + ("service", "name"),
                service.name,
                errors,
                _HINT_SERVICE[strict_service_names],
            )
    port = service.port
    port_name = port.name if port is not None else None
    port_number = port.number if port is not None else None
    if port_name and port_number:
        report.invalid(
            "api/port-both",
            path,
            "",
            "cannot set both port name & port number",
            "keep port.name or port.number",
        )
    elif port_name:
        errors = names.is_valid_port_name(port_name)
        if errors:
            report.invalid_each(
                "api/port-name-invalid",
                path + ("service", "port", "name"),
                port_name,
                errors,
                "a port name has at most 15 characters: lowercase letters, digits and single '-'",
            )
    elif port_number:
        if not 1 <= port_number <= 65535:  # names.is_valid_port_num's range, without a list per port
            report.invalid_each(
                "api/port-number-invalid",
                path + ("service", "port", "number"),
                port_number,
                names.is_valid_port_num(port_number),
                "use a port between 1 and 65535",
            )
    else:
        report.required("api/port-required", path, "port name or number is required", "add port.number or port.name")


def _resource(report: Reporter, resource: TypedLocalObjectReference, path: FieldPath) -> None:
    if resource.api_group is not None:
        report.invalid_each(
            "api/resource-invalid",
            path + ("apiGroup",),
            resource.api_group,
            names.is_dns1123_subdomain(resource.api_group),
            HINT_SUBDOMAIN,
        )
    for field, value in (("kind", resource.kind), ("name", resource.name)):
        if not value:
            report.required("api/resource-required", path + (field,), f"{field} is required", f"set {field}")
        else:
            report.invalid_each(
                "api/resource-invalid",
                path + (field,),
                value,
                names.is_path_segment_name(value),
                "no '/', '%', '.' or '..'",
            )


def check_ingress_class(item: IngressClass, source: SourceMap) -> list[Finding]:
    report = Reporter(source, item.metadata.name or "")
    check_metadata(report, item.metadata, namespaced=False)
    spec = item.spec
    controller = spec.controller if spec is not None else None
    path: FieldPath = ("spec", "controller")
    hint = "a domain-prefixed path such as example.com/ingress-controller"
    if not controller:
        report.required("api/controller-required", path, "", hint)
    else:
        if len(controller) > _CONTROLLER_MAX:
            report.add(
                "api/controller-invalid",
                path,
                f"spec.controller: Too long: may not be more than {_CONTROLLER_MAX} bytes",
                hint,
            )
        for value, message in names.domain_prefixed_path_errors(controller):
            report.invalid("api/controller-invalid", path, value, message, hint)
    params = spec.parameters if spec is not None else None
    if params is None:
        return report.findings
    base: FieldPath = ("spec", "parameters")
    _resource(report, TypedLocalObjectReference(api_group=params.api_group, kind=params.kind, name=params.name), base)
    scope = params.scope or "Cluster"  # the v1 default
    if scope not in _SCOPES:
        report.not_supported("api/parameters-scope", base + ("scope",), scope, _SCOPES, "use Cluster or Namespace")
    elif scope == "Namespace":
        if params.namespace is None:
            report.required(
                "api/parameters-namespace",
                base + ("namespace",),
                "`parameters.scope` is set to 'Namespace'",
                "set parameters.namespace",
            )
        else:
            report.invalid_each(
                "api/parameters-namespace",
                base + ("namespace",),
                params.namespace,
                names.is_dns1123_label(params.namespace),
                HINT_LABEL,
            )
    elif params.namespace is not None:
        report.forbidden(
            "api/parameters-namespace",
            base + ("namespace",),
            "`parameters.scope` is set to 'Cluster'",
            "remove parameters.namespace or set scope: Namespace",
        )
    return report.findings
