"""One file's bytes -> Ingress and IngressClass objects with positions and per-object findings.

``parse_file`` is a pure function of (path, data, environment, settings): the sync engine caches
its result by git blob SHA, so a push re-parses only the files it changed. That is why the
per-object API-server validation happens here too, and why cross-file checks do not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from gitops_ingress.core.fastyaml import LineShapes
from gitops_ingress.core.findings import Finding, Severity
from gitops_ingress.core.loading import Document, load_yaml_file
from gitops_ingress.core.models import (
    INGRESS_API_VERSION,
    IngressClass,
    LocatedIngress,
    SourceMap,
)
from gitops_ingress.core.routing.compile import routes_of
from gitops_ingress.core.routing.model import Route
from gitops_ingress.core.settings import Settings
from gitops_ingress.core.validation import validate_ingress, validate_ingress_class
from gitops_ingress.core.validation.reporter import Reporter
from gitops_ingress.core.validation.schema import INGRESS_CLASS_SCHEMA, INGRESS_SCHEMA, read_document

_SEVERITIES = {"warning": Severity.WARNING, "error": Severity.ERROR, "notice": Severity.NOTICE}
_KINDS = ("Ingress", "IngressClass")
# a Go template action as Helm writes them: {{ .Values.x }}, {{- include "x" . }}, {{ end }}
_TEMPLATE_ACTION = re.compile(rb"\{\{-?\s*[-.$a-zA-Z(/\"]")
_HELM_HINT = "render it with helm template first and validate the output (Helm charts are not rendered here)"


class ParseStore(Protocol):
    """Parsed files by (content id, path); ``sync.parsecache.ParseCache`` is one."""

    def get(self, content_id: str, path: str, /) -> ParsedFile | None: ...

    def put(self, content_id: str, path: str, parsed: ParsedFile, /) -> None: ...


@dataclass(frozen=True, slots=True)
class ParsedFile:
    path: str
    ingresses: tuple[LocatedIngress, ...]
    classes: tuple[IngressClass, ...]
    findings: tuple[Finding, ...]  # loading + per-object (schema + API server) findings
    # each Ingress's own routes (core/routing/compile.py ``routes_of``), in ``ingresses``' order:
    # a pure function of the Ingress, so a cached parse carries them and a branch that shares the
    # file does not compile them again (about a third of compiling a branch of 20 files); empty
    # when parsed with ``routes=False``
    routes: tuple[tuple[Route, ...], ...] = ()

    def compiled(self) -> dict[int, tuple[Route, ...]]:
        """Routes by ``id`` of the Ingress they are of (what ``compile_routes`` takes); empty
        for a file made without them (its Ingresses are compiled as they are used)."""
        if not self.routes:
            return {}
        return {id(item): routes for item, routes in zip(self.ingresses, self.routes, strict=True)}


def setting_severity(value: str) -> Severity | None:
    """``"warning" | "error" | "notice"`` -> Severity; ``"ignore"`` (or anything else) -> None."""
    return _SEVERITIES.get(value)


def parse_file(
    path: str,
    data: bytes,
    environment: str,
    settings: Settings,
    shapes: LineShapes | None = None,
    *,
    routes: bool = True,
) -> ParsedFile:
    """``shapes``: the fast reader's memo of the load this file is part of (core/fastyaml.py); it
    changes how fast a file is read, never what is read, so the result stays cacheable by content.
    ``routes=False``: without the Ingresses' own routes, for a caller that only validates (building
    them was a fifth of ``validate``'s time on 10,000 Ingresses, and no finding needs them); such a
    file is still complete, its routes are made when it is compiled (``ParsedFile.compiled``)."""
    loaded = load_yaml_file(path, data, settings.policy.limits, shapes=shapes)
    helm = _helm_template(path, data, loaded.findings)
    if helm is not None:
        return ParsedFile(path, (), (), (helm,))
    return parse_documents(path, loaded.documents, loaded.findings, environment, settings, routes=routes)


def parse_documents(
    path: str,
    documents: Sequence[Document],
    loaded: Sequence[Finding],
    environment: str,
    settings: Settings,
    *,
    routes: bool = True,
) -> ParsedFile:
    """Loaded documents -> objects; ``loaded``: what loading found. A ``kind: List`` (``v1 List``,
    or any ``*List`` with ``items``, as kubectl flattens them) stands for its items, each with the
    positions of its own fields. ``core.kustomize`` calls this for a render's documents."""
    findings = list(loaded)
    ingresses: list[LocatedIngress] = []
    classes: list[IngressClass] = []
    for document in expand_lists(documents, findings):
        parsed = _parse_object(document, environment, settings, findings)
        if isinstance(parsed, LocatedIngress):
            ingresses.append(parsed)
        elif isinstance(parsed, IngressClass):
            classes.append(parsed)
    own = tuple(tuple(routes_of(item)) for item in ingresses) if routes else ()
    return ParsedFile(path, tuple(ingresses), tuple(classes), tuple(findings), own)


def is_list(data: Any) -> bool:
    kind = data.get("kind") if isinstance(data, dict) else None
    return isinstance(kind, str) and kind.endswith("List") and isinstance(data.get("items"), list)


def expand_lists(documents: Sequence[Document], findings: list[Finding]) -> list[Document]:
    """The object documents: empty ones dropped (other shapes were reported by the loader), lists
    replaced by their items; an item that is not a mapping is a finding at its line."""
    objects: list[Document] = []
    for document in documents:
        if not isinstance(document.data, dict):
            continue
        if not is_list(document.data):
            objects.append(document)
            continue
        marks = document.source.marks
        for index, item in enumerate(document.data["items"]):
            prefix = ("items", index)
            line, column = marks.get(prefix, (document.line, 1))
            if not isinstance(item, dict):
                message = f"items[{index}] of a {document.data['kind']} is not a mapping (an object)"
                findings.append(
                    Finding(
                        rule="yaml/not-a-mapping",
                        severity=Severity.ERROR,
                        message=message,
                        file=document.source.file,
                        line=line,
                        column=column,
                    )
                )
                continue
            item_marks = {key[2:]: mark for key, mark in marks.items() if key[:2] == prefix}
            source = SourceMap(document.source.file, item_marks)
            objects.append(Document(data=item, source=source, index=document.index, line=line))
    return objects


def _helm_template(path: str, data: bytes, loaded: Sequence[Finding]) -> Finding | None:
    """A file with Go template actions that is not YAML (or lies in a chart's templates/ folder)
    is a Helm template: say so, instead of a bare syntax error at the first ``{{``."""
    if b"{{" not in data or _TEMPLATE_ACTION.search(data) is None:
        return None
    broken = any(finding.rule.startswith("yaml/") and finding.severity is Severity.ERROR for finding in loaded)
    if not broken and "templates" not in path.split("/")[:-1]:
        return None
    line = data[: _TEMPLATE_ACTION.search(data).start()].count(b"\n") + 1  # type: ignore[union-attr]
    return Finding(
        rule="yaml/helm-template",
        severity=Severity.ERROR,
        file=path,
        line=line,
        column=1,
        message="this looks like a Helm template ({{ ... }} actions), not a Kubernetes manifest",
        hint=_HELM_HINT,
    )


def _parse_object(
    document: Document, environment: str, settings: Settings, findings: list[Finding]
) -> LocatedIngress | IngressClass | None:
    data: dict[str, Any] = document.data
    source = document.source
    kind, api_version = data.get("kind"), data.get("apiVersion")
    report = Reporter(source, _object_key(data, settings, environment), findings)
    if not _kind_ok(report, kind, api_version, settings):
        return None
    unknown = setting_severity(settings.validation.unknown_fields)
    if kind == "IngressClass":
        ingress_class, type_findings = read_document(data, INGRESS_CLASS_SCHEMA, source, report.obj, unknown)
        findings.extend(type_findings)
        if ingress_class is not None:
            findings.extend(validate_ingress_class(ingress_class, source))
        return ingress_class
    obj, type_findings = read_document(data, INGRESS_SCHEMA, source, report.obj, unknown)
    findings.extend(type_findings)
    if obj is None:
        return None
    namespace = obj.metadata.namespace or settings.namespaces.default_for(environment)
    item = LocatedIngress(ingress=obj, namespace=namespace, source=source, environment=environment)
    findings.extend(validate_ingress(item, settings))
    return item


def _object_key(data: dict[str, Any], settings: Settings, environment: str) -> str:
    meta = data.get("metadata")
    name = namespace = ""
    if isinstance(meta, dict):
        name = str(meta.get("name") or "")
        namespace = str(meta.get("namespace") or "")
    if data.get("kind") == "IngressClass":
        return name
    return f"{namespace or settings.namespaces.default_for(environment)}/{name}"


def _kind_ok(report: Reporter, kind: Any, api_version: Any, settings: Settings) -> bool:
    """Only networking.k8s.io/v1 Ingress and IngressClass go on; everything else is reported."""
    if kind is None or api_version is None:
        missing = [name for name, value in (("apiVersion", api_version), ("kind", kind)) if value is None]
        report.add(
            "schema/kind",
            (),
            f"{' and '.join(missing)} not set: this is not a Kubernetes object",
            "start the document with apiVersion: networking.k8s.io/v1 and kind: Ingress",
        )
        return False
    if not isinstance(kind, str) or not isinstance(api_version, str):
        report.add("schema/type", ("kind",), "kind and apiVersion must be strings", "quote them")
        return False
    if kind in _KINDS:
        if api_version == INGRESS_API_VERSION:
            return True
        report.add(
            "schema/api-version",
            ("apiVersion",),
            f'{kind} apiVersion "{api_version}" is not served (removed in Kubernetes 1.22); use {INGRESS_API_VERSION}',
            f"set apiVersion: {INGRESS_API_VERSION} (v1 needs pathType and service.port.number/name)",
        )
        return False
    severity = setting_severity(settings.validation.other_kinds)
    if severity is not None:
        report.add(
            "schema/other-kind",
            ("kind",),
            f"{api_version} {kind} is not an Ingress: it is not validated and never applied",
            "keep only Ingress objects under the environments folder",
            severity=severity,
        )
    return False
