"""Forwarded headers trust nobody by default: a ``gitops-ingress proxy`` process with one trusted
proxy (127.0.0.2) in front of an echo upstream, spoken to from 127.0.0.1 (a stranger) and from
127.0.0.2 (the trusted load balancer), both loopback. Plus the trust rules as pure functions."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from gitops_ingress.core.errors import ConfigError
from gitops_ingress.proxy.config import ProxySettings
from gitops_ingress.proxy.forwarded import TrustedProxies, forwarded_node
from tests.proxy.rawclient import read_responses
from tests.support.manifests import ingress, to_yaml
from tests.support.upstreams import TestUpstream

from .fixtures_ops import LOOPBACK, PROXY_COMMAND, WAIT, ProxyProcess, write

LOAD_BALANCER = "127.0.0.2"  # loopback too (all of 127/8 is), so the proxy can tell two peers apart
SPOOFED = (
    b"X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\n"
    b"X-Forwarded-Port: 1\r\nX-Real-IP: 203.0.113.8\r\nForwarded: for=203.0.113.9;proto=https\r\n"
)


def upstream_saw(port: int, source: str, extra: bytes) -> dict[str, list[str]]:
    """Send one request from ``source`` and return the headers the echo upstream got, by name."""
    with socket.socket() as sock:
        sock.settimeout(WAIT)
        sock.bind((source, 0))
        sock.connect((LOOPBACK, port))
        sock.sendall(b"GET /x HTTP/1.1\r\nHost: shop.example.com:8080\r\n" + extra + b"\r\n")
        (response,) = read_responses(sock)
    assert response.status == 200
    seen: dict[str, list[str]] = {}
    for name, value in json.loads(response.body)["headers"]:
        seen.setdefault(name.lower(), []).append(value)
    return seen


@pytest.fixture(scope="module")
def trusting_proxy(tmp_path_factory: pytest.TempPathFactory, start_upstream: Callable[[str], TestUpstream]):  # type: ignore[no-untyped-def]
    """One proxy process for the module (starting one takes a second)."""
    upstream = start_upstream("echo")
    env = tmp_path_factory.mktemp("trust") / "production"
    write(env / "shop.yaml", to_yaml(ingress("shop", "shop.example.com", "web")))
    args = ["--listen", f"{LOOPBACK}:0", "--ingress-dir", str(env), "--backend", f"web:80={upstream.url}"]
    with ProxyProcess([*args, "--no-access-log", "--trusted-proxy", f"{LOAD_BALANCER}/32"]) as proxy:
        proxy.wait_serving()
        port = int(proxy.url().rsplit(":", 1)[1])
        yield port


@pytest.fixture(scope="module")
def loop_thread():  # type: ignore[no-untyped-def]
    from tests.support.upstreams import LoopThread

    thread = LoopThread()
    yield thread
    thread.stop()


@pytest.fixture(scope="module")
def start_upstream(loop_thread):  # type: ignore[no-untyped-def]
    yield from loop_thread.serving(lambda behavior="echo": TestUpstream(behavior))


pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def test_a_strangers_forwarded_headers_are_replaced_with_what_the_proxy_saw(trusting_proxy: int) -> None:
    seen = upstream_saw(trusting_proxy, LOOPBACK, SPOOFED)
    assert seen["x-forwarded-for"] == ["127.0.0.1"]
    assert seen["x-forwarded-proto"] == ["http"]
    assert seen["x-forwarded-host"] == ["shop.example.com:8080"]
    assert seen["x-forwarded-port"] == [str(trusting_proxy)]
    assert seen["x-real-ip"] == ["127.0.0.1"]
    assert seen["forwarded"] == ['for=127.0.0.1;host="shop.example.com:8080";proto=http']


def test_a_stranger_without_forwarded_headers_gets_the_same(trusting_proxy: int) -> None:
    seen = upstream_saw(trusting_proxy, LOOPBACK, b"")
    assert seen["x-forwarded-for"] == ["127.0.0.1"] and seen["x-real-ip"] == ["127.0.0.1"]
    assert seen["forwarded"] == ['for=127.0.0.1;host="shop.example.com:8080";proto=http']


def test_a_trusted_proxys_chain_is_kept_and_extended(trusting_proxy: int) -> None:
    seen = upstream_saw(trusting_proxy, LOAD_BALANCER, SPOOFED)
    assert seen["x-forwarded-for"] == ["203.0.113.7, 127.0.0.2"]
    assert seen["x-forwarded-proto"] == ["https"]  # the load balancer terminated TLS
    assert seen["x-forwarded-host"] == ["evil.example"]
    assert seen["x-forwarded-port"] == ["1"]
    assert seen["x-real-ip"] == ["203.0.113.8"]
    assert seen["forwarded"] == ['for=203.0.113.9;proto=https, for=127.0.0.2;host="shop.example.com:8080";proto=http']


def test_a_trusted_proxy_without_x_real_ip_names_the_first_untrusted_hop(trusting_proxy: int) -> None:
    # the chain's right end is the load balancer itself (trusted), before it the client
    seen = upstream_saw(trusting_proxy, LOAD_BALANCER, b"X-Forwarded-For: 198.51.100.1, 127.0.0.2\r\n")
    assert seen["x-forwarded-for"] == ["198.51.100.1, 127.0.0.2, 127.0.0.2"]
    assert seen["x-real-ip"] == ["198.51.100.1"]
    assert seen["x-forwarded-proto"] == ["http"]  # it sent none: ours
    assert seen["forwarded"] == ['for=127.0.0.2;host="shop.example.com:8080";proto=http']


def test_a_bad_trusted_proxy_option_is_a_usage_error() -> None:
    run = subprocess.run(
        [*PROXY_COMMAND, "--listen", f"{LOOPBACK}:0", "--trusted-proxy", "10.0.0.0/33"],
        capture_output=True,
        text=True,
        timeout=WAIT,
        cwd=Path(__file__).resolve().parents[2],  # this checkout's package
    )
    assert run.returncode == 2
    assert "trusted proxy '10.0.0.0/33'" in run.stderr and "Traceback" not in run.stderr


# --- the rules, as functions ----------------------------------------------------------------------


def test_trust_follows_the_networks_and_reads_ipv4_mapped_peers() -> None:
    trusted = TrustedProxies(["10.0.0.0/8", "2001:db8::/32", "192.0.2.1"])
    assert trusted.trusts(b"10.1.2.3") and trusted.trusts(b"192.0.2.1")
    assert trusted.trusts(b"::ffff:10.9.9.9") and trusted.trusts(b"2001:db8::5")
    assert not trusted.trusts(b"11.0.0.1") and not trusted.trusts(b"192.0.2.2")
    assert not trusted.trusts(b"not-an-address") and not trusted.trusts(b"10.0.0.1:443")
    assert not TrustedProxies().trusts(b"127.0.0.1")  # nobody by default


def test_the_client_of_a_chain_is_its_rightmost_untrusted_hop() -> None:
    trusted = TrustedProxies(["10.0.0.0/8"])
    assert trusted.client_of(b"198.51.100.1, 203.0.113.5, 10.0.0.2, 10.0.0.1") == b"203.0.113.5"
    assert trusted.client_of(b"10.0.0.3,10.0.0.2") == b"10.0.0.3"  # all trusted: the left-most
    assert trusted.client_of(b"garbage, 10.0.0.2") == b"garbage"


def test_rfc7239_nodes_quote_ipv6() -> None:
    assert forwarded_node(b"192.0.2.1") == b"192.0.2.1"
    assert forwarded_node(b"2001:db8::1") == b'"[2001:db8::1]"'


def test_trusted_proxies_are_validated_as_settings() -> None:
    assert ProxySettings().with_changes(trusted_proxies=("10.0.0.0/8",)).trusted_proxies == ("10.0.0.0/8",)
    with pytest.raises(ConfigError, match="trusted proxy 'nope'"):
        ProxySettings().with_changes(trusted_proxies=("nope",))


def test_a_strangers_lines_are_remembered_per_peer_and_carry_each_requests_host() -> None:
    from gitops_ingress.proxy.forwarded import ListenerForwarding
    from gitops_ingress.proxy.forwarding import RequestHead

    listener = ListenerForwarding(b"https", b"8443", TrustedProxies(["10.0.0.0/8"]))
    head = RequestHead()
    for host in (b"a.example.com", b"b.example.com"):  # the second comes from what was remembered
        assert listener.lines(head, host, b"2001:db8::1") == (
            b"\r\nX-Forwarded-For: 2001:db8::1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Port: 8443"
            b"\r\nX-Forwarded-Host: " + host + b"\r\nX-Real-IP: 2001:db8::1"
            b'\r\nForwarded: for="[2001:db8::1]";host="' + host + b'";proto=https'
        )
    trusted = listener.lines(head, b"a.example.com", b"10.0.0.7")  # never taken for a stranger's
    assert b"\r\nX-Forwarded-For: 10.0.0.7\r\n" in trusted and b"X-Real-IP: 10.0.0.7" in trusted
