"""TLS: certificates from a folder, picked by SNI over real handshakes, reloaded without a restart."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_ingress.core.errors import ConfigError
from gitops_ingress.proxy.tls import CertificateStore, find_pairs

from .fixtures_ops import LOOPBACK, WAIT, CertificateAuthority, ca_fixture, peer_serial  # noqa: F401

pytestmark = pytest.mark.timeout(60)


@contextlib.contextmanager
def tls_listener(context: ssl.SSLContext) -> Iterator[int]:
    """Accept on 127.0.0.1 and complete server-side handshakes with ``context`` until closed."""
    listener = socket.create_server((LOOPBACK, 0))
    listener.settimeout(WAIT)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with contextlib.suppress(OSError), context.wrap_socket(conn, server_side=True):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        with contextlib.suppress(OSError):  # wake the blocked accept() so the thread sees stop
            socket.create_connection(listener.getsockname(), timeout=WAIT).close()
        thread.join(WAIT)
        listener.close()


@pytest.fixture
def tls_dir(tmp_path: Path) -> Path:
    return tmp_path / "tls"


def test_sni_picks_exact_then_wildcard_then_default(ca: CertificateAuthority, tls_dir: Path) -> None:
    default = ca.secret(tls_dir, "default", "fallback.invalid")
    shop = ca.secret(tls_dir, "shop-example-com-tls", "shop.example.com", "www.shop.example.com")
    wildcard = ca.secret(tls_dir, "apps-wildcard-tls", "*.apps.example.com")
    exact_under_wildcard = ca.secret(tls_dir, "tools-tls", "tools.apps.example.com")
    store = CertificateStore(tls_dir)
    with tls_listener(store.server_context) as port:
        assert peer_serial(port, "shop.example.com", ca.path) == shop
        assert peer_serial(port, "WWW.Shop.Example.com", ca.path) == shop  # SNI is case-insensitive
        assert peer_serial(port, "x.apps.example.com", ca.path) == wildcard
        assert peer_serial(port, "tools.apps.example.com", ca.path) == exact_under_wildcard  # exact beats wildcard
        assert peer_serial(port, "a.b.apps.example.com", ca.path) == default  # one label only
        assert peer_serial(port, "apps.example.com", ca.path) == default
        assert peer_serial(port, "unknown.example.net", ca.path) == default
        assert peer_serial(port, None, ca.path) == default  # no SNI at all


def test_without_a_default_pair_the_first_by_name_is_the_fallback(ca: CertificateAuthority, tls_dir: Path) -> None:
    first = ca.secret(tls_dir, "a-tls", "a.example.com")
    ca.secret(tls_dir, "b-tls", "b.example.com")
    store = CertificateStore(tls_dir)
    assert store.pick("nothing.example.com").pair.name == "a-tls"
    with tls_listener(store.server_context) as port:
        assert peer_serial(port, "nothing.example.com", ca.path) == first


def test_flat_pairs_and_namespaced_folders_are_found(ca: CertificateAuthority, tls_dir: Path) -> None:
    ca.issue(tls_dir / "laptop.crt", tls_dir / "laptop.key", "laptop.localhost")
    ca.secret(tls_dir / "payments", "pay-tls", "pay.example.com")
    (tls_dir / "..data").mkdir()  # kubelet internals are skipped
    ca.secret(tls_dir / "..data", "ghost", "ghost.example.com")
    (tls_dir / "README.crt").write_text("no key beside it")
    names = [pair.name for pair in find_pairs(tls_dir)]
    assert names == ["laptop", "payments/pay-tls"]
    store = CertificateStore(tls_dir)
    assert store.has_tls("laptop.localhost") and store.has_tls("pay.example.com")
    assert not store.has_tls("ghost.example.com")


def test_has_tls_follows_names_not_the_default(ca: CertificateAuthority, tls_dir: Path) -> None:
    ca.secret(tls_dir, "default", "fallback.invalid")
    ca.secret(tls_dir, "apps", "*.apps.example.com", "apps.example.com")
    store = CertificateStore(tls_dir)
    assert store.has_tls("apps.example.com")
    assert store.has_tls("x.apps.example.com")
    assert not store.has_tls("a.b.apps.example.com")
    assert not store.has_tls("shop.example.com")
    assert store.has_tls("fallback.invalid")  # the default's own names are still its names


def test_files_changing_are_picked_up_without_a_restart(ca: CertificateAuthority, tls_dir: Path) -> None:
    old = ca.secret(tls_dir, "shop-tls", "shop.example.com")
    store = CertificateStore(tls_dir)
    assert store.reload_if_changed() is False  # nothing changed yet
    with tls_listener(store.server_context) as port:
        assert peer_serial(port, "shop.example.com", ca.path) == old
        new = ca.secret(tls_dir, "shop-tls", "shop.example.com")
        added = ca.secret(tls_dir, "login-tls", "login.example.com")
        assert store.reload_if_changed() is True
        assert peer_serial(port, "shop.example.com", ca.path) == new
        assert peer_serial(port, "login.example.com", ca.path) == added
    assert store.reloads == 1


def test_watch_swaps_and_signals(ca: CertificateAuthority, tls_dir: Path) -> None:
    import asyncio

    ca.secret(tls_dir, "shop-tls", "shop.example.com")
    store = CertificateStore(tls_dir)

    changed = threading.Event()
    store.subscribe(lambda count: changed.set())

    async def scenario() -> None:
        task = asyncio.create_task(store.watch(0.02))
        ca.secret(tls_dir, "pay-tls", "pay.example.com")
        await asyncio.to_thread(changed.wait, WAIT)
        task.cancel()

    asyncio.run(scenario())
    assert changed.is_set()
    assert store.has_tls("pay.example.com")


def test_a_broken_pair_is_left_out_and_named(ca: CertificateAuthority, tls_dir: Path) -> None:
    good = ca.secret(tls_dir, "good", "good.example.com")
    ca.secret(tls_dir, "mismatch", "bad.example.com")
    ca.secret(tls_dir, "other", "other.example.com")
    (tls_dir / "mismatch" / "tls.key").write_bytes((tls_dir / "other" / "tls.key").read_bytes())
    (tls_dir / "garbage").mkdir()
    (tls_dir / "garbage" / "tls.crt").write_text("-----BEGIN CERTIFICATE-----\nnope\n")
    (tls_dir / "garbage" / "tls.key").write_text("nope")
    store = CertificateStore(tls_dir)
    assert {c.pair.name for c in store.certificates} == {"good", "other"}
    assert any("mismatch/tls.key" in e for e in store.errors)
    assert any("garbage/tls.crt" in e and "not a PEM certificate" in e for e in store.errors)
    with tls_listener(store.server_context) as port:
        assert peer_serial(port, "good.example.com", ca.path) == good


def test_a_reload_that_breaks_everything_keeps_the_previous_certificates(
    ca: CertificateAuthority, tls_dir: Path
) -> None:
    serial = ca.secret(tls_dir, "shop-tls", "shop.example.com")
    store = CertificateStore(tls_dir)
    (tls_dir / "shop-tls" / "tls.crt").write_text("truncated")
    assert store.reload_if_changed() is False
    assert store.errors and "shop-tls/tls.crt" in store.errors[0]
    with tls_listener(store.server_context) as port:
        assert peer_serial(port, "shop.example.com", ca.path) == serial


def test_no_usable_certificate_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"empty: no usable certificate \(no tls.crt"):
        CertificateStore(tmp_path / "empty")
    with pytest.raises(ConfigError, match="not a folder"):
        CertificateStore(tmp_path / "missing")


def test_a_broken_renewal_keeps_that_hosts_previous_certificate(ca: CertificateAuthority, tls_dir: Path) -> None:
    shop = ca.secret(tls_dir, "shop-tls", "shop.example.com")
    ca.secret(tls_dir, "default", "fallback.invalid")
    store = CertificateStore(tls_dir)
    (tls_dir / "shop-tls" / "tls.crt").write_text("-----BEGIN CERTIFICATE-----\ntruncated\n")
    pay = ca.secret(tls_dir, "pay-tls", "pay.example.com")  # the same reload brings a good new pair
    with tls_listener(store.server_context) as port:
        assert store.reload_if_changed() is True
        assert any("shop-tls/tls.crt" in e for e in store.errors)
        assert peer_serial(port, "shop.example.com", ca.path) == shop  # not the default's
        assert peer_serial(port, "pay.example.com", ca.path) == pay
        assert store.has_tls("shop.example.com")
        # fixed later: the new certificate replaces the kept one; removed: it is gone
        fixed = ca.secret(tls_dir, "shop-tls", "shop.example.com")
        assert store.reload_if_changed() is True and not store.errors
        assert peer_serial(port, "shop.example.com", ca.path) == fixed
        for name in ("tls.crt", "tls.key"):
            (tls_dir / "shop-tls" / name).unlink()
        assert store.reload_if_changed() is True
        assert not store.has_tls("shop.example.com")


def test_a_broken_pem_at_start_is_left_out_and_its_host_gets_the_default(
    ca: CertificateAuthority, tls_dir: Path
) -> None:
    fallback = ca.secret(tls_dir, "default", "fallback.invalid")
    ca.secret(tls_dir, "shop-tls", "shop.example.com")
    (tls_dir / "shop-tls" / "tls.crt").write_text("truncated")
    store = CertificateStore(tls_dir)  # nothing earlier to keep
    with tls_listener(store.server_context) as port:
        assert peer_serial(port, "shop.example.com", ca.path) == fallback


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_the_server_context_refuses_tls11_with_a_protocol_version_alert(
    ca: CertificateAuthority, tls_dir: Path
) -> None:
    """Our context makes OpenSSL write the alert; over a blocking socket it reaches the client
    (through the event loops' transports: tests/proxy/test_tls_alerts.py, test_tlsalerts.py)."""
    ca.secret(tls_dir, "shop-tls", "shop.example.com")
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname, old.verify_mode = False, ssl.CERT_NONE
    old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 will not offer TLS 1.1 at its default level
    with (
        tls_listener(CertificateStore(tls_dir).server_context) as port,
        socket.create_connection((LOOPBACK, port), timeout=WAIT) as raw,
        pytest.raises(ssl.SSLError, match=r"(?i)alert protocol version"),
    ):
        old.wrap_socket(raw, server_hostname="shop.example.com")
