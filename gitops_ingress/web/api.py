"""The JSON API under ``/api/v1``: branches, routes, diffs, history and request resolution.

Branch names contain ``/`` and arbitrary characters, so every endpoint that names one takes it as a
query parameter (``?branch=feature/login``): a path segment would be ambiguous with sub-resources
and depends on proxies preserving ``%2F``. Everything is read from the ``ControlPlaneView``, whose
methods are cheap, so handlers do no I/O of their own. Response models are declared so the
OpenAPI document describes every field (schemathesis tests against it). Handlers are ``async``
so they run on the event loop, where the engine behind the view lives: the view is not promised
to be thread-safe (its store is an SQLite connection owned by the loop's thread), and its methods
are cheap, so nothing is gained by a thread pool. The helpers at the bottom
(``branch_or_404``, ``resolve_request``, ``page_of``) are shared with the dashboard so both show the
same answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from gitops_ingress.core.naming import preview_host
from gitops_ingress.core.routing import (
    EMPTY_TABLE,
    Route,
    RouteMatch,
    RouteTable,
    normalize_host,
)
from gitops_ingress.core.routing.paths import UnsafePath, normalize_target
from gitops_ingress.core.status import (
    BranchStatus,
    ControlPlaneView,
    SyncRecord,
    SyncState,
)
from gitops_ingress.web.auth import Access

PREFIX = "/api/v1"
MAX_NAME = 1024
MAX_HOST = 253
MAX_PATH = 4096

BranchParam = Annotated[str, Query(min_length=1, max_length=MAX_NAME, description="branch name")]


class RouteOut(BaseModel):
    host: str
    path: str
    pathType: str
    backend: str
    ingress: str
    file: str
    line: int
    environment: str

    @classmethod
    def of(cls, route: Route) -> RouteOut:
        return cls(
            host=route.host,
            path=route.path,
            pathType=route.path_type,
            backend=str(route.backend),
            ingress=route.ingress,
            file=route.file,
            line=route.line,
            environment=route.environment,
        )


class TLSOut(BaseModel):
    hosts: list[str]
    secretName: str  # the Secret's name only: keys never leave the cluster or the proxy
    ingress: str


class EnvironmentRoutes(BaseModel):
    environment: str
    version: str
    routes: list[RouteOut]
    defaultBackend: RouteOut | None = None
    tls: list[TLSOut] = Field(default_factory=list)


class RoutesOut(BaseModel):
    branch: str
    environments: list[EnvironmentRoutes]


class ChangeOut(BaseModel):
    kind: str
    environment: str
    host: str
    path: str
    pathType: str
    request: str | None
    before: str | None
    after: str | None
    beforeSource: str
    afterSource: str
    detail: str = ""  # why the request moved, when the kind alone does not say it
    # what the proxy did with the request and does now (core/routing/answer.py); None for TLS
    beforeAnswer: dict[str, Any] | None = None
    afterAnswer: dict[str, Any] | None = None
    message: str


class DiffOut(BaseModel):
    branch: str
    base: str
    environments: list[str]
    counts: dict[str, int]
    changes: list[ChangeOut]


class BranchPage(BaseModel):
    total: int
    page: int
    perPage: int
    pages: int
    items: list[BranchStatus]


class Resolved(BaseModel):
    host: str
    path: str
    branch: str
    previewHost: str | None = None
    backend: str | None
    status: int
    hostGroup: str | None
    defaultBackend: bool = False
    route: RouteOut | None = None
    unknownPreview: bool = False


@dataclass(frozen=True, slots=True)
class Page:
    items: Sequence[BranchStatus]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def branch_path(name: str) -> str:
    """The dashboard page of a branch: its name as one percent-encoded path segment."""
    return "/branches/" + quote(name, safe="")


def branch_or_404(view: ControlPlaneView, name: str) -> BranchStatus:
    status = view.branch(name)
    if status is None:
        raise HTTPException(404, f"unknown branch {name!r}")
    return status


def page_of(
    branches: Sequence[BranchStatus],
    page: int,
    per_page: int,
    query: str = "",
    state: str = "",
    environment: str = "",
) -> Page:
    """Stable branch first, then by name; filtered by a substring, a state and an environment."""
    needle = query.lower()
    chosen = [
        b
        for b in branches
        if (not needle or needle in b.name.lower())
        and (not state or b.state.value == state)
        and (not environment or any(e.environment == environment for e in b.environments))
    ]
    chosen.sort(key=lambda b: (not b.stable, b.name))
    start = (page - 1) * per_page
    return Page(chosen[start : start + per_page], len(chosen), page, per_page)


def served_table(view: ControlPlaneView, branch: str) -> RouteTable:
    """The merged table the proxy serves for a branch (stable hosts or its preview hosts)."""
    state = view.routing_state()
    if branch == view.settings.stable_branch:
        return state.stable
    return state.previews.get(branch, EMPTY_TABLE)


def resolve_request(view: ControlPlaneView, host: str, path: str, branch: str = "") -> Resolved:
    """Where ``host`` + ``path`` goes: on a branch's routes, or (no branch) as the proxy sees it,
    which also understands preview hosts."""
    path = path if path.startswith("/") else "/" + path
    try:
        path = normalize_target(path)  # matched as the proxy matches it (docs/routing.md)
    except UnsafePath as exc:
        raise HTTPException(400, f"the proxy refuses this path: {exc}") from exc
    state = view.routing_state()
    name = normalize_host(host)
    preview: str | None = None
    unknown = False
    if branch:
        branch_or_404(view, branch)
        match: RouteMatch = served_table(view, branch).match(name, path)
        if branch != view.settings.stable_branch and match.host_group is not None:
            preview = preview_host(branch, match.host_group or None, state.preview_domain)
    else:
        resolution = state.resolve(host, path)
        match, unknown = resolution.match, resolution.unknown_preview
        branch = resolution.branch or view.settings.stable_branch
        preview = resolution.host if resolution.is_preview else None
    route = match.route
    return Resolved(
        host=name,
        path=path,
        branch=branch,
        previewHost=preview,
        backend=None if match.backend is None else str(match.backend),
        status=match.status,
        hostGroup=match.host_group,
        defaultBackend=match.via_default,
        route=RouteOut.of(route) if route is not None else None,
        unknownPreview=unknown,
    )


def environment_routes(environment: str, table: RouteTable) -> EnvironmentRoutes:
    default = table.default_backend
    return EnvironmentRoutes(
        environment=environment,
        version=table.version,
        routes=[RouteOut.of(route) for route in table.routes],
        defaultBackend=RouteOut.of(default) if default is not None else None,
        tls=[TLSOut(hosts=list(e.hosts), secretName=e.secret_name, ingress=e.ingress) for e in table.tls],
    )


def api_router(view: ControlPlaneView, access: Access, page_size: int = 50) -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["api"], dependencies=[Depends(access.read)])

    @router.get("/branches", response_model=BranchPage)
    async def list_branches(
        page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
        per_page: Annotated[int, Query(ge=1, le=1000)] = page_size,
        q: Annotated[str, Query(max_length=MAX_NAME, description="substring of the name")] = "",
        state: Annotated[SyncState | None, Query()] = None,
        environment: Annotated[str, Query(max_length=MAX_NAME)] = "",
    ) -> BranchPage:
        found = page_of(view.branches(), page, per_page, q, state.value if state else "", environment)
        return BranchPage(total=found.total, page=page, perPage=per_page, pages=found.pages, items=list(found.items))

    @router.get("/branch", response_model=BranchStatus, responses={404: {"description": "unknown branch"}})
    async def get_branch(branch: BranchParam) -> BranchStatus:
        return branch_or_404(view, branch)

    @router.get("/routes", response_model=RoutesOut, responses={404: {"description": "unknown branch"}})
    async def get_routes(
        branch: BranchParam, environment: Annotated[str, Query(max_length=MAX_NAME)] = ""
    ) -> RoutesOut:
        branch_or_404(view, branch)
        tables = view.routes(branch) or {}
        chosen = [
            environment_routes(env, tables[env]) for env in sorted(tables) if not environment or env == environment
        ]
        return RoutesOut(branch=branch, environments=chosen)

    @router.get("/diff", response_model=DiffOut, responses={404: {"description": "unknown branch"}})
    async def get_diff(branch: BranchParam) -> DiffOut:
        branch_or_404(view, branch)
        diff = view.diff(branch)
        base = view.settings.stable_branch
        if diff is None:
            return DiffOut(branch=branch, base=base, environments=[], counts={}, changes=[])
        data = diff.to_dict()
        return DiffOut(
            branch=branch,
            base=base,
            environments=data["environments"],
            counts=data["counts"],
            changes=[ChangeOut(**change) for change in data["changes"]],
        )

    @router.get("/history", response_model=list[SyncRecord])
    async def get_history(
        branch: Annotated[str, Query(max_length=MAX_NAME, description="empty: every branch")] = "",
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> list[SyncRecord]:
        if branch:
            branch_or_404(view, branch)
        return list(view.history(branch or None, limit))

    @router.get("/resolve", response_model=Resolved, responses={404: {"description": "unknown branch"}})
    async def resolve(
        host: Annotated[str, Query(min_length=1, max_length=MAX_HOST)],
        path: Annotated[str, Query(max_length=MAX_PATH)] = "/",
        branch: Annotated[str, Query(max_length=MAX_NAME, description="empty: as the proxy resolves it")] = "",
    ) -> Resolved:
        return resolve_request(view, host, path, branch)

    return router
