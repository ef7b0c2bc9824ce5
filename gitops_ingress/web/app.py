"""The web application factory.

``create_app`` only assembles: it includes one router per concept (the proxies' control plane
stream, the branch API), the two operational endpoints, and in front of everything the webhook
intake (web/webhooks.py). Everything it serves comes from the objects passed in -- the
``ControlPlaneView`` and ``WebhookReceiver`` Protocols of ``core.status``, the backend map and a
Prometheus registry -- so the web layer imports nothing but ``core`` and the same factory serves
the real engine and a test double alike. New pages and API routes are added as routers here, not
as code in this module.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Depends, FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from gitops_ingress import __version__
from gitops_ingress.core.backends import BackendMap
from gitops_ingress.core.status import ControlPlaneView, EndpointCheck, WebhookReceiver
from gitops_ingress.core.stream import DEFAULT_PING_INTERVAL
from gitops_ingress.web.auth import Access
from gitops_ingress.web.dashboard import install_dashboard
from gitops_ingress.web.hosts import HostGuard
from gitops_ingress.web.options import WebOptions
from gitops_ingress.web.paging import branches_router
from gitops_ingress.web.stream import stream_router
from gitops_ingress.web.webhooks import MAX_WEBHOOK_BODY, WebhookIntake


def create_app(
    view: ControlPlaneView,
    receiver: WebhookReceiver,
    *,
    webhook_secrets: Mapping[str, str] | None = None,
    backends: BackendMap | None = None,
    metrics: CollectorRegistry | None = None,
    ping_interval: float = DEFAULT_PING_INTERVAL,
    max_webhook_body: int = MAX_WEBHOOK_BODY,
    web_options: WebOptions | None = None,
    endpoints: EndpointCheck | None = None,
) -> FastAPI:
    """``webhook_secrets``: endpoint name (github, gitlab, gitea, generic) -> secret or token; an
    endpoint without one refuses every delivery. ``endpoints``: which Services the proxy has a
    ready endpoint for, when the caller knows (the dashboard marks the others)."""
    app = FastAPI(title="gitops-ingress", version=__version__)
    access = Access(web_options or WebOptions())
    app.include_router(
        stream_router(view, backends or BackendMap(), ping_interval=ping_interval),
        dependencies=[Depends(access.read)],
    )
    app.include_router(branches_router(view), dependencies=[Depends(access.read)])

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {"description": "the config repository cannot be fetched"}})
    async def readyz() -> Response:
        """503 while the remote cannot be fetched or the mirror is gone, with the whole message:
        the last good routes keep serving, but new commits do not arrive. On the loop, so that
        the view may check the mirror and ask for a fetch."""
        problem = view.remote_error
        if problem:
            return Response(f"not ready: {problem}\n", status_code=503, media_type="text/plain")
        return Response("ready\n", media_type="text/plain")

    registry = metrics if metrics is not None else CollectorRegistry()

    @app.get("/metrics")
    def metrics_endpoint() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    install_dashboard(app, view, web_options, endpoints=endpoints)
    app.add_middleware(HostGuard, allowed=(web_options or WebOptions()).hosts)
    # outermost: a delivery passes none of the dashboard's layers (web/webhooks.py says why)
    app.add_middleware(WebhookIntake, receiver=receiver, secrets=webhook_secrets or {}, max_body=max_webhook_body)
    return app
