"""The sample config repository (``environments/`` and ``gitops-ingress.yaml``) keeps its promises.

The demo, the docs and other tests lean on this sample: dozens of files, several teams, TLS, one
default backend per environment, a wildcard and a host-less rule, a small fixed set of backends.
The shape is read the plain way (PyYAML ``safe_load_all`` and the core models) so that it holds
even while the loader changes; validity is judged twice, by the Kubernetes OpenAPI schema
(kubernetes-validate) and by our own validator (``core.build.build``). The cross-file checks here are
functions returning problem strings that name the file, and the ``*_detect_*`` test feeds them
broken objects to prove they can fail.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from gitops_ingress.core.build import build
from gitops_ingress.core.config import read_settings
from gitops_ingress.core.findings import Severity
from gitops_ingress.core.models import (
    Ingress,
    IngressBackend,
    IngressSpec,
    LocatedIngress,
    SourceMap,
    dump_manifest,
)
from gitops_ingress.core.routing.compile import compile_routes
from gitops_ingress.core.routing.table import RouteTable
from gitops_ingress.core.settings import Settings
from gitops_ingress.core.tree import MemoryTree
from gitops_ingress.core.validation.schema import INGRESS_SCHEMA

REPO = Path(__file__).resolve().parents[2]
ENVIRONMENTS = REPO / "environments"
SETTINGS_FILE = REPO / "gitops-ingress.yaml"
KUBERNETES_VERSION = "1.37.0"

# Kubernetes before v1.36 requires DNS-1035 Service names; the sample stays valid there too.
DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class SampleObject:
    environment: str
    file: str  # relative to the repository root
    document: int
    ingress: Ingress
    namespace: str  # effective: metadata.namespace, else the environment's default

    @property
    def where(self) -> str:
        return f"{self.file} (document {self.document + 1}, {self.namespace}/{self.name})"

    @property
    def name(self) -> str:
        return self.ingress.metadata.name or ""

    @property
    def team(self) -> str:
        return self.ingress.metadata.labels.get("team", "")

    @property
    def spec(self) -> IngressSpec:
        return self.ingress.spec or IngressSpec()


@dataclass(frozen=True)
class PathRoute:
    obj: SampleObject
    host: str  # "" for a host-less rule
    path: str
    path_type: str
    backend: IngressBackend | None


def _ingress(raw: Any) -> Ingress:
    """A manifest (lists or tuples) as the Ingress the schema builds from its JSON."""
    ingress = INGRESS_SCHEMA.build(json.loads(json.dumps(raw)))
    assert ingress is not None, raw
    return ingress


def sample_files(root: Path = ENVIRONMENTS) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml"))


def load_objects(root: Path, settings: Settings) -> list[SampleObject]:
    objects: list[SampleObject] = []
    for path in sample_files(root):
        environment = path.relative_to(root).parts[0]
        with path.open(encoding="utf-8") as stream:
            documents = [doc for doc in yaml.safe_load_all(stream) if doc is not None]
        for index, raw in enumerate(documents):
            ingress = _ingress(raw)
            namespace = ingress.metadata.namespace or settings.namespaces.default_for(environment)
            rel = str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)
            objects.append(SampleObject(environment, rel, index, ingress, namespace))
    return objects


def path_routes(objects: Iterable[SampleObject]) -> list[PathRoute]:
    return [
        PathRoute(obj, rule.host or "", item.path or "", item.path_type or "", item.backend)
        for obj in objects
        for rule in obj.spec.rules
        for item in (rule.http.paths or () if rule.http else ())
    ]


def service_key(obj: SampleObject, backend: IngressBackend | None) -> str:
    """``namespace/service:port`` as in the backend map (port as written in the Ingress)."""
    if backend is None or backend.service is None or backend.service.port is None:
        return ""
    port = backend.service.port.name or backend.service.port.number
    return f"{obj.namespace}/{backend.service.name}:{port}"


def backend_keys(objects: list[SampleObject]) -> set[str]:
    defaults = {service_key(o, o.spec.default_backend) for o in objects if o.spec.default_backend}
    return defaults | {service_key(r.obj, r.backend) for r in path_routes(objects)}


def conflict_problems(objects: list[SampleObject]) -> list[str]:
    """Cross-file checks within each environment (the admission-webhook kind)."""
    problems = []
    for env in sorted({obj.environment for obj in objects}):
        members = [obj for obj in objects if obj.environment == env]
        names = Counter(f"{o.namespace}/{o.name}" for o in members)
        problems += [f"{env}: {key} is defined {n} times" for key, n in names.items() if n > 1]
        defaults = [o.where for o in members if o.spec.default_backend]
        if len(defaults) != 1:
            problems.append(f"{env}: expected exactly one defaultBackend, found {defaults}")
        seen: dict[tuple[str, str], str] = {}
        routes = path_routes(members)
        for route in routes:
            # Stricter than host+path+pathType: ingress-nginx compares the path string alone.
            key = (route.host, route.path.rstrip("/") or "/")
            if key in seen:
                problems.append(f"{route.obj.where}: {key} also in {seen[key]}")
            seen.setdefault(key, route.obj.where)
        # DOCS #tls: TLS hosts must match the rule hosts of the same Ingress; one owner per host.
        tls_owner: dict[str, str] = {}
        for obj in members:
            for host in (host for tls in obj.spec.tls for host in tls.hosts):
                if host not in {rule.host for rule in obj.spec.rules}:
                    problems.append(f"{obj.where}: TLS host {host} is served by no rule here")
                if tls_owner.setdefault(host, obj.where) != obj.where:
                    problems.append(f"{obj.where}: TLS host {host} also in {tls_owner[host]}")
    return problems


def policy_problems(obj: SampleObject, settings: Settings) -> list[str]:
    problems = []
    for key in obj.ingress.metadata.annotations:
        if any(fnmatch.fnmatchcase(key, deny) for deny in settings.policy.denied_annotations):
            problems.append(f"{obj.where}: annotation {key} is denied")
    suffixes = settings.policy.allowed_host_suffixes.get(obj.environment, ())
    for route in path_routes([obj]):
        host = route.host.removeprefix("*.")
        if route.host and not any(host == s or host.endswith("." + s) for s in suffixes):
            problems.append(f"{obj.where}: host {route.host} is outside {suffixes}")
    if obj.spec.ingress_class_name != settings.ingress_class:
        problems.append(f"{obj.where}: spec.ingressClassName must be {settings.ingress_class}")
    return problems


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings.build(yaml.safe_load(SETTINGS_FILE.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def objects(settings: Settings) -> list[SampleObject]:
    return load_objects(ENVIRONMENTS, settings)


def test_settings_file_builds_with_the_sample_values(settings: Settings) -> None:
    basics = (settings.stable_branch, settings.preview_domain, settings.ingress_class)
    assert basics == ("main", "preview.localhost", "gitops-ingress")
    assert set(settings.namespaces.defaults) == {"production", "staging"}
    assert settings.policy.allowed_host_suffixes["production"] == ("example.com", "example.org")
    assert "staging.example.com" in settings.policy.allowed_host_suffixes["staging"]
    assert settings.policy.denied_annotations == ("*-snippet",)
    assert settings.backends == {}


def test_layout_has_dozens_of_files_in_two_environments(objects: list[SampleObject]) -> None:
    files = sample_files()
    assert 36 <= len(files) <= 44
    environments = {p.relative_to(ENVIRONMENTS).parts[0] for p in files}
    assert {"production", "staging"} <= environments
    assert all(len(p.relative_to(ENVIRONMENTS).parts) >= 3 for p in files), "env/team/file.yaml"
    assert any(len(p.relative_to(ENVIRONMENTS).parts) >= 4 for p in files)
    per_file = Counter(obj.file for obj in objects)
    assert sum(1 for n in per_file.values() if n > 1) >= 3, "some files hold several documents"
    assert len(per_file) == len(files), "every file holds at least one object"
    kinds = {(o.ingress.api_version, o.ingress.kind) for o in objects}
    assert kinds == {("networking.k8s.io/v1", "Ingress")}


def test_teams_own_their_folders_and_label_their_objects(objects: list[SampleObject]) -> None:
    teams = {obj.team for obj in objects}
    assert len(teams) >= 4 and "" not in teams
    for obj in objects:
        folder = Path(obj.file).relative_to("environments").parts[1]
        assert obj.team == folder, f"{obj.where}: team label {obj.team!r}, folder {folder!r}"
        assert obj.ingress.metadata.labels.get("app.kubernetes.io/name"), obj.where


def test_service_names_are_dns_1035_labels(objects: list[SampleObject]) -> None:
    names = {key.partition("/")[2].rpartition(":")[0] for key in backend_keys(objects)}
    assert [name for name in sorted(names) if not DNS_1035_LABEL.match(name)] == []


def test_every_document_matches_the_kubernetes_openapi_schema() -> None:
    # One IngressList, one call: kubernetes_validate re-reads its schema files on every call.
    files = sample_files()
    documents = [(p, d) for p in files for d in yaml.safe_load_all(p.read_text(encoding="utf-8"))]
    items = [document for _path, document in documents]
    listed = {"apiVersion": "networking.k8s.io/v1", "kind": "IngressList", "items": items}
    try:
        kubernetes_validate.validate(listed, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        _items, index, *field = exc.path
        where = documents[index][0].relative_to(REPO)
        pytest.fail(f"{where}: {'.'.join(map(str, field))}: {exc.message}", pytrace=False)


def test_no_cross_file_conflicts(objects: list[SampleObject]) -> None:
    assert conflict_problems(objects) == []


def test_policy_class_hosts_annotations(objects: list[SampleObject], settings: Settings) -> None:
    assert [p for obj in objects for p in policy_problems(obj, settings)] == []
    assert sum(1 for o in objects if o.ingress.metadata.annotations) >= 5


def test_most_objects_set_a_namespace_a_few_take_the_default(objects: list[SampleObject]) -> None:
    without = [o for o in objects if not o.ingress.metadata.namespace]
    assert 2 <= len(without) <= len(objects) // 4
    assert {o.environment for o in without} == {"production", "staging"}
    assert {o.namespace for o in without} == {"shop", "staging-shop"}


def test_every_routing_feature_is_used(objects: list[SampleObject]) -> None:
    routes = path_routes(objects)
    assert {r.path_type for r in routes} == {"Exact", "Prefix", "ImplementationSpecific"}
    ports = [r.backend.service.port for r in routes if r.backend and r.backend.service]
    assert any(p and p.name for p in ports) and any(p and p.number for p in ports)
    shop = {(r.obj.namespace, r.obj.name) for r in routes if r.host == "shop.example.com"}
    assert len(shop) >= 5 and len({namespace for namespace, _ in shop}) >= 3, "one host, 3 teams"
    assert any(r.host.startswith("*.") for r in routes)
    hostless = [r for r in routes if not r.host]
    assert len({r.obj.where for r in hostless}) == 1 and hostless[0].obj.team == "platform"
    defaults = [o for o in objects if o.spec.default_backend]
    assert sorted(o.environment for o in defaults) == ["production", "staging"]
    assert all(o.team == "platform" for o in defaults)
    tls = [t for o in objects for t in o.spec.tls]
    assert len(tls) >= 8 and all(t.secret_name for t in tls)


def test_the_classic_pair_of_websites_has_a_certificate_each(objects: list[SampleObject]) -> None:
    entries = [entry for o in objects for entry in o.spec.tls]
    tls = {h: e.secret_name for e in entries for h in e.hosts if h.endswith(".example.org")}
    assert set(tls) == {"first.example.org", "second.example.org"}
    assert len(set(tls.values())) == 2


def test_backends_form_a_small_consistent_set(objects: list[SampleObject]) -> None:
    keys = backend_keys(objects)
    assert "" not in keys and 12 <= len(keys) <= 18, sorted(keys)
    # One way to name each Service's port, so that the demo starts one backend per Service.
    services = Counter(key.rpartition(":")[0] for key in keys)
    assert [s for s, n in services.items() if n > 1] == []


def test_readme_names_every_host_and_backend(objects: list[SampleObject]) -> None:
    readme = (ENVIRONMENTS / "README.md").read_text(encoding="utf-8")
    names = {r.host for r in path_routes(objects) if r.host} | backend_keys(objects)
    assert [name for name in sorted(names) if name not in readme] == []


def _broken(objects: list[SampleObject], **changes: object) -> SampleObject:
    base = next(o for o in objects if o.file.endswith("production/storefront/web.yaml"))
    raw = dump_manifest(base.ingress)
    for dotted, value in changes.items():
        node: Any = raw
        *parents, last = dotted.split("__")
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value
    return SampleObject(base.environment, base.file, 0, _ingress(raw), base.namespace)


def test_checks_detect_conflicts_and_policy_breaches(objects: list[SampleObject], settings: Settings) -> None:
    copy = _broken(objects)
    assert any("defined 2 times" in p for p in conflict_problems([*objects, copy]))
    renamed = conflict_problems([*objects, _broken(objects, metadata={"name": "other"})])
    assert any("('shop.example.com', '/') also in" in p for p in renamed)
    assert any("TLS host shop.example.com also in" in p for p in renamed)
    unserved = _broken(objects, spec__tls__0__hosts=["nowhere.example.com"])
    assert any("served by no rule" in p for p in conflict_problems([unserved]))
    snippet = {"nginx.ingress.kubernetes.io/server-snippet": "return 200;"}
    assert policy_problems(_broken(objects, metadata__annotations=snippet), settings)
    assert policy_problems(_broken(objects, spec__rules__0__host="shop.example.net"), settings)


# The validator (core/validation/policy.py) warns about a host-less rule in an environment with
# allowed host suffixes, because it matches any host. The sample must have one (platform/healthz),
# so this single warning is expected until the lead settles it; every other warning fails.
EXPECTED_WARNINGS: set[tuple[str, str]] = set()
# The sample migrates from ingress-nginx with body-size, timeout and buffering annotations that the
# proxy does not honour yet (core/annotations/catalogue.py): each warns at its line until it is.
NOT_YET_HONOURED = {
    ("annotation/ignored", f"environments/{path}")
    for path in (
        "production/identity/login.yaml",
        "production/payments/api/payments-api.yaml",
        "production/payments/api/webhooks.yaml",
        "production/payments/checkout/shop-checkout.yaml",
        "production/platform/observability/grafana-live.yaml",
        "production/platform/observability/grafana.yaml",
        "production/storefront/catalog/shop-api.yaml",
        "production/storefront/static.yaml",
        "production/storefront/web.yaml",
        "staging/payments/api/webhooks.yaml",
        "staging/storefront/catalog/shop-api.yaml",
    )
}


def test_the_whole_sample_loads_without_errors_or_warnings(objects: list[SampleObject]) -> None:
    paths = [SETTINGS_FILE, *sample_files()]
    files = {path.relative_to(REPO).as_posix(): path.read_bytes() for path in paths}
    settings, settings_findings = read_settings(files)
    snapshot = build(MemoryTree(files), settings)
    assert settings_findings == [] and snapshot.ok
    loud = [
        f"{f.position}: {f.rule}: {f.message}"
        for f in snapshot.all_findings()
        if f.severity is not Severity.NOTICE and (f.rule, f.file) not in EXPECTED_WARNINGS | NOT_YET_HONOURED
    ]
    assert loud == []
    loaded = sorted((env.name, item.key) for env in snapshot.environments.values() for item in env.ingresses)
    assert loaded == sorted((o.environment, f"{o.namespace}/{o.name}") for o in objects)


# Requests the README walks through; they pin down what the sample is meant to show.
# "default" marks a request that no rule matched and the defaultBackend took.
PRODUCTION_REQUESTS = [
    ("shop.example.com", "/checkout/confirm", "payments/checkout:http"),
    ("shop.example.com", "/checkoutx", "shop/storefront:http"),
    ("shop.example.com", "/sitemap.xml", "shop/catalog-api:8080"),
    ("shop.example.com", "/healthz", "shop/storefront:http"),
    ("api.example.com", "/healthz", "platform/default-backend:80"),
    ("api.example.com", "/nothing-here", "platform/default-backend:80 default"),
    ("10.0.0.7", "/healthz", "platform/default-backend:80"),
    ("tools.apps.example.com", "/", "platform/apps-gateway:http"),
    ("a.b.apps.example.com", "/", "platform/default-backend:80 default"),
    ("unknown.example.net", "/", "platform/default-backend:80 default"),
]


@pytest.fixture(scope="module")
def production_table(objects: list[SampleObject], settings: Settings) -> RouteTable:
    located = [
        LocatedIngress(o.ingress, o.namespace, SourceMap(o.file), o.environment)
        for o in objects
        if o.environment == "production"
    ]
    return compile_routes(located, settings)


@pytest.mark.parametrize(("host", "path", "expected"), PRODUCTION_REQUESTS)
def test_production_routes_as_documented(production_table: RouteTable, host: str, path: str, expected: str) -> None:
    match = production_table.match(host, path)
    assert f"{match.backend}{' default' if match.via_default else ''}" == expected
