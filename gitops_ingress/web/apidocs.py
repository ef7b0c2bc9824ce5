"""The interactive API docs (``/docs``), served entirely by the app itself.

FastAPI's own ``/docs`` page loads Swagger UI from a CDN, so offline (or behind a strict egress
policy) it is a blank page. The Swagger UI files come instead from the pinned
``swagger-ui-bundle-v2`` package (the same bundle the spec-first projects ship) and are served
under ``/vendor/swagger-ui``; ``install_api_docs`` replaces the framework's CDN page with one that
points there. The ReDoc page is dropped: no pinned package ships it, and one docs UI is enough.
The page keeps an inline bootstrap script (the framework's), so it is exempt from the dashboard's
Content-Security-Policy; it fetches nothing but ``/openapi.json`` (the online validator is off).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.routing import BaseRoute
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

DOCS_URL = "/docs"
ASSETS_URL = "/vendor/swagger-ui"
FAVICON_URL = "/favicon.ico"


def _framework_docs_route(route: BaseRoute, app: FastAPI) -> bool:
    return getattr(route, "path", None) in {app.docs_url, app.redoc_url}


def install_api_docs(app: FastAPI) -> None:
    """Serve ``/docs`` from local assets, replacing the framework's CDN pages if it added them."""
    app.router.routes[:] = [route for route in app.router.routes if not _framework_docs_route(route, app)]
    app.mount(ASSETS_URL, StaticFiles(directory=Path(str(swagger_ui_path))), name="swagger-ui")
    openapi_url = app.openapi_url or "/openapi.json"
    title = f"{app.title} API"

    @app.get(DOCS_URL, include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=FAVICON_URL,
            oauth2_redirect_url=app.swagger_ui_oauth2_redirect_url,
            swagger_ui_parameters={"validatorUrl": None},
        )
