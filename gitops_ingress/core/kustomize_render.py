"""Rendering a kustomization as ``kubectl kustomize`` does, for the common subset, without kustomize.

``kubectl kustomize`` costs seconds per thousand objects and grows faster than the objects of one
render (kustomize#5084), while a repository of Ingresses and their Services needs only a handful
of its transformers. ``render`` does those here, on files the caller already read from the tree
(a folder or a git commit); anything outside the subset raises ``Unsupported`` and the caller runs
kustomize for that kustomization instead, so what is validated is always what kustomize renders
(docs/dev/architecture.md, "Kustomize"). The subset, as kustomize v5 does it:

* ``resources``: files (multi-document YAML or JSON) of Ingresses and ``v1`` Services, and folders
  holding a kustomization, built first and recursively; the deprecated ``bases`` after them.
  Adding an object whose id (group, version, kind, namespace with "" as ``default``, name) is
  already there is kustomize's error, so not done here.
* Then this level's transformers, in kustomize's order: ``patchesStrategicMerge``, ``patches``
  (strategic merge or JSON 6902, by file or inline, with or without a target), ``namespace``,
  ``namePrefix``/``nameSuffix``, ``labels`` then ``commonLabels``, ``commonAnnotations``,
  ``patchesJson6902``. kustomize's field specs touch ``metadata`` of an Ingress, and of a Service
  also ``spec/selector`` (the labels that include selectors; created when absent). ``images`` has
  nothing to change on either; ``buildMetadata`` may hold ``originAnnotations`` (origins are kept
  directly: each object keeps the document it was read from).
* Last, kustomize's name references: an Ingress backend that names a Service by a name the Service
  had before (a prefix or suffix added since) names it by its name now.
* The output in kustomize's default (``legacy``) order: by kind's rank (Service before Ingress),
  then by its id's text ``group_version_kind|namespace|name``, ``~X`` standing for no namespace.

Not done here, so rendered by kustomize: any other kind or a ``List``, a strategic-merge patch of
a Service (its ports merge by key), generators, components, ``replacements``, ``vars``,
``helmCharts``, ``replicas``, ``transformers``, ``openapi``, ``crds``, ``sortOptions``, any other
field, patch options, and every error (a missing file, a patch that matches nothing, a conflict):
kustomize's run then gives its own message.

Reading the files into objects, and what of a kustomization or an object is in the subset, is
``core.kustomize_resources``; this module builds, transforms, patches and orders them.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import yaml

from gitops_ingress.core.fastyaml import LineShapes
from gitops_ingress.core.kustomize_patch import Unsupported, json_patch, selects, strategic_merge
from gitops_ingress.core.kustomize_resources import (
    Reader,
    Resource,
    below,
    check_strings,
    inside,
    list_field,
    read_kustomization,
    string_field,
    strings_field,
)
from gitops_ingress.core.loading import Document
from gitops_ingress.core.settings import LimitSettings
from gitops_ingress.core.tree import KUSTOMIZATION_NAMES

# kustomize's legacy order ranks Service among the kinds it puts first, and Ingress after them
_RANK = {"Service": "0", "Ingress": "1"}


@dataclass(frozen=True, slots=True)
class Rendered:
    """One rendered object: its data, and the file and document it was read from (positions)."""

    data: dict[str, Any]
    file: str
    source: Document
    name: str  # its name as read, which a strategic-merge patch file names


def render(
    kustomization: str, contents: Mapping[str, bytes], limits: LimitSettings, shapes: LineShapes
) -> list[Rendered]:
    """The objects ``kustomization`` (a path of ``contents``) renders to, in kustomize's order;
    ``RenderError`` when they would be over ``max_render_output_bytes``."""
    reader = Reader(contents, limits, shapes)
    built = _build(kustomization, reader, ())
    _fix_service_references(built)
    built.sort(key=_sort_key)
    return [_finished(resource) for resource in built]


def _build(path: str, reader: Reader, stack: tuple[str, ...]) -> list[Resource]:
    if path in stack:
        raise Unsupported(f"{path} includes itself")
    kustomization = read_kustomization(path, reader)
    folder = posixpath.dirname(path)
    built: list[Resource] = []
    seen: set[tuple[str, str, str, str]] = set()
    for entry in [*list_field(kustomization, "resources"), *list_field(kustomization, "bases")]:  # kustomize's order
        target = below(folder, entry)
        if target in reader.contents and inside(folder, target):
            added = reader.resources(target)
        else:
            nested = next(
                (f"{target}/{name}" for name in KUSTOMIZATION_NAMES if f"{target}/{name}" in reader.contents), None
            )
            if nested is None:
                raise Unsupported(f"{entry} is neither a file of the folder nor a kustomization")
            added = _build(nested, reader, (*stack, path))
        for resource in added:
            key = _id(resource)
            if key in seen:
                raise Unsupported("may not add resource with an already registered id")
            seen.add(key)
            built.append(resource)
    return _transformed(built, kustomization, folder, reader)


def _id(resource: Resource) -> tuple[str, str, str, str]:
    namespace, name = resource.ids[-1]
    return (resource.data["apiVersion"], resource.data["kind"], namespace or "default", name)


def _transformed(
    resources: list[Resource], kustomization: Mapping[str, Any], folder: str, reader: Reader
) -> list[Resource]:
    for entry in list_field(kustomization, "patchesStrategicMerge"):
        for patch in _patch_documents(entry, folder, reader):
            if not isinstance(patch, dict):
                raise Unsupported("a strategic-merge patch that is not a mapping")
            _merge_into(_by_id(resources, patch), patch)
    for entry in list_field(kustomization, "patches"):
        _patch(resources, entry, folder, reader, json_only=False)
    namespace = string_field(kustomization, "namespace")
    prefix, suffix = string_field(kustomization, "namePrefix"), string_field(kustomization, "nameSuffix")
    if namespace or prefix or suffix:
        resources = [_renamed(resource, namespace, prefix, suffix) for resource in resources]
    labels: dict[str, str] = {}
    selectors: dict[str, str] = {}  # the labels a Service's selector gets too
    for entry in list_field(kustomization, "labels"):
        if not isinstance(entry, dict) or entry.keys() - {"pairs", "includeSelectors", "includeTemplates"}:
            raise Unsupported("a labels entry with fields")
        pairs = strings_field(entry, "pairs")
        labels.update(pairs)
        if entry.get("includeSelectors") is True:
            selectors.update(pairs)
        elif entry.get("includeSelectors") not in (None, False):
            raise Unsupported("includeSelectors that is not a boolean")
    common = strings_field(kustomization, "commonLabels")
    labels.update(common)
    selectors.update(common)
    annotations = strings_field(kustomization, "commonAnnotations")
    for resource in resources:
        metadata = resource.data["metadata"]
        for key, values in (("labels", labels), ("annotations", annotations)):
            if values:
                metadata[key] = {**(metadata.get(key) or {}), **values}
        if selectors and resource.data["kind"] == "Service":
            _select(resource.data, selectors)
    for entry in list_field(kustomization, "patchesJson6902"):
        if not isinstance(entry, dict) or not isinstance(entry.get("target"), dict):
            raise Unsupported("a patchesJson6902 entry without a target")
        _patch(resources, entry, folder, reader, json_only=True)
    return resources


def _select(service: dict[str, Any], selectors: Mapping[str, str]) -> None:
    """kustomize's field spec ``spec/selector`` of a Service, created when absent."""
    spec = service.setdefault("spec", {})
    if not isinstance(spec, dict):
        raise Unsupported("a Service whose spec is not a mapping")
    current = spec.get("selector", {})
    check_strings(current, "a Service's selector")
    spec["selector"] = {**current, **selectors}


def _backend_names(ingress: Mapping[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """Where an Ingress names a Service (kustomize's name references): (holder, key) pairs."""
    spec = ingress.get("spec")
    if not isinstance(spec, dict):
        return []
    backends = [spec.get("defaultBackend"), spec.get("backend")]
    for rule in spec.get("rules") or []:
        http = rule.get("http") if isinstance(rule, dict) else None
        paths = http.get("paths") if isinstance(http, dict) else None
        backends.extend(path.get("backend") for path in paths or [] if isinstance(path, dict))
    found: list[tuple[dict[str, Any], str]] = []
    for backend in backends:
        if not isinstance(backend, dict):
            continue
        service = backend.get("service")
        if isinstance(service, dict) and isinstance(service.get("name"), str):
            found.append((service, "name"))
        if isinstance(backend.get("serviceName"), str):
            found.append((backend, "serviceName"))
    return found


def _fix_service_references(resources: list[Resource]) -> None:
    """kustomize's last step: an Ingress that names a Service by a name it had before (a prefix, a
    suffix) names it by its name now, when exactly one such Service is in the Ingress's namespace."""
    services = [resource for resource in resources if resource.data["kind"] == "Service"]
    if not services:
        return
    for resource in resources:
        if resource.data["kind"] != "Ingress":
            continue
        namespace = resource.ids[-1][0] or "default"
        for holder, key in _backend_names(resource.data):
            named = [s for s in services if holder[key] in {name for _, name in s.ids[:-1]}]
            here = [s for s in named if (s.ids[-1][0] or "default") == namespace]
            if len(here) != len(named) or len(here) > 1:
                raise Unsupported("a Service reference kustomize resolves across namespaces or ambiguously")
            if here:
                holder[key] = here[0].ids[-1][1]


def _renamed(resource: Resource, namespace: str, prefix: str, suffix: str) -> Resource:
    metadata = resource.data["metadata"]
    if namespace:
        metadata["namespace"] = namespace
    metadata["name"] = prefix + metadata["name"] + suffix
    return replace(resource, ids=(*resource.ids, (metadata.get("namespace", ""), metadata["name"])))


def _patch_documents(entry: Any, folder: str, reader: Reader) -> list[Any]:
    """A patch's documents: a file it names, or its inline text."""
    if isinstance(entry, str) and "\n" not in entry and not entry.lstrip().startswith(("[", "{")):
        path = below(folder, entry)
        if not inside(folder, path):
            raise Unsupported(f"the patch {entry} outside the kustomization's folder")
        text = reader.contents.get(path)
        if text is None:
            raise Unsupported(f"the patch {entry}, which is not there")
        return _patch_text(text.decode("utf-8", "replace"))
    if not isinstance(entry, str):
        raise Unsupported("a patch that is neither a path nor text")
    return _patch_text(entry)


def _patch_text(text: str) -> list[Any]:
    """Patches are small and their positions are read elsewhere (``core.kustomize``): PyYAML."""
    if text.lstrip().startswith("["):
        return [_json(text)]
    try:
        return [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        raise Unsupported("a patch that is not YAML") from exc


def _json(text: str) -> Any:
    """kustomize reads a patch that starts with ``[`` as JSON (YAML's flow style is not enough)."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise Unsupported("a patch that starts with [ but is not JSON") from exc


def _patch(resources: list[Resource], entry: Any, folder: str, reader: Reader, json_only: bool) -> None:
    if not isinstance(entry, dict) or entry.keys() - {"path", "patch", "target"}:
        raise Unsupported("a patch entry with options or unknown fields")
    if ("path" in entry) == ("patch" in entry):
        raise Unsupported("a patch entry with both or neither of path and patch")
    source = entry["patch"] if "patch" in entry else entry["path"]
    if "path" in entry and (not isinstance(source, str) or "\n" in source):
        raise Unsupported("a patch path that is not a path")
    documents = (
        _patch_documents(source, folder, reader)
        if "path" in entry
        else _patch_documents(_inline(source), folder, reader)
    )
    target = entry.get("target")
    if target is not None and not isinstance(target, dict):
        raise Unsupported("a patch target that is not a mapping")
    if len(documents) == 1 and isinstance(documents[0], list):
        if target is None:
            raise Unsupported("a JSON 6902 patch without a target")
        for index, resource in enumerate(resources):
            if selects(target, resource.data, (resource.ids[0], resource.ids[-1])):
                patched = json_patch(resource.data, documents[0])
                if _identity(patched) != _identity(resource.data):
                    raise Unsupported("a JSON 6902 patch that changes an object's id")
                for key in ("labels", "annotations"):
                    check_strings(patched["metadata"].get(key, {}), f"metadata.{key} after a patch")
                resources[index] = replace(resource, data=patched)
        return
    if json_only or not documents or not all(isinstance(doc, dict) for doc in documents):
        raise Unsupported("a patch that is neither strategic merge nor JSON 6902")
    for patch in documents:
        if target is None:
            _merge_into(_by_id(resources, patch), patch)
        else:
            for resource in resources:
                if selects(target, resource.data, (resource.ids[0], resource.ids[-1])):
                    _merge_into(resource, patch)


def _inline(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise Unsupported("an inline patch that is not text")
    return text if "\n" in text or text.lstrip().startswith("[") else text + "\n"


def _identity(data: Mapping[str, Any]) -> tuple[Any, ...]:
    metadata = data.get("metadata")
    if not isinstance(metadata, dict):
        return (None,)
    return (data.get("apiVersion"), data.get("kind"), metadata.get("namespace", ""), metadata.get("name"))


def _by_id(resources: list[Resource], patch: Mapping[str, Any]) -> Resource:
    """The one object a strategic-merge patch without a target names: same group, version and kind,
    and one of the object's names and namespaces so far ("" is ``default``)."""
    metadata = patch.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
        raise Unsupported("a strategic-merge patch without a name")
    wanted = (metadata.get("namespace") or "default", metadata["name"])
    found = [
        resource
        for resource in resources
        if (resource.data["apiVersion"], resource.data["kind"]) == (patch.get("apiVersion"), patch.get("kind"))
        and any((namespace or "default", name) == wanted for namespace, name in resource.ids)
    ]
    if len(found) != 1:
        raise Unsupported("a strategic-merge patch that does not name exactly one object")
    return found[0]


def _merge_into(resource: Resource, patch: Mapping[str, Any]) -> None:
    """kustomize keeps the object's kind, name and namespace whatever the patch says. A Service's
    ports merge by port number in kustomize: its patches are not done here."""
    if resource.data["kind"] != "Ingress":
        raise Unsupported(f"a strategic-merge patch of a {resource.data['kind']}")
    metadata = patch.get("metadata")
    body = {key: value for key, value in patch.items() if key not in ("apiVersion", "kind", "metadata")}
    if isinstance(metadata, dict):
        body["metadata"] = {key: value for key, value in metadata.items() if key not in ("name", "namespace")}
    elif metadata is not None:
        raise Unsupported("a patch whose metadata is not a mapping")
    strategic_merge(resource.data, body)
    merged = resource.data.get("metadata")
    if not isinstance(merged, dict):
        raise Unsupported("a strategic-merge patch that removes metadata")
    for key in ("labels", "annotations"):
        check_strings(merged.get(key, {}), f"metadata.{key} after a patch")


def _sort_key(resource: Resource) -> str:
    group, _, version = resource.data["apiVersion"].rpartition("/")
    namespace, name = resource.ids[-1]
    kind = resource.data["kind"]
    return f"{_RANK[kind]}{group or '~G'}_{version or '~V'}_{kind}|{namespace or '~X'}|{name}"


def _finished(resource: Resource) -> Rendered:
    """As ``core.kustomize`` leaves kustomize's output: an annotations mapping left empty when its
    origin annotation was taken out is dropped."""
    metadata = resource.data["metadata"]
    if metadata.get("annotations") == {}:
        del metadata["annotations"]
    return Rendered(resource.data, resource.file, resource.source, resource.ids[0][1])
