"""The route map: rows from a real route table and a real diff, and the SVG they draw."""

from __future__ import annotations

from gitops_ingress.core.backends import BackendMap
from gitops_ingress.core.diff import diff_environments
from gitops_ingress.core.routing import RouteTable
from gitops_ingress.web.routemap import MapRow, map_rows, route_map_svg, route_maps, unserved_services
from tests.web.dashboard_fakes import FakeView, feature_tables, main_tables, open_client, route, sample_view

SCRIPT = "<script>alert(1)</script>"


def branch_tables() -> dict[str, RouteTable]:
    """Against main: /api re-targeted, /api/v2/new added, and staging's only route removed."""
    return {
        "production": RouteTable(
            [
                route("shop.example.com", "/", "storefront"),
                route("shop.example.com", "/api", "catalog-api-v2", "8080", line=21),
                route("shop.example.com", "/api/v2/new", "catalog-api-v2", "8080", path_type="Exact", line=30),
            ]
        )
    }


def test_rows_mark_what_the_diff_added_removed_and_retargeted() -> None:
    tables = branch_tables()
    diff = diff_environments(main_tables(), tables)
    production = map_rows(tables["production"], [c for c in diff.changes if c.environment == "production"])
    assert production == [
        MapRow("shop.example.com", "/", "Prefix", "shop/storefront:80"),
        MapRow("shop.example.com", "/api", "Prefix", "shop/catalog-api-v2:8080", "retargeted", "shop/catalog-api:8080"),
        MapRow("shop.example.com", "/api/v2/new", "Exact", "shop/catalog-api-v2:8080", "added"),
    ]
    maps = route_maps(tables, diff.changes)
    assert list(maps) == ["production", "staging"]  # staging was dropped whole: its removal still shows
    assert 'class="node path change-removed"' in maps["staging"] and "\u2212 /" in maps["staging"]
    assert "+ /api/v2/new (Exact)" in maps["production"] and "→ /api<" in maps["production"]
    assert 'class="edge before"' in maps["production"]  # the dashed edge to where /api went before
    assert "3 paths to 3 backends, 2 changed" in maps["production"]
    assert maps["production"].startswith('<svg class="routemap with-changes"')


def test_without_a_diff_nothing_is_marked_and_each_service_is_drawn_once() -> None:
    svg = route_maps(main_tables())["production"]
    assert "change-added" not in svg and "change-retargeted" not in svg and "edge before" not in svg
    assert svg.count('class="node service"') == 2 and svg.count('class="node path"') == 2
    assert svg.startswith('<svg class="routemap" ') and 'role="img"' in svg


def test_every_label_is_escaped() -> None:
    svg = route_map_svg("prod" + SCRIPT, [MapRow(SCRIPT + ".example.com", "/" + SCRIPT, "Prefix", "ns/" + SCRIPT)])
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_the_branch_page_shows_the_map_first_and_the_stable_routes_page_shows_it_too() -> None:
    view: FakeView = sample_view()
    with open_client(view) as client:
        feature = client.get("/branches/feature%2Fapi-v2").text
        stable = client.get("/routes").text
    assert feature.index('<h2 id="map-h">Route map</h2>') < feature.index("Status</dt>")
    assert 'class="node path change-retargeted"' in feature and "changes against main" in feature
    assert '<svg class="routemap"' in stable and "change-" not in stable.split("<svg", 1)[1].split("</svg>")[0]


def test_the_diff_is_drawn_before_and_after_per_host() -> None:
    with open_client(sample_view()) as client:
        feature = client.get("/branches/feature%2Fapi-v2").text
    picture = feature.split('<div class="beforeafter">', 1)[1].split("<h3>Details</h3>", 1)[0]
    assert picture.count('<figure class="ba-host">') == 1 and "shop.<wbr>example.<wbr>com" in picture
    assert picture.count('<div class="ba-row change-') == 2
    retargeted = picture.split('<div class="ba-row change-retargeted">', 1)[1].split("</div>", 1)[0]
    assert "<code>GET /<wbr>api</code>" in retargeted
    assert retargeted.index("shop/catalog-api:8080") < retargeted.index("shop/catalog-api-v2:8080")


def test_paths_link_to_the_branch_preview_but_never_a_removed_one_or_a_script_url() -> None:
    tables = branch_tables()
    diff = diff_environments(main_tables(), tables)
    previews = {
        ("production", "shop.example.com"): "http://feature--shop.preview.localhost:8080/",
        ("staging", "shop.staging.example.com"): "http://feature--staging.preview.localhost:8080/",
    }
    maps = route_maps(tables, diff.changes, previews)
    assert '<a href="http://feature--shop.preview.localhost:8080/api/v2/new">' in maps["production"]
    assert "<a " not in maps["staging"]  # its only path was removed: nothing to try
    view = sample_view()
    status = view.statuses["feature/api-v2"]
    bad = status.preview_urls[0].model_copy(update={"url": "javascript:alert(1)"})
    view.statuses["feature/api-v2"] = status.model_copy(update={"preview_urls": (bad,)})
    with open_client(view) as client:
        page = client.get("/branches/feature%2Fapi-v2").text
    assert 'href="javascript:' not in page


def test_services_without_a_ready_endpoint_are_marked_in_words_on_the_map_and_the_page() -> None:
    # the backend map serves storefront and catalog-api; the branch's catalog-api-v2 has nothing
    backends = BackendMap({"storefront:80": ["http://127.0.0.1:9001"], "catalog-api:8080": ["http://127.0.0.1:9002"]})
    tables = feature_tables()
    rows = map_rows(tables["production"], ready=backends.serves)
    assert [(row.path, row.unserved) for row in rows] == [("/", False), ("/api", True), ("/api/v2/new", True)]
    svg = route_maps(tables, ready=backends.serves)["production"]
    assert svg.count('class="node service no-endpoint"') == 1  # one box for the Service, however many paths
    assert (
        "shop/catalog-api-v2:8080 (no endpoint)" in svg and "3 paths to 2 backends, 1 without a ready endpoint" in svg
    )
    assert "no-endpoint" not in route_maps(tables)["production"]  # unknown: nothing claimed
    assert unserved_services(tables, backends.serves) == ["shop/catalog-api-v2:8080"]
    with open_client(sample_view(), endpoints=backends.serves) as client:
        feature = client.get("/branches/feature%2Fapi-v2").text
        stable = client.get("/routes").text
    notice = feature.split('<p class="unserved" role="note">', 1)[1].split("</p>", 1)[0]
    assert "<code>shop/catalog-api-v2:8080</code>" in notice and "503" in notice
    assert 'class="unserved"' not in stable  # main's Services are all served
    with open_client(sample_view()) as client:
        assert 'class="unserved"' not in client.get("/branches/feature%2Fapi-v2").text


def test_a_pathtype_change_reads_the_same_in_the_picture_the_details_and_the_pr_comment() -> None:
    """The same entry everywhere: the request that moved, its backend before and after, and why."""
    view = sample_view()
    tables = main_tables()
    tables["production"] = RouteTable(
        [
            route("shop.example.com", "/", "storefront"),
            route("shop.example.com", "/api", "catalog-api", "8080", path_type="Exact", line=21),
        ]
    )
    view.add("feature/exact-api", tables)
    with open_client(view) as client:
        page = client.get("/branches/feature%2Fexact-api").text
        comment = client.get("/api/v1/previews/summary.md", params={"branch": "feature/exact-api"}).text
    picture = page.split('<div class="beforeafter">', 1)[1].split("<h3>Details</h3>", 1)[0]
    row = picture.split('<div class="ba-row change-path-type">', 1)[1].split("</figure>", 1)[0]
    assert "<code>GET /<wbr>api/<wbr>any</code>" in row
    assert row.index("shop/catalog-api:8080") < row.index("shop/storefront:80")
    details = page.split("<h3>Details</h3>", 1)[1]
    assert details.count('<tr class="change-') == 1 and '<tr class="change-path-type">' in details
    assert (
        "| production | pathType changed | `shop.example.com/api (Exact)` | `GET shop.example.com/api/any` "
        "| `shop/catalog-api:8080` | `shop/storefront:80` | shop.example.com/api: pathType Prefix -> Exact |"
    ) in comment


def test_a_path_answered_differently_is_marked_with_the_diffs_words() -> None:
    # the backend stays shop/web:80; only the canary split moves, which the diff calls an answer change
    from tests.core.test_annotations import canary_ingress, table_of
    from tests.support.manifests import ingress

    before, after = table_of(ingress(), canary_ingress("10")), table_of(ingress(), canary_ingress("50"))
    diff = diff_environments({"prod": before}, {"prod": after})
    [row] = map_rows(after, diff.changes)
    assert (row.change, row.service, row.before) == ("annotation", "shop/web:80", "")
    assert row.answer == "GET shop.example.com/ goes to shop/web:80: canary split 10 % -> 50 % shop/web-canary:80"
    svg = route_maps({"prod": after}, diff.changes)["prod"]
    assert 'class="node path change-annotation"' in svg and "≈ /<" in svg
    assert "<title>annotation: GET shop.example.com/ goes to shop/web:80: canary split 10 % -&gt; 50 %" in svg
    assert "1 paths to 1 backends, 1 changed" in svg
