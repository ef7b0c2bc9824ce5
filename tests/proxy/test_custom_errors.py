"""``custom-http-errors`` through the real proxy, a real upstream answering 503 and 404, and a real
error-page backend (an echo upstream: the page it returns is the request it was sent, so the test
reads the headers ingress-nginx's e2e test, test/e2e/annotations/customhttperrors.go, checks)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from gitops_ingress.proxy.config import ProxySettings
from tests.proxy.conftest import backends
from tests.proxy.fixtures_ops import LOOPBACK, WAIT, ProxyProcess, write
from tests.proxy.h2client import H2Client
from tests.proxy.test_annotations import P, get, state_of
from tests.support.manifests import ingress, to_yaml
from tests.support.upstreams import Blackhole, refused_port

PAGES = {P + "custom-http-errors": "404,503", P + "default-backend": "errors"}


def serve(make_proxy, start_upstream, annotations, errors_url: str | None = None, **options):
    """A proxy over one Ingress of host errors.foo.com to an echo ``web``, with the error backend
    ``errors`` an echo too unless ``errors_url`` says where it is: (proxy port, web port)."""
    web = start_upstream("echo")
    errors = errors_url or start_upstream("echo").url
    obj = ingress("shop-front", host="errors.foo.com", annotations=annotations)
    proxy = make_proxy(state_of(obj), backends({"web": [web.url], "errors": [errors]}), **options)
    return proxy.port, web.port


def page_request(response) -> dict:
    """What the error backend was sent, as the echo answered it."""
    record = json.loads(response.body)
    return {**record, "map": {name.lower(): value for name, value in record["headers"]}}


def test_listed_statuses_get_the_error_backends_page_with_ingress_nginx_headers(make_proxy, start_upstream) -> None:
    port, _ = serve(make_proxy, start_upstream, PAGES)
    response = get(port, "errors.foo.com", "/status/503?x=1", b"Accept: application/json\r\nX-Request-ID: req-7\r\n")
    assert response.status == 503  # the original status, the page's body
    assert response.header("content-type") == "application/json"
    sent = page_request(response)
    assert (sent["method"], sent["path"]) == ("GET", "/")
    headers = sent["map"]
    assert headers["x-code"] == "503"
    assert headers["x-format"] == "application/json"
    assert headers["x-original-uri"] == "/status/503?x=1"
    assert (headers["x-namespace"], headers["x-ingress-name"]) == ("shop", "shop-front")
    assert (headers["x-service-name"], headers["x-service-port"]) == ("web", "80")
    assert headers["x-request-id"] == "req-7"
    assert headers["host"] == "errors.foo.com"
    not_found = get(port, "errors.foo.com", "/status/404")
    assert not_found.status == 404 and page_request(not_found)["map"]["x-code"] == "404"


def test_a_head_request_gets_the_pages_head_with_its_length_and_no_body(make_proxy, start_upstream) -> None:
    from tests.proxy.rawclient import connect, read_responses

    port, _ = serve(make_proxy, start_upstream, PAGES)
    with connect(port) as sock:
        sock.sendall(b"HEAD /status/503 HTTP/1.1\r\nHost: errors.foo.com\r\n\r\n")
        sock.settimeout(10)
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            head += sock.recv(65536)
        assert head.startswith(b"HTTP/1.1 503")
        assert int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0]) > 0  # the GET answer's length
        sock.sendall(b"GET /hello HTTP/1.1\r\nHost: errors.foo.com\r\n\r\n")
        (after,) = read_responses(sock)  # a body after the HEAD answer would be read as this one
        assert after.status == 200


def test_other_statuses_and_successes_pass_through(make_proxy, start_upstream) -> None:
    port, web_port = serve(make_proxy, start_upstream, PAGES)
    unlisted = get(port, "errors.foo.com", "/status/500")
    assert (unlisted.status, unlisted.body) == (500, b"ok")
    fine = get(port, "errors.foo.com", "/hello")
    assert fine.status == 200 and page_request(fine)["port"] == web_port


def test_disable_proxy_intercept_errors_sends_the_upstreams_answer(make_proxy, start_upstream) -> None:
    port, _ = serve(make_proxy, start_upstream, {**PAGES, P + "disable-proxy-intercept-errors": "true"})
    response = get(port, "errors.foo.com", "/status/503")
    assert (response.status, response.body) == (503, b"ok")


def test_without_default_backend_the_proxy_sends_its_own_page(make_proxy, start_upstream) -> None:
    port, _ = serve(make_proxy, start_upstream, {P + "custom-http-errors": "503"})
    response = get(port, "errors.foo.com", "/status/503")
    assert response.status == 503 and response.body.startswith(b"503 Service Unavailable")


def test_an_error_backend_that_refuses_gives_the_proxys_own_page(make_proxy, start_upstream) -> None:
    port, _ = serve(make_proxy, start_upstream, PAGES, errors_url=f"http://127.0.0.1:{refused_port()}")
    response = get(port, "errors.foo.com", "/status/404")
    assert response.status == 404 and response.body.startswith(b"404 Not Found")
    assert get(port, "errors.foo.com", "/hello").status == 200  # the client connection goes on


def test_an_error_backend_that_hangs_is_bounded_by_the_routes_timeouts(make_proxy, start_upstream) -> None:
    hole = Blackhole()
    try:
        annotations = {**PAGES, P + "proxy-connect-timeout": "1"}
        port, _ = serve(make_proxy, start_upstream, annotations, errors_url=f"http://127.0.0.1:{hole.port}")
        response = get(port, "errors.foo.com", "/status/503")
        assert response.status == 503 and response.body.startswith(b"503 Service Unavailable")
    finally:
        hole.close()


def test_the_proxys_own_502_is_replaced_too(make_proxy, start_upstream) -> None:
    errors = start_upstream("echo")
    obj = ingress(host="errors.foo.com", annotations={P + "custom-http-errors": "502", P + "default-backend": "errors"})
    down = f"http://127.0.0.1:{refused_port()}"
    proxy = make_proxy(state_of(obj), backends({"web": [down], "errors": [errors.url]}))
    response = get(proxy.port, "errors.foo.com", "/")
    assert response.status == 502 and page_request(response)["map"]["x-code"] == "502"


def test_http2_clients_get_the_same_page(make_proxy, start_upstream) -> None:
    port, _ = serve(make_proxy, start_upstream, PAGES, settings=ProxySettings(h2c=True))
    client = H2Client(port).start()
    try:
        accept = [("accept", "text/html")]
        page = client.answer(client.request("/status/503", host="errors.foo.com", extra=accept))
        plain = client.answer(client.request("/status/500", host="errors.foo.com"))
    finally:
        client.close()
    assert page.status == 503 and page.header(b"content-type") == b"application/json"
    assert page_request(page)["map"]["x-format"] == "text/html"
    assert (plain.status, plain.body) == (500, b"ok")


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_proxy_process_serves_error_pages_and_counts_a_failed_error_backend(tmp_path: Path, start_upstream) -> None:
    """``gitops-ingress proxy`` over Ingress files: one host's error backend answers, the other's
    refuses, which the proxy's own page and the upstream-errors metric show."""
    web, errors = start_upstream("echo"), start_upstream("echo")
    env = tmp_path / "production"
    write(env / "good.yaml", to_yaml(ingress("good", host="good.foo.com", annotations=PAGES)))
    broken = {**PAGES, P + "default-backend": "broken"}
    write(env / "bad.yaml", to_yaml(ingress("bad", host="bad.foo.com", annotations=broken)))
    backends_args = [f"web:80={web.url}", f"errors:80={errors.url}", f"broken:80=http://{LOOPBACK}:{refused_port()}"]
    args = [
        "--listen",
        f"{LOOPBACK}:0",
        "--ingress-dir",
        str(env),
        "--no-access-log",
        "--admin-listen",
        f"{LOOPBACK}:0",
    ]
    args += [item for backend in backends_args for item in ("--backend", backend)]
    with ProxyProcess(args) as proxy, httpx.Client(base_url=proxy.wait_serving().url(), timeout=WAIT) as client:
        good = client.get("/status/503", headers={"Host": "good.foo.com", "Accept": "text/html"})
        assert good.status_code == 503
        sent = {name.lower(): value for name, value in good.json()["headers"]}
        assert (sent["x-code"], sent["x-format"], sent["x-ingress-name"]) == ("503", "text/html", "good")
        bad = client.get("/status/404", headers={"Host": "bad.foo.com"})
        assert bad.status_code == 404 and bad.text.startswith("404 Not Found")
        metrics = httpx.get(proxy.admin_url + "/metrics", timeout=WAIT).text
        assert 'gitops_ingress_proxy_upstream_errors_total{reason="error-page-failed"} 1.0' in metrics
        assert proxy.stop() == 0
