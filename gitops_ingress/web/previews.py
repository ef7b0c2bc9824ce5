"""PR preview URLs: the URLs of a branch, a markdown summary to post on its pull request, and
(optionally) posting it as a comment plus a commit status through the forge.

The summary is the one thing a reviewer reads on the pull request, so it leads with what to click
(the preview URLs), then what changes for requests (the route diff, from ``core.reports.markdown``
so the CLI's ``diff --format markdown`` and the comment agree), then why a refused commit was
refused, then the head's ingress-nginx annotations and how each is treated (the table of
``validate``'s markdown summary, ``core/reports/annotation_table.py``). Everything interpolated
from the branch is escaped for markdown tables and HTML, since branch names, hosts and paths are
chosen by whoever pushes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from gitops_ingress.core.annotations.usage import merged_uses
from gitops_ingress.core.diff import RouteDiff
from gitops_ingress.core.previewkeys import PreviewKeyPolicy, real_host_url
from gitops_ingress.core.reports import annotation_table
from gitops_ingress.core.reports.markdown import cell, render_diff, render_findings
from gitops_ingress.core.reports.summary import ValidationReport
from gitops_ingress.core.status import (
    BranchStatus,
    ControlPlaneView,
    PreviewURL,
    SyncState,
)
from gitops_ingress.web.api import PREFIX, BranchParam, branch_or_404, branch_path
from gitops_ingress.web.auth import Access
from gitops_ingress.web.forge import ForgeError, GitHubClient
from gitops_ingress.web.forgestatus import STATUS_OF
from gitops_ingress.web.options import WebOptions


class PreviewsOut(BaseModel):
    branch: str
    slug: str
    state: SyncState
    previewUrls: list[PreviewURL]
    dashboardUrl: str
    markdown: str


class PublishIn(BaseModel):
    branch: str = Field(min_length=1, max_length=1024)
    pullRequest: int = Field(ge=1, le=10**9)


class PublishOut(BaseModel):
    commentUrl: str
    commit: str
    status: str


def dashboard_url(public_url: str, branch: str) -> str:
    return public_url.rstrip("/") + branch_path(branch) if public_url else branch_path(branch)


RealHostLinks = Mapping[tuple[str, str], str]  # (environment, stable host) -> link


def real_host_links(view: ControlPlaneView, status: BranchStatus, now: float) -> dict[tuple[str, str], str]:
    """ "Open on the real host" links (docs/previews.md) for the stable hosts the branch changes:
    each carries the branch's key, a signed token valid for ``preview_key_max_age`` from ``now``
    when a secret is set. None for wildcard hosts (no one name to open), protected hosts, keys
    off, or the stable branch."""
    policy = PreviewKeyPolicy.from_settings(view.settings)
    if status.stable or not policy.enabled:
        return {}
    overlaid = set(view.routing_state().overlaid_hosts(status.name))
    key = policy.issue(status.slug, now)
    return {
        (p.environment, p.stable_host): real_host_url(p.url, p.stable_host, key)
        for p in status.preview_urls
        if p.stable_host in overlaid and not p.stable_host.startswith("*.") and not policy.protects(p.stable_host)
    }


def summary_markdown(
    status: BranchStatus,
    diff: RouteDiff | None,
    stable_branch: str,
    public_url: str = "",
    real_links: RealHostLinks | None = None,
) -> str:
    """The pull-request comment for a branch; ``real_links``: from ``real_host_links``."""
    state_line = f"**{cell(status.state.value)}**"
    if status.head is not None:
        state_line += f" at `{cell(status.head.sha[:12])}`"
    if status.message:
        state_line += f": {cell(status.message)}"
    lines = [
        f"## gitops-ingress preview of `{cell(status.name)}`",
        "",
        f"Status: {state_line}. [Dashboard]({dashboard_url(public_url, status.name)})",
        "",
    ]
    if status.preview_urls:
        links = real_links or {}
        lines += ["| Environment | Stable host | Preview URL | On the real host |", "| --- | --- | --- | --- |"]
        for url in status.preview_urls:
            real = links.get((url.environment, url.stable_host))
            real_cell = f"[open on the real host]({cell(real)})" if real else "-"
            lines.append(
                f"| {cell(url.environment)} | {cell(url.stable_host or '(any host)')} | {cell(url.url)} | {real_cell} |"
            )
    else:
        lines.append("No preview URLs (yet)." if not status.stable else "The stable branch has no previews.")
    lines.append("")
    if not status.stable and diff is None:
        lines += [f"No route diff against `{cell(stable_branch)}` yet.", ""]
    elif not status.stable and diff is not None:
        title = f"### Route changes against `{cell(stable_branch)}`"
        lines.append(render_diff(diff).replace("### gitops-ingress route diff", title, 1))
    findings = status.findings
    if findings:
        # the CLI's report without its title and file/object counts, which a status cannot know
        table = render_findings(ValidationReport(tuple(findings))).split("\n", 4)[4]
        lines += [f"### {len(findings)} validation findings", "", table]
    # the same support table as validate's markdown summary, of the head in every environment
    uses = merged_uses(env.annotations for env in status.environments)
    lines += [""] + annotation_table.markdown_table(uses, cell)
    return "\n".join(lines).rstrip() + "\n"


def previews_router(
    view: ControlPlaneView, access: Access, options: WebOptions, forge: GitHubClient | None
) -> APIRouter:
    router = APIRouter(prefix=PREFIX + "/previews", tags=["previews"])

    def summary(status: BranchStatus) -> str:
        links = real_host_links(view, status, time.time())
        return summary_markdown(status, view.diff(status.name), view.settings.stable_branch, options.public_url, links)

    @router.get(
        "",
        response_model=PreviewsOut,
        dependencies=[Depends(access.read)],
        responses={404: {"description": "unknown branch"}},
    )
    async def get_previews(branch: BranchParam) -> PreviewsOut:
        status = branch_or_404(view, branch)
        return PreviewsOut(
            branch=status.name,
            slug=status.slug,
            state=status.state,
            previewUrls=list(status.preview_urls),
            dashboardUrl=dashboard_url(options.public_url, status.name),
            markdown=summary(status),
        )

    @router.get(
        "/summary.md",
        response_class=PlainTextResponse,
        dependencies=[Depends(access.read)],
        responses={200: {"content": {"text/markdown": {}}}, 404: {"description": "unknown branch"}},
    )
    async def get_summary(branch: BranchParam) -> PlainTextResponse:
        status = branch_or_404(view, branch)
        return PlainTextResponse(summary(status), media_type="text/markdown; charset=utf-8")

    @router.post(
        "/publish",
        response_model=PublishOut,
        dependencies=[Depends(access.write)],
        responses={
            404: {"description": "unknown branch"},
            409: {"description": "no head commit or no forge"},
            502: {"description": "the forge failed"},
        },
    )
    async def publish(request: PublishIn) -> PublishOut:
        status = branch_or_404(view, request.branch)
        if forge is None:
            raise HTTPException(409, "publishing is not configured (forge repository and token)")
        if status.head is None:
            raise HTTPException(409, f"branch {status.name!r} has no head commit yet")
        state, description = STATUS_OF[status.state]
        try:
            comment = await forge.upsert_comment(request.pullRequest, summary(status))
            await forge.set_status(status.head.sha, state, description, dashboard_url(options.public_url, status.name))
        except ForgeError as exc:
            raise HTTPException(502, str(exc)) from exc
        return PublishOut(commentUrl=comment, commit=status.head.sha, status=state)

    return router
