"""The route map: one environment's routes drawn as hosts -> paths -> Services, in SVG.

Rendered on the server (it works without JavaScript and without any script library), from the
compiled route table of the environment and, on a branch page, the route-level diff against the
stable branch (``core.diff``): what the diff calls added, removed, re-targeted or answered
differently (an annotation changed the proxy's answer, the backend stayed) is coloured, and
the backend an example request reached *before* is drawn as a dashed edge, so a re-target reads
as an arrow moving. Removed routes are not in the branch's table; they come from the diff.

Layout is a fixed three-column grid: one row per path, a host box spanning its paths' rows, and
each Service placed as near as it can be to the rows that point at it. Text is monospace, so a
label's width is known from its length without measuring. Colours live in ``static/style.css``
(classes only: the Content-Security-Policy allows no inline style), and every change is also
named in words (a marker and a ``<title>``), never by colour alone. A Service the proxy has no
ready endpoint for (``core.status.EndpointCheck``) is marked the same way: "no endpoint" in its
box, because a branch can be applied and still answer 503.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from markupsafe import Markup

from gitops_ingress.core.diff import ChangeKind, RouteChange
from gitops_ingress.core.routing import RouteTable, ServiceRef
from gitops_ingress.core.routing.table import EMPTY_TABLE
from gitops_ingress.core.status import EndpointCheck

ROW = 30  # px per path row
BOX = 22  # box height inside a row
CHAR = 7.8  # width of one 13 px monospace character
PAD = 8  # text padding inside a box
GAP = 56  # room for the edges between two columns
MARKERS = {"": "", "added": "+ ", "removed": "\u2212 ", "retargeted": "→ ", "annotation": "≈ "}
SHOWN_CHANGES = {ChangeKind.ADDED, ChangeKind.REMOVED, ChangeKind.RETARGETED, ChangeKind.ANNOTATION}
ANY_HOST = "(any host)"
NO_ENDPOINT = "(no endpoint)"


@dataclass(frozen=True, slots=True)
class MapRow:
    """One path of the map: where it is, where it goes, and how the branch changed it."""

    host: str
    path: str
    path_type: str
    service: str  # the backend it reaches now; for a removed path, the one it reached
    change: str = ""  # "", "added", "removed", "retargeted" or "annotation"
    before: str = ""  # a re-targeted path's backend before the change
    answer: str = ""  # an answered-differently path: the diff's words for what changed
    unserved: bool = False  # the proxy has no ready endpoint for ``service``

    @property
    def css(self) -> str:
        return f"change-{self.change}" if self.change else ""

    @property
    def label(self) -> str:
        kind = "" if self.path_type in ("Prefix", "ImplementationSpecific") else f" ({self.path_type})"
        return f"{MARKERS[self.change]}{self.path or '/'}{kind}"


def map_rows(
    table: RouteTable, changes: Iterable[RouteChange] = (), ready: EndpointCheck | None = None
) -> list[MapRow]:
    """The rows of one environment: its effective routes, marked by ``changes`` (that
    environment's part of the diff), plus the paths the diff removed; with ``ready``, each path
    whose Service has no ready endpoint is marked ``unserved``."""
    marked = {(c.host, c.path, c.path_type): c for c in changes if c.kind in SHOWN_CHANGES}
    rows = []
    for route in table.effective_routes().values():
        change = marked.pop((route.host, route.path, route.path_type), None)
        kind = change.kind.value if change else ""
        before = change.before or "" if change and change.kind is ChangeKind.RETARGETED else ""
        answer = change.message if change and change.kind is ChangeKind.ANNOTATION else ""
        unserved = ready is not None and isinstance(route.backend, ServiceRef) and not ready(route.backend)
        backend = str(route.backend)
        rows.append(MapRow(route.host, route.path, route.path_type, backend, kind, before, answer, unserved))
    for change in marked.values():
        if change.kind is ChangeKind.REMOVED:
            rows.append(MapRow(change.host, change.path, change.path_type, change.before or "404", "removed"))
    return sorted(rows, key=lambda row: (row.host or "~", row.path, row.path_type))


def _width(labels: Iterable[str]) -> float:
    return max((len(label) for label in labels), default=4) * CHAR + 2 * PAD


def _service_rows(rows: Sequence[MapRow]) -> dict[str, int]:
    """Each Service at the mean row of the paths that reach it (or reached it), pushed down so
    that no two share a row."""
    wanted: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        wanted.setdefault(row.service, []).append(index)
        if row.before:
            wanted.setdefault(row.before, []).append(index)
    placed: dict[str, int] = {}
    next_free = 0
    for service, indexes in sorted(wanted.items(), key=lambda item: (sum(item[1]) / len(item[1]), item[0])):
        placed[service] = max(next_free, round(sum(indexes) / len(indexes)))
        next_free = placed[service] + 1
    return placed


def _box(x: float, y: float, width: float, height: float, text: str, css: str, title: str) -> Markup:
    return Markup(
        '<g class="{}"><title>{}</title><rect x="{:.0f}" y="{:.0f}" width="{:.0f}" height="{:.0f}" rx="4"/>'
        '<text x="{:.0f}" y="{:.0f}">{}</text></g>'
    ).format(css, title, x, y, width, height, x + PAD, y + height / 2 + 4.5, text)


def _edge(x1: float, y1: float, x2: float, y2: float, css: str) -> Markup:
    middle = (x1 + x2) / 2
    return Markup('<path class="{}" d="M{:.0f} {:.0f} C{:.0f} {:.0f} {:.0f} {:.0f} {:.0f} {:.0f}"/>').format(
        f"edge {css}".strip(), x1, y1, middle, y1, middle, y2, x2, y2
    )


def _href(row: MapRow, previews: Mapping[str, str], try_here: bool) -> str:
    """Where a path's box links to: its preview, the search page's try-out, or nowhere."""
    if row.change == "removed":
        return ""
    base = previews.get(row.host, "")
    if base:
        return base.rstrip("/") + (row.path or "/")
    if try_here and row.host and "*" not in row.host:
        return "/search?" + urlencode({"host": row.host, "path": row.path or "/", "send": "1"})
    return ""


def route_map_svg(
    environment: str, rows: Sequence[MapRow], previews: Mapping[str, str] | None = None, *, try_here: bool = False
) -> Markup:
    """The SVG of one environment (escaped throughout: every label comes from a branch).
    ``previews``: rule host -> the branch's preview URL for it; each path still served becomes a
    link to try it there (keyboard-focusable, like any link). ``try_here``: paths of named hosts
    without a preview link to the search page, which sends the request through the proxy
    (web/tryout.py): how a stable host that does not resolve here is tried."""
    previews = previews or {}
    linked = False
    hosts_w = _width(row.host or ANY_HOST for row in rows)
    paths_w = _width(row.label for row in rows)
    services = _service_rows(rows)
    services_w = _width(
        f"{service} {NO_ENDPOINT}" if any(row.unserved and row.service == service for row in rows) else service
        for service in services
    )
    x_path = hosts_w + GAP
    x_service = x_path + paths_w + GAP
    width = x_service + services_w + 2
    height = max(len(rows), max(services.values(), default=0) + 1) * ROW + 4
    changed = sum(1 for row in rows if row.change)
    summary = f"{len(rows)} paths to {len(services)} backends" + (f", {changed} changed" if changed else "")
    if unserved_count := len({row.service for row in rows if row.unserved}):
        summary += f", {unserved_count} without a ready endpoint"

    def middle(index: int) -> float:
        return index * ROW + 2 + ROW / 2

    parts: list[Markup] = []
    by_host: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        by_host.setdefault(row.host, []).append(index)
    for host, indexes in by_host.items():
        top, bottom = indexes[0] * ROW + 2 + (ROW - BOX) / 2, indexes[-1] * ROW + 2 + (ROW + BOX) / 2
        label = host or ANY_HOST
        parts.append(_box(0, top, hosts_w, bottom - top, label, "node host", f"host {label}"))
        parts.extend(_edge(hosts_w, middle(i), x_path, middle(i), rows[i].css) for i in indexes)
    for index, row in enumerate(rows):
        y = middle(index)
        what = f"{row.change}: " if row.change else ""
        title = f"{what}{row.host or ANY_HOST}{row.path or '/'} ({row.path_type}) -> {row.service}"
        if row.answer:
            title = f"{what}{row.answer}"
        if row.before:
            title += f" (was {row.before})"
            parts.append(_edge(x_path + paths_w, y, x_service, middle(services[row.before]), "before"))
        parts.append(_edge(x_path + paths_w, y, x_service, middle(services[row.service]), row.css))
        box = _box(x_path, y - BOX / 2, paths_w, BOX, row.label, f"node path {row.css}".strip(), title)
        href = _href(row, previews, try_here)
        if href:
            box = Markup('<a href="{}">{}</a>').format(href, box)
            linked = True
        parts.append(box)
    unserved = {row.service for row in rows if row.unserved}
    for service, index in services.items():
        y = middle(index)
        if service in unserved:
            label, css = f"{service} {NO_ENDPOINT}", "node service no-endpoint"
            title = f"backend {service}: the proxy has no ready endpoint for it, so its requests answer 503"
        else:
            label, css, title = service, "node service", f"backend {service}"
        parts.append(_box(x_service, y - BOX / 2, services_w, BOX, label, css, title))
    name = f"Route map of {environment}: {summary}"
    return Markup(
        '<svg class="{}" xmlns="http://www.w3.org/2000/svg" role="{}" aria-label="{}" '
        'width="{:.0f}" height="{:.0f}" viewBox="0 0 {:.0f} {:.0f}"><title>{}</title>{}</svg>'
    ).format(
        "routemap with-changes" if changed else "routemap",
        "group" if linked else "img",  # an image may not hold links (they stay reachable by keyboard)
        name,
        width,
        height,
        width,
        height,
        name,
        Markup("").join(parts),
    )


def route_maps(
    tables: Mapping[str, RouteTable],
    changes: Sequence[RouteChange] = (),
    previews: Mapping[tuple[str, str], str] | None = None,
    ready: EndpointCheck | None = None,
    *,
    try_here: bool = False,
) -> dict[str, Markup]:
    """One SVG per environment, by name; ``changes`` is the branch's diff (all environments: one
    the branch dropped whole still shows what it removed); ``previews``: (environment, rule host)
    -> preview URL, only http(s) ones; ``ready``: which Services the proxy can reach;
    ``try_here``: see ``route_map_svg``."""
    names = sorted(tables.keys() | {c.environment for c in changes if c.kind is ChangeKind.REMOVED})
    links = previews or {}
    return {
        name: route_map_svg(
            name,
            map_rows(tables.get(name, EMPTY_TABLE), (c for c in changes if c.environment == name), ready),
            {host: url for (environment, host), url in links.items() if environment == name},
            try_here=try_here,
        )
        for name in names
    }


def unserved_services(tables: Mapping[str, RouteTable], ready: EndpointCheck | None) -> list[str]:
    """The Services the tables route to that the proxy has no ready endpoint for, sorted."""
    if ready is None:
        return []
    return sorted(
        {
            str(route.backend)
            for table in tables.values()
            for route in table.effective_routes().values()
            if isinstance(route.backend, ServiceRef) and not ready(route.backend)
        }
    )
