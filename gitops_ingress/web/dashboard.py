"""The dashboard: server-rendered HTML pages, and ``install_dashboard`` which adds them, the JSON
API, the event stream and the preview endpoints to an app.

Pages are rendered on the server with Jinja2 so they work without JavaScript; ``static/live.js``
only listens to ``/api/v1/events`` and re-fetches the page, replacing the live region, so there is
one renderer and one place where escaping happens. Autoescaping is forced on for every template and
nothing from a branch is marked safe; a strict Content-Security-Policy (scripts and styles from
this origin only, no inline code) is the second line of defence. Branch names travel as one
percent-encoded path segment (``/branches/feature%2Flogin``); ``{name:path}`` also accepts the
decoded form, and a name is only ever a key into the view, never a file path.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import jinja2
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gitops_ingress.core.findings import sorted_findings
from gitops_ingress.core.status import BranchStatus, ControlPlaneView, EndpointCheck, SyncState
from gitops_ingress.web.api import (
    MAX_HOST,
    MAX_NAME,
    MAX_PATH,
    api_router,
    branch_path,
    page_of,
    resolve_request,
)
from gitops_ingress.web.apidocs import DOCS_URL, FAVICON_URL, install_api_docs
from gitops_ingress.web.auth import Access
from gitops_ingress.web.events import events_router
from gitops_ingress.web.forge import GitHubClient, repo_links
from gitops_ingress.web.options import WebOptions
from gitops_ingress.web.previews import previews_router, real_host_links
from gitops_ingress.web.routemap import route_maps, unserved_services
from gitops_ingress.web.timeline import milliseconds, push_to_live_summary, timeline_svg
from gitops_ingress.web.timewords import time_element
from gitops_ingress.web.tryout import try_request

HERE = Path(__file__).parent
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]
# The API docs page bootstraps Swagger UI with an inline script (web/apidocs.py).
_CSP_EXEMPT = (DOCS_URL,)


class SecurityHeaders:
    """Pure ASGI middleware (not BaseHTTPMiddleware, which would buffer the SSE stream)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith(_CSP_EXEMPT):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def safe_href(url: str) -> str:
    """Only http(s) links from data: a ``javascript:`` URL never becomes a link."""
    return url if url.startswith(("http://", "https://")) else ""


_BREAK_AFTER = re.compile(r"(?<=[./])")


def soft_breaks(text: str) -> Markup:
    """Host names and file paths may wrap only after a dot or a slash (``<wbr>``), never inside a
    label or a file name."""
    return Markup("<wbr>").join(escape(part) for part in _BREAK_AFTER.split(text))


def templates_for(options: WebOptions) -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    links = repo_links(options.repo_url)
    env.filters["branch_url"] = branch_path
    env.filters["short"] = lambda sha: (sha or "")[:10]
    env.filters["href"] = safe_href
    env.filters["breakable"] = soft_breaks
    env.filters["when"] = time_element
    env.globals["file_url"] = lambda commit, path, line=0: links.file_url(commit, path, line) if links else ""
    env.globals["commit_url"] = lambda commit: links.commit_url(commit) if links else ""
    env.globals["States"] = SyncState
    return Jinja2Templates(env=env)


def _environments(branches: Sequence[BranchStatus]) -> list[str]:
    return sorted({env.environment for branch in branches for env in branch.environments})


def dashboard_router(
    view: ControlPlaneView,
    access: Access,
    options: WebOptions,
    templates: Jinja2Templates,
    endpoints: EndpointCheck | None = None,
) -> APIRouter:
    router = APIRouter(include_in_schema=False, dependencies=[Depends(access.read)])

    def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("stable_branch", view.settings.stable_branch)
        return templates.TemplateResponse(request, template, context, status_code=status_code)

    @router.get("/", response_class=HTMLResponse)
    async def overview(
        request: Request,
        page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
        q: Annotated[str, Query(max_length=MAX_NAME)] = "",
        state: Annotated[SyncState | None, Query()] = None,
        environment: Annotated[str, Query(max_length=MAX_NAME)] = "",
    ) -> HTMLResponse:
        branches = view.branches()  # built once per page: the filter and the environment list share it
        found = page_of(branches, page, options.page_size, q, state.value if state else "", environment)
        filters = {
            k: v for k, v in (("q", q), ("state", state.value if state else ""), ("environment", environment)) if v
        }

        def page_url(number: int) -> str:
            return "/?" + urlencode({**filters, "page": number})

        return render(
            request,
            "overview.html",
            page=found,
            q=q,
            state=state.value if state else "",
            environment=environment,
            environments=_environments(branches),
            page_url=page_url,
        )

    @router.get("/routes", response_class=HTMLResponse)
    async def stable_routes(request: Request) -> HTMLResponse:
        name = view.settings.stable_branch
        tables = view.routes(name) or {}
        return render(
            request,
            "routes.html",
            branch=view.branch(name),
            tables=tables,
            maps=route_maps(tables, ready=endpoints, try_here=bool(options.proxy_url)),
            unserved=unserved_services(tables, endpoints),
        )

    @router.get("/search", response_class=HTMLResponse)
    async def search(
        request: Request,
        host: Annotated[str, Query(max_length=MAX_HOST)] = "",
        path: Annotated[str, Query(max_length=MAX_PATH)] = "/",
        branch: Annotated[str, Query(max_length=MAX_NAME)] = "",
        send: bool = False,
    ) -> HTMLResponse:
        known = view.branch(branch) is not None if branch else True
        result = resolve_request(view, host, path, branch) if host and known else None
        # a branch's own routes are tried on its preview host; "as the proxy sees it" on the host
        tried_host = (result.previewHost or result.host) if result is not None else ""
        tried = (
            await try_request(options.proxy_url, tried_host, result.path)
            if send and options.proxy_url and result is not None
            else None
        )
        names = [b.name for b in page_of(view.branches(), 1, 1000).items]
        return render(
            request,
            "search.html",
            status_code=200 if known else 404,
            host=host,
            path=path,
            branch=branch,
            known=known,
            result=result,
            branch_names=names,
            can_try=bool(options.proxy_url),
            tried=tried,
        )

    @router.get("/branches/{name:path}", response_class=HTMLResponse)
    async def branch_page(request: Request, name: str) -> HTMLResponse:
        status = view.branch(name)
        if status is None:
            return render(request, "not_found.html", status_code=404, what="branch", name=name)
        preview_bases = {(p.environment, p.stable_host): p.url for p in status.preview_urls if safe_href(p.url)}
        tables = view.routes(name) or {}
        diff = view.diff(name)
        history = view.history(name, 50)
        return render(
            request,
            "branch.html",
            branch=status,
            tables=tables,
            maps=route_maps(
                tables,
                diff.changes if diff and not status.stable else (),
                preview_bases,
                endpoints,
                try_here=status.stable and bool(options.proxy_url),
            ),
            unserved=unserved_services(tables, endpoints),
            diff=diff,
            history=history,
            timeline=timeline_svg(history),
            push_to_live=push_to_live_summary(history),
            milliseconds=milliseconds,
            findings=sorted_findings(status.findings),
            preview_bases=preview_bases,
            real_links=real_host_links(view, status, time.time()),
            overlaid=view.routing_state().overlaid_hosts(name),
        )

    return router


def install_dashboard(
    app: FastAPI,
    view: ControlPlaneView,
    options: WebOptions | None = None,
    *,
    forge: GitHubClient | None = None,
    endpoints: EndpointCheck | None = None,
) -> None:
    """Add the dashboard, the JSON API (``/api/v1``), the event stream and the preview endpoints.

    ``forge`` defaults to a GitHub client when ``options.forge`` is GitHub with a repository and a token;
    ``endpoints`` says which Services the proxy can reach (unknown, so nothing marked, without)."""
    options = options or WebOptions()
    access = Access(options)
    templates = templates_for(options)
    if forge is None and options.forge.enabled and options.forge.kind == "github":
        forge = GitHubClient(options.forge)  # PR comments: GitHub's (other forges get statuses, forgenotify.py)
    app.add_middleware(SecurityHeaders)
    app.include_router(api_router(view, access, options.page_size))
    app.include_router(previews_router(view, access, options, forge))
    app.include_router(events_router(view, access))
    app.include_router(dashboard_router(view, access, options, templates, endpoints))
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    install_api_docs(app)

    @app.get(FAVICON_URL, include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        wants_html = "text/html" in request.headers.get("accept", "")
        if exc.status_code == 404 and wants_html and not request.url.path.startswith(("/api/", "/webhooks/")):
            context = {"what": "page", "name": request.url.path, "stable_branch": view.settings.stable_branch}
            return templates.TemplateResponse(request, "not_found.html", context, status_code=404)
        return await http_exception_handler(request, exc)
