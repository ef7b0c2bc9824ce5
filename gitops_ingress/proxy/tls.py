"""TLS termination: certificates from a folder, picked by SNI, reloaded when the files change.

Layout. The folder holds PEM pairs the way Kubernetes mounts ``kubernetes.io/tls`` Secrets: any
folder below it that has both ``tls.crt`` and ``tls.key`` is one certificate, named after its path
(``DIR/shop-example-com-tls/`` or ``DIR/shop/shop-example-com-tls/``, so one mount per Secret or
one per namespace both work). Flat pairs ``DIR/<name>.crt`` + ``DIR/<name>.key`` are accepted too,
because that is what ``openssl``/``mkcert`` write and what a person has on a laptop. Folders whose
name starts with ``..`` are skipped: they are the kubelet's atomic-swap internals (``..data``).

Selection (docs/routing.md, rule 9: SNI picks the certificate, Host picks the route): exact SAN name, then a wildcard
SAN ``*.parent`` for a name with exactly one more label, then the default certificate (the pair
named ``default``, else the first pair by name). Names come from the certificate's DNS SANs (the
subject CN only when there are none), not from the folder name, so nothing has to be kept in step.

Why one SSLContext per certificate: Python's SNI hook can only switch ``sslobj.context``; a context
holds one chain per key type. All of them are built off the event loop, indexed in an immutable
``_Index``, and swapped in by one attribute assignment, so a handshake in progress never sees a
half-built index and a reload never needs a restart. A pair that fails to load is reported;
at start it is left out, on a reload the certificate it had before stays in its place (as nginx
keeps its old configuration when a reload fails: a half-written or broken renewal must not send
that host's clients to the default certificate), and a reload that finds no usable pair at all
keeps the previous index. A pair that is gone from the folder is gone from the index.

Sessions. The listener's context (``server_context``, the "front" one) is made once and never
replaced or changed, because it is every connection's *session* context: OpenSSL seals and opens
session tickets with the keys of the context an SSL object was created from and keeps its
session-ID cache there too; switching ``sslobj.context`` by SNI changes the certificate, not that.
Its ticket keys are random, made when the context is created, and Python's ``ssl`` has no way to
set them (no ``SSL_CTX_set_tlsext_ticket_keys``, nginx's ``ssl_session_ticket_key`` files), so:
the store is built before ``--workers`` forks (proxy/workers.py), and every worker shares the keys;
a reload swaps only the index, so tickets issued before a renewal still resume after it; the keys
last as long as the process set (a restart, or another replica, cannot open them: the client does
a full handshake) and are never rotated while it runs, like nginx without key files. The
session-ID cache is each worker's own memory after the fork (nginx shares it in
``shared:SSL``): a TLS 1.2 client that resumes by ID only, without a ticket, resumes when its next
connection reaches the same worker. The front context also holds the default certificate at start,
so the common case needs no switch; once a reload replaced that certificate, every handshake
(without SNI too: the callback runs with ``None``) switches to the new one.

What a client that cannot be served is told (RFC 7301's ``no_application_protocol``, RFC
8446's ``protocol_version``) is the record layer's business (proxy/tlsconn.py, which drives every
handshake, and proxy/tlsalerts.py); the contexts here are plain ``ssl.SSLContext``s.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gitops_ingress.core.errors import ConfigError
from gitops_ingress.proxy.tlsalerts import ALPN
from gitops_ingress.proxy.tlsconn import TLSObject

log = logging.getLogger("gitops_ingress.proxy.tls")

DEFAULT_NAME = "default"
MAX_FILES = 10_000  # bound on the folder walk
# TLS 1.3 session tickets sent after a full handshake (OpenSSL's default is 2): one resumes the next
# connection, and browsers keep one per origin; each ticket is a sealed session and a record more.
TLS13_TICKETS = 1

Fingerprint = tuple[tuple[str, int, int, int], ...]


@dataclass(frozen=True, slots=True)
class CertificatePair:
    name: str  # folder or file stem relative to the TLS folder
    cert: Path
    key: Path


@dataclass(frozen=True, slots=True)
class LoadedCertificate:
    pair: CertificatePair
    names: tuple[str, ...]  # DNS names it serves, lowercase, wildcards as "*.parent"
    context: ssl.SSLContext


def find_pairs(root: Path) -> list[CertificatePair]:
    """Every PEM pair under ``root`` in either layout, sorted by name."""
    pairs: dict[str, CertificatePair] = {}
    seen = 0
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".."))
        seen += len(filenames)
        if seen > MAX_FILES:
            raise ConfigError(f"{root}: more than {MAX_FILES} files; is this the TLS folder?")
        here = Path(folder)
        names = set(filenames)
        if "tls.crt" in names and "tls.key" in names:
            rel = here.relative_to(root).as_posix()
            name = DEFAULT_NAME if rel == "." else rel
            pairs[name] = CertificatePair(name, here / "tls.crt", here / "tls.key")
        for filename in names:
            stem, ext = os.path.splitext(filename)
            if ext == ".crt" and stem != "tls" and f"{stem}.key" in names:
                rel = (here / stem).relative_to(root).as_posix()
                pairs.setdefault(rel, CertificatePair(rel, here / filename, here / f"{stem}.key"))
    return [pairs[name] for name in sorted(pairs)]


def fingerprint(pairs: list[CertificatePair]) -> Fingerprint:
    """What a reload compares: path, inode, size and mtime of every file (inode catches the
    kubelet's symlink swap, which can keep size and mtime)."""
    marks: list[tuple[str, int, int, int]] = []
    for pair in pairs:
        for path in (pair.cert, pair.key):
            try:
                st = path.stat()
            except OSError:
                marks.append((str(path), -1, -1, -1))
                continue
            marks.append((str(path), st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(marks)


def certificate_names(pem: bytes) -> tuple[str, ...]:
    """The DNS names a PEM certificate serves. ``cryptography`` is imported here, not at the top:
    only ``--tls-dir`` needs it, and every other command imports this package."""
    try:
        from cryptography import x509
        from cryptography.x509.oid import NameOID
    except ImportError as exc:
        raise ConfigError("--tls-dir needs the 'cryptography' package (pip install cryptography)") from exc
    cert = x509.load_pem_x509_certificate(pem)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(n) for n in san.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        names = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return tuple(sorted({n.lower().rstrip(".") for n in names if n}))


def new_server_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(list(ALPN))
    context.num_tickets = TLS13_TICKETS
    context.options |= ssl.OP_NO_RENEGOTIATION  # a client-initiated one is a full handshake's cost, on demand
    return context


def load_pair(pair: CertificatePair) -> LoadedCertificate:
    """One pair as a ready SSLContext; ConfigError names the file and what is wrong."""
    try:
        names = certificate_names(pair.cert.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{pair.cert}: not a PEM certificate: {exc}") from exc
    context = new_server_context()
    try:
        context.load_cert_chain(pair.cert, pair.key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{pair.key}: key does not load or does not match {pair.cert.name}: {exc}") from exc
    return LoadedCertificate(pair, names, context)


class _Index:
    """An immutable name -> context lookup, built once per (re)load."""

    __slots__ = ("_exact", "_wildcard", "certificates", "default")

    def __init__(self, certificates: list[LoadedCertificate]) -> None:
        self.certificates = tuple(certificates)
        self._exact: dict[str, LoadedCertificate] = {}
        self._wildcard: dict[str, LoadedCertificate] = {}
        for loaded in self.certificates:
            for name in loaded.names:
                if name.startswith("*."):
                    self._wildcard.setdefault(name[2:], loaded)
                else:
                    self._exact.setdefault(name, loaded)
        by_name = {c.pair.name: c for c in self.certificates}
        self.default = by_name.get(DEFAULT_NAME, self.certificates[0])

    def covering(self, host: str) -> LoadedCertificate | None:
        """The certificate whose names cover ``host``, without the default fallback."""
        found = self._exact.get(host)
        if found is not None:
            return found
        dot = host.find(".")
        return self._wildcard.get(host[dot + 1 :]) if dot > 0 else None


class CertificateStore:
    """The certificates of one TLS folder and the SSLContext a listener is given."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.reloads = 0
        self._listeners: list[Callable[[int], None]] = []
        self.errors: tuple[str, ...] = ()
        if not self.directory.is_dir():
            raise ConfigError(f"--tls-dir {self.directory}: not a folder")
        pairs = find_pairs(self.directory)
        self._fingerprint = fingerprint(pairs)
        index = self._build(pairs)
        if index is None:
            detail = "; ".join(self.errors) or "no tls.crt/tls.key or NAME.crt/NAME.key pair found"
            raise ConfigError(f"--tls-dir {self.directory}: no usable certificate ({detail})")
        self._index = index
        # The front context: the session context of every connection, never replaced (module
        # docstring, "Sessions"). It serves the default certificate at start; the SNI callback
        # switches away from it once a reload replaced that certificate.
        self._context = new_server_context()
        self._context.load_cert_chain(index.default.pair.cert, index.default.pair.key)
        self._front = index.default
        self._context.sni_callback = self._on_sni

    def _build(self, pairs: list[CertificatePair], previous: _Index | None = None) -> _Index | None:
        """An index of ``pairs``; a pair that does not load keeps its certificate in ``previous``."""
        before = {c.pair.name: c for c in previous.certificates} if previous is not None else {}
        loaded: list[LoadedCertificate] = []
        errors: list[str] = []
        for pair in pairs:
            try:
                loaded.append(load_pair(pair))
            except ConfigError as exc:
                errors.append(str(exc))
                kept = before.get(pair.name)
                if kept is None:
                    log.warning("tls: %s", exc)
                else:
                    loaded.append(kept)
                    log.warning(
                        "tls: %s; keeping the previous certificate of %s (%s)", exc, pair.name, ", ".join(kept.names)
                    )
        self.errors = tuple(errors)
        return _Index(loaded) if loaded else None

    @property
    def server_context(self) -> ssl.SSLContext:
        return self._context

    @property
    def certificates(self) -> tuple[LoadedCertificate, ...]:
        return self._index.certificates

    def _on_sni(self, sslobj: ssl.SSLObject | TLSObject, server_name: str | None, _ctx: ssl.SSLContext) -> None:
        index = self._index  # read once: a reload may swap it during the handshake
        chosen = (index.covering(server_name.lower().rstrip(".")) if server_name else None) or index.default
        if chosen is not self._front:  # switching costs OpenSSL a copy of the certificate set-up
            sslobj.context = chosen.context

    def pick(self, server_name: str) -> LoadedCertificate:
        """The certificate a handshake for ``server_name`` gets (exact, wildcard, default)."""
        index = self._index
        return index.covering(server_name.lower().rstrip(".")) or index.default

    def has_tls(self, host: str) -> bool:
        """Whether a certificate other than the default fallback covers ``host`` (normalised)."""
        return self._index.covering(host) is not None

    def reload_if_changed(self) -> bool:
        """Rebuild the index when a file was added, removed or changed; True when swapped. Blocking
        (file reads, key parsing): call it off the event loop."""
        pairs = find_pairs(self.directory)
        mark = fingerprint(pairs)
        if mark == self._fingerprint:
            return False
        index = self._build(pairs, self._index)
        self._fingerprint = mark
        if index is None:
            log.warning("tls: %s has no usable certificate now; keeping the previous ones", self.directory)
            return False
        if index.certificates == self._index.certificates:  # every change failed: all kept as they were
            return False
        self._index = index
        self.reloads += 1
        log.info("tls: reloaded %d certificate(s) from %s", len(index.certificates), self.directory)
        for listener in list(self._listeners):
            listener(self.reloads)
        return True

    def subscribe(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(reload_count)`` after every swap (from the reloading thread)."""
        self._listeners.append(listener)

    async def watch(self, interval: float = 1.0) -> None:
        """Poll the folder every ``interval`` seconds until cancelled, off the event loop."""
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.reload_if_changed)
            except (OSError, ConfigError) as exc:
                log.warning("tls: cannot scan %s: %s", self.directory, exc)
