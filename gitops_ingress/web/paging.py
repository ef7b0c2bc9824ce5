"""``GET /api/branches``: every branch status, or one page of them with a continue token.

Without ``limit`` the answer is what it always was, the whole list, for existing clients. With
``limit=N`` it is the first N statuses in the list's order (the stable branch first, then by
name), and when more follow, an ``X-Continue`` header holds an opaque token and a ``Link`` header
(``rel="next"``) the URL of the next page; ``continue=TOKEN`` resumes after it. This is the
Kubernetes list API's ``limit``/``continue`` contract, with the token in a header so the body
keeps one schema.

The token names the last branch returned, so a page is found by position in the ordered names
(a bisection), not by an offset: branches created or deleted between two pages shift nothing,
a deleted cursor branch still marks its place, and only the page's own statuses are built (a
status is the costly part: preview hosts, models), which keeps a page's cost independent of
the number of branches. A token that does not decode is a 400.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response

from gitops_ingress.core.status import BranchStatus, ControlPlaneView

BRANCHES_PATH = "/api/branches"
CONTINUE_HEADER = "X-Continue"
MAX_LIMIT = 1000


def encode_continue(after: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode().rstrip("=")


def decode_continue(token: str) -> str:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        after = data["after"]
    except (ValueError, binascii.Error, KeyError, TypeError) as exc:
        raise HTTPException(400, "continue: not a token this API returned") from exc
    if not isinstance(after, str):
        raise HTTPException(400, "continue: not a token this API returned")
    return after


def page_names(names: Sequence[str], stable: str, after: str | None, limit: int | None) -> tuple[list[str], bool]:
    """The names of one page (after ``after``, at most ``limit``) and whether more follow.
    ``names`` is in the list's order: the stable branch first, then by name."""
    keys = [(name != stable, name) for name in names]
    start = 0 if after is None else bisect.bisect_right(keys, (after != stable, after))
    end = len(names) if limit is None else min(len(names), start + limit)
    return list(names[start:end]), end < len(names)


def branches_router(view: ControlPlaneView) -> APIRouter:
    router = APIRouter()
    headers = {
        CONTINUE_HEADER: {
            "description": "the token of the next page; absent on the last",
            "schema": {"type": "string"},
        },
        "Link": {"description": 'the next page\'s URL, `rel="next"`; absent on the last', "schema": {"type": "string"}},
    }

    @router.get(
        BRANCHES_PATH,
        response_model=list[BranchStatus],
        responses={200: {"headers": headers}, 400: {"description": "a continue token this API did not return"}},
    )
    async def list_branches(
        request: Request,
        response: Response,
        limit: Annotated[
            int | None, Query(ge=1, le=MAX_LIMIT, description="at most this many (default: all, unpaginated)")
        ] = None,
        continue_: Annotated[
            str | None,
            Query(alias="continue", max_length=1024, description="the X-Continue token of the page before"),
        ] = None,
    ) -> list[BranchStatus]:
        """Branch statuses, the stable branch first, then by name: all of them, or a page."""
        if limit is None and continue_ is None:
            return list(view.branches())
        after = None if continue_ is None else decode_continue(continue_)
        names, more = page_names(view.branch_names(), view.settings.stable_branch, after, limit)
        statuses = [status for name in names if (status := view.branch(name)) is not None]
        if more and names:
            token = encode_continue(names[-1])
            response.headers[CONTINUE_HEADER] = token
            response.headers["Link"] = f'<{request.url.include_query_params(**{"continue": token})}>; rel="next"'
        return statuses

    return router
