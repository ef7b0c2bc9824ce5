"""schemathesis against the OpenAPI document: no generated input makes the API answer 5xx."""

from __future__ import annotations

import hypothesis
import schemathesis
from schemathesis.specs.openapi.checks import response_schema_conformance

from gitops_ingress.web.options import ForgeOptions, WebOptions
from tests.support.github_api import GitHubStandIn
from tests.web.dashboard_fakes import build_app, sample_view

STAND_IN = GitHubStandIn(token="gh").__enter__()  # one local server for the module; a daemon thread
OPTIONS = WebOptions(
    bearer_token="admin", forge=ForgeOptions(api_url=STAND_IN.url, repository="acme/routes", token="gh")
)
APP = build_app(sample_view(), OPTIONS)
# The SSE stream never ends by design; it has its own test.
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(path="/api/v1/events")


@schema.parametrize()
@hypothesis.settings(max_examples=60, deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
def test_no_server_errors(case: schemathesis.Case) -> None:
    response = case.call(headers={"Authorization": "Bearer admin"})
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} {case.query}: {response.status_code} {response.text[:300]}"
    )
    content_type = response.headers.get("content-type", [""])[0]
    if response.status_code == 200 and content_type.startswith("application/json"):
        case.validate_response(response, checks=[response_schema_conformance])
