"""Compile Ingress objects into a RouteTable (docs/routing.md).

Only Ingresses of our class are compiled (rule 1). Every path of every rule becomes a Route that keeps
the file and line it came from, so the dashboard, the diff and the CLI can point at the YAML. Paths
that the API server would reject (no backend, unknown pathType) are left out rather than guessed
at: a branch with such paths fails validation and is never applied, but ``routes`` on a bad folder
still shows what is usable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from gitops_ingress.core.annotations import RouteEffects, effects_of
from gitops_ingress.core.annotations import canary as canary_family
from gitops_ingress.core.annotations.model import Canary
from gitops_ingress.core.models import IngressBackend, LocatedIngress
from gitops_ingress.core.protocols import BACKEND_PROTOCOL_ANNOTATION, annotation_scheme
from gitops_ingress.core.routing.model import PATH_TYPES, Backend, ResourceRef, Route, ServiceRef, TLSEntry
from gitops_ingress.core.settings import Settings

if TYPE_CHECKING:
    # imported where a table is built: ``validate`` compiles each file's routes, never a table
    from gitops_ingress.core.routing.groups import GroupMemo
    from gitops_ingress.core.routing.table import RouteTable


def is_ours(item: LocatedIngress, ingress_class: str, serve_without_class: bool) -> bool:
    """Rule 1: ``spec.ingressClassName``, else the deprecated annotation, else the setting."""
    name = item.ingress.class_name
    if name is None:
        return serve_without_class
    return name == ingress_class


def select_ours(items: Iterable[LocatedIngress], settings: Settings) -> list[LocatedIngress]:
    return [item for item in items if is_ours(item, settings.ingress_class, settings.serve_ingresses_without_class)]


def backend_of(item: LocatedIngress, backend: IngressBackend | None) -> Backend | None:
    if backend is None:
        return None
    service = backend.service
    if service is not None and backend.resource is None:
        if not service.name or service.port is None:
            return None
        port = service.port.name if service.port.name else service.port.number
        if not port:
            return None
        return ServiceRef(item.namespace, service.name, str(port))
    resource = backend.resource
    if resource is not None and service is None and resource.kind and resource.name:
        return ResourceRef(item.namespace, resource.api_group or "", resource.kind, resource.name)
    return None


def routes_of(item: LocatedIngress) -> list[Route]:
    spec = item.ingress.spec
    if spec is None:
        return []
    effects = effects_of(item.ingress.metadata.annotations, item.namespace)
    protocol = backend_protocol(item)
    routes: list[Route] = []
    for rule_index, rule in enumerate(spec.rules):
        if rule.http is None or not rule.http.paths:
            continue
        host = rule.host or ""
        for path_index, http_path in enumerate(rule.http.paths):
            if http_path.path_type not in PATH_TYPES:
                continue
            backend = backend_of(item, http_path.backend)
            if backend is None:
                continue
            position = item.position("spec", "rules", rule_index, "http", "paths", path_index)
            routes.append(
                Route(
                    host=host,
                    path=http_path.path or "",
                    path_type=http_path.path_type,
                    backend=backend,
                    ingress=item.key,
                    file=position.file,
                    line=position.line,
                    environment=item.environment,
                    effects=None if effects is None else effects.with_rewrite_path(http_path.path or ""),
                    protocol=protocol,
                )
            )
    return routes


def _with_canaries(routes: list[Route], canaries: Sequence[tuple[Route, dict[str, object]]]) -> list[Route]:
    """Each canary route folded into the main route of the same host and path (one canary per
    route, as ingress-nginx allows; the first by namespace/name). A canary without a main route
    is served as an ordinary route (the registry's note on ``canary``)."""
    if not canaries:
        return routes
    index = {route.key: position for position, route in enumerate(routes)}
    folded = list(routes)
    for route, policy in canaries:
        position = index.get(route.key)
        if position is None:
            index[route.key] = len(folded)
            folded.append(replace(route, effects=None))
            continue
        main = folded[position]
        if main.effects is not None and main.effects.canary is not None:
            continue
        canary = Canary(route.backend, route.ingress, **policy)  # type: ignore[arg-type]
        effects = replace(main.effects or RouteEffects(), canary=canary).with_rewrite_path(main.path)
        folded[position] = replace(main, effects=effects)
    return folded


def _annotated_hosts(routes: Sequence[Route]) -> list[Route]:
    """The routes that ``server-alias`` and ``from-to-www-redirect`` add: an alias serves the same
    paths; the www/non-www twin of a host redirects (308) to it. A name that is already a rule
    host keeps its own rules, as in ingress-nginx."""
    hosts = {route.host for route in routes}
    added: list[Route] = []
    twins: set[str] = set()
    for route in routes:
        effects = route.effects
        if effects is None or not route.host or route.host.startswith("*."):
            continue
        for alias in effects.server_aliases:
            if alias not in hosts:
                added.append(replace(route, host=alias))
        if effects.from_to_www:
            twin = route.host[4:] if route.host.startswith("www.") else f"www.{route.host}"
            if twin not in hosts and twin not in twins:
                twins.add(twin)
                redirect = RouteEffects(www_redirect=route.host)
                added.append(replace(route, host=twin, path="/", path_type="Prefix", effects=redirect))
    return added


def backend_protocol(item: LocatedIngress) -> str:
    """The endpoint scheme the Ingress's backend-protocol annotation asks for, or ""."""
    return annotation_scheme(item.ingress.metadata.annotations.get(BACKEND_PROTOCOL_ANNOTATION)) or ""


def _default_route(item: LocatedIngress) -> Route | None:
    spec = item.ingress.spec
    backend = backend_of(item, spec.default_backend) if spec is not None else None
    if backend is None:
        return None
    position = item.position("spec", "defaultBackend")
    return Route(
        "",
        "",
        "Default",
        backend,
        item.key,
        position.file,
        position.line,
        item.environment,
        protocol=backend_protocol(item),
    )


def default_backend_owners(items: Iterable[LocatedIngress]) -> list[LocatedIngress]:
    """The Ingresses whose ``spec.defaultBackend`` may take the requests nothing else matches, the
    one the routing set uses first (docs/routing.md, rule 7): by namespace/name, then environment.
    A canary Ingress's is never used, as none of its fields but its rules are. Validation names
    the first of these as the one the proxy uses (``cross/default-backend``)."""
    owners = (
        item
        for item in items
        if item.ingress.spec is not None
        and item.ingress.spec.default_backend is not None
        and canary_family.policy(item.ingress.metadata.annotations) is None
    )
    return sorted(owners, key=lambda i: (i.key, i.environment))


def compile_routes(
    items: Sequence[LocatedIngress],
    settings: Settings,
    compiled: Mapping[int, Sequence[Route]] | None = None,
    groups: GroupMemo | None = None,
) -> RouteTable:
    """The route table of a routing set: every Ingress of ours, merged. ``compiled``: the routes
    of some of ``items`` made already (``routes_of``), by ``id`` of the item; a parsed file
    carries its own (``ParsedFile.compiled``), so a file shared by many branches compiles once.
    ``groups``: host groups built for other tables, shared with them (core/routing/groups.py)."""
    from gitops_ingress.core.routing.table import RouteTable

    known = compiled or {}

    def routes_of_item(item: LocatedIngress) -> Sequence[Route]:
        found = known.get(id(item))
        return found if found is not None else routes_of(item)

    ours = select_ours(items, settings)
    routes: list[Route] = []
    tls: list[TLSEntry] = []
    catch_alls: list[tuple[str, Backend | None]] = []
    canaries: list[tuple[Route, dict[str, object]]] = []
    for item in sorted(ours, key=lambda i: (i.key, i.environment)):
        policy = canary_family.policy(item.ingress.metadata.annotations)
        if policy is not None:
            canaries.extend((route, policy) for route in routes_of_item(item))
            continue
        routes.extend(routes_of_item(item))
        default = _default_route(item)
        spec = item.ingress.spec
        if spec is None:
            continue
        # KEP: an Ingress with rules but no defaultBackend leaves unmatched requests to the
        # controller; with rules *and* a defaultBackend, that backend is the routing set's default
        # (the first of default_backend_owners; each one is its own hosts' catch-all).
        for rule in spec.rules:
            if rule.host and (rule.http is None or not rule.http.paths):
                catch_alls.append((rule.host, default.backend if default else None))
        for entry in spec.tls:
            tls.append(TLSEntry(tuple(entry.hosts), entry.secret_name or "", item.namespace, item.key))
    routes = _with_canaries(routes, canaries)
    routes.extend(_annotated_hosts(routes))
    owners = (_default_route(item) for item in default_backend_owners(ours))
    default_backend = next((route for route in owners if route is not None), None)
    return RouteTable(routes, default_backend, tls, catch_alls, groups)


def compile_environments(
    environments: Mapping[str, Sequence[LocatedIngress]], settings: Settings
) -> dict[str, RouteTable]:
    """One route table per environment (what the diff compares)."""
    return {name: compile_routes(items, settings) for name, items in sorted(environments.items())}


def compile_merged(environments: Mapping[str, Sequence[LocatedIngress]], settings: Settings) -> RouteTable:
    """All environments as one routing set: what a single local proxy serves for a branch."""
    from gitops_ingress.core.routing.table import RouteTable

    return RouteTable.merge(compile_environments(environments, settings))
