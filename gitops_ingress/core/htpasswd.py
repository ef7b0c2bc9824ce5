"""htpasswd credentials, as ingress-nginx's ``auth-type: basic`` reads them from a Secret.

The Secret holds either an htpasswd file under the key ``auth`` (``auth-secret-type: auth-file``,
the default: one ``user:hash`` a line) or one key per user whose value is the hash
(``auth-map``). nginx's ``auth_basic_user_file`` checks the password with the system's
``crypt()``; this module knows the formats ``htpasswd`` writes that are safe to keep:

* bcrypt (``$2y$``, ``$2b$``, ``$2a$``: ``htpasswd -B``), checked by the ``bcrypt`` package;
* Apache's MD5-crypt (``$apr1$``: ``htpasswd -m``, its default) and ``{SHA}`` (``htpasswd -s``),
  computed here with ``hashlib`` (no crypt(3) needed);

and refuses, with a finding per line, the ones that are not: plain text (``htpasswd -p``) and the
traditional DES ``crypt()`` (13 characters, 8 significant password bytes), and anything else
(glibc's ``$5$``/``$6$`` would need crypt(3), which Python 3.13 no longer has). Refused users are
left out, so they cannot log in; the route stays protected.

Checking is constant-time in what a client can learn: the computed hash is compared with
``hmac.compare_digest`` (bcrypt's own check is constant-time), and an unknown user is checked
against a dummy hash of the file's strongest kind, so the answer takes as long as for a known user
with a wrong password. A success is remembered by the exact ``user:password`` bytes (bounded), so
a browser sending the same header on every request pays bcrypt's cost once, not per request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

import bcrypt

from gitops_ingress.core.errors import GitopsIngressError

AUTH_KEY = "auth"  # the Secret's key with the htpasswd file (auth-file)
MAX_REMEMBERED = 1024  # successful user:password pairs kept per file
_BCRYPT_PREFIXES = (b"$2y$", b"$2b$", b"$2a$")
_APR1 = b"$apr1$"
_SHA = b"{SHA}"
_ITOA64 = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# a fixed bcrypt hash (cost 10) for unknown users: the answer takes as long as a wrong password
_DUMMY_BCRYPT = b"$2b$10$zmn3YOAHetan.5HaljFNv.yOlFRZBBoerr2rsiICIshUXkWhnGCSa"


class HtpasswdError(GitopsIngressError):
    """A Secret whose credentials cannot be read at all (no ``auth`` key, not text)."""


@dataclass(frozen=True, slots=True)
class BadLine:
    """One entry left out, with its 1-based line (0 for an auth-map key) and why."""

    line: int
    user: str
    reason: str


def _to64(value: int, count: int) -> bytes:
    out = bytearray()
    for _ in range(count):
        out.append(_ITOA64[value & 0x3F])
        value >>= 6
    return bytes(out)


def apr1(password: bytes, salt: bytes) -> bytes:
    """Apache's MD5-crypt: ``$apr1$salt$digest`` (the FreeBSD MD5-crypt with Apache's magic)."""
    salt = salt[:8]
    final = hashlib.md5(password + salt + password).digest()
    context = hashlib.md5(password + _APR1 + salt)
    for index in range(len(password), 0, -16):
        context.update(final[: min(16, index)])
    index = len(password)
    while index:
        context.update(b"\0" if index & 1 else password[:1])
        index >>= 1
    final = context.digest()
    for round_ in range(1000):
        step = hashlib.md5(password if round_ & 1 else final)
        if round_ % 3:
            step.update(salt)
        if round_ % 7:
            step.update(password)
        step.update(final if round_ & 1 else password)
        final = step.digest()
    encoded = b"".join(
        _to64((final[a] << 16) | (final[b] << 8) | final[c], 4)
        for a, b, c in ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5))
    )
    return _APR1 + salt + b"$" + encoded + _to64(final[11], 2)


def _kind(hashed: bytes) -> str:
    """The format of a stored hash, or "" when it is one we refuse."""
    if hashed.startswith(_BCRYPT_PREFIXES) and len(hashed) == 60:
        return "bcrypt"
    if hashed.startswith(_APR1) and hashed.count(b"$") == 3:
        return "apr1"
    if hashed.startswith(_SHA) and len(hashed) == 33:
        return "sha"
    return ""


def _refusal(hashed: bytes) -> str:
    if len(hashed) == 13 and all(c in _ITOA64 for c in hashed):
        return "a DES crypt() hash (only 8 password characters count): rehash it with htpasswd -B"
    if hashed[:1] == b"$":
        return "a hash format this proxy does not check: use htpasswd -B (bcrypt), -m (apr1) or -s ({SHA})"
    return "a plain-text or unknown password: store a hash (htpasswd -B)"


def _matches(kind: str, hashed: bytes, password: bytes) -> bool:
    if kind == "bcrypt":
        try:
            return bcrypt.checkpw(password, b"$2b$" + hashed[4:])  # $2y$ is $2b$ (PHP's name for it)
        except ValueError:  # a malformed salt: nobody matches it
            return False
    if kind == "apr1":
        salt = hashed[len(_APR1) :].split(b"$", 1)[0]
        return hmac.compare_digest(apr1(password, salt), hashed)
    return hmac.compare_digest(_SHA + base64.b64encode(hashlib.sha1(password).digest()), hashed)


@dataclass(frozen=True, slots=True)
class Htpasswd:
    """The users of one Secret and their hashes (only the formats we check), and what was left out."""

    users: Mapping[str, tuple[str, bytes]] = field(default_factory=dict)  # user -> (kind, hash)
    bad: tuple[BadLine, ...] = ()
    _remembered: dict[bytes, bool] = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)

    @classmethod
    def of_file(cls, text: str) -> Htpasswd:
        """An htpasswd file (``auth-file``): ``user:hash`` per line; blank lines and ``#`` comments skipped."""
        entries: list[tuple[int, str, str]] = []
        for number, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            user, sep, hashed = stripped.partition(":")
            entries.append((number, user, hashed if sep else ""))
        return cls._of(entries)

    @classmethod
    def of_map(cls, data: Mapping[str, str]) -> Htpasswd:
        """One key per user, the value its hash (``auth-map``)."""
        return cls._of([(0, user, value.strip()) for user, value in sorted(data.items())])

    @classmethod
    def _of(cls, entries: list[tuple[int, str, str]]) -> Htpasswd:
        users: dict[str, tuple[str, bytes]] = {}
        bad: list[BadLine] = []
        for number, user, text in entries:
            hashed = text.encode("utf-8", "surrogateescape")
            kind = _kind(hashed)
            if not user:
                bad.append(BadLine(number, user, "an entry without a user name"))
            elif not kind:
                bad.append(BadLine(number, user, _refusal(hashed)))
            elif user not in users:  # nginx uses the first line of a user
                users[user] = (kind, hashed)
        return cls(users, tuple(bad))

    def check(self, user: bytes, password: bytes) -> bool:
        """Whether ``password`` is ``user``'s; as slow for an unknown user as for a wrong password."""
        pair = user + b":" + password
        if self._remembered.get(pair):
            return True
        found = self.users.get(user.decode("utf-8", "surrogateescape"))
        if found is None:
            _matches("bcrypt" if self._strongest == "bcrypt" else "sha", self._dummy, password)
            return False
        ok = _matches(found[0], found[1], password)
        if ok:
            if len(self._remembered) >= MAX_REMEMBERED:
                self._remembered.clear()
            self._remembered[pair] = True
        return ok

    @property
    def _strongest(self) -> str:
        return "bcrypt" if any(kind == "bcrypt" for kind, _ in self.users.values()) else "sha"

    @property
    def _dummy(self) -> bytes:
        return _DUMMY_BCRYPT if self._strongest == "bcrypt" else _SHA + b"A" * 28


def from_secret(data: Mapping[str, str], secret_type: str) -> Htpasswd:
    """The credentials of a Secret's decoded ``data`` for ``auth-secret-type`` (``auth-file`` or ``auth-map``)."""
    if secret_type == "auth-map":
        if not data:
            raise HtpasswdError("the Secret has no keys (auth-map: one key per user)")
        return Htpasswd.of_map(data)
    text = data.get(AUTH_KEY)
    if text is None:
        raise HtpasswdError(f'the Secret has no "{AUTH_KEY}" key (auth-file: the htpasswd file)')
    return Htpasswd.of_file(text)
