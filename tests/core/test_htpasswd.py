"""``auth-type: basic``: its annotations' findings and effects, and the htpasswd formats checked
(core/htpasswd.py): the ones htpasswd writes safely pass, the others are left out with a reason."""

from __future__ import annotations

import base64
import hashlib

import bcrypt
import pytest

from gitops_ingress.core.annotations import PREFIX as P
from gitops_ingress.core.annotations import effects_of
from gitops_ingress.core.annotations.authn import BasicAuth
from gitops_ingress.core.annotations.model import RouteEffects
from gitops_ingress.core.findings import Severity
from gitops_ingress.core.htpasswd import _DUMMY_BCRYPT, Htpasswd, HtpasswdError, apr1, from_secret
from tests.core.test_validation_environment import A, by_rule, env
from tests.support.manifests import ingress, line_of, to_yaml

BASIC = {P + "auth-type": "basic", P + "auth-secret": "basic-auth"}
FORWARD = {P + "auth-url": "http://auth.example.com/check"}


def test_apr1_is_apaches_md5_crypt() -> None:
    """ingress-nginx's basic-auth example: ``htpasswd -c auth foo`` with password ``bar``."""
    assert apr1(b"bar", b"OFG3Xybp") == b"$apr1$OFG3Xybp$ckL0FHDAkoXYIlH9.cysT0"


def test_each_safe_format_checks_its_password_and_nothing_else() -> None:
    sha = "{SHA}" + base64.b64encode(hashlib.sha1(b"sesame").digest()).decode()
    hashed = bcrypt.hashpw(b"bar", bcrypt.gensalt(4)).decode().replace("$2b$", "$2y$")
    users = Htpasswd.of_file(f"foo:{hashed}\njane:$apr1$OFG3Xybp$ckL0FHDAkoXYIlH9.cysT0\nali:{sha}\n")
    assert users.bad == ()
    for user, password in ((b"foo", b"bar"), (b"jane", b"bar"), (b"ali", b"sesame")):
        assert users.check(user, password)
        assert users.check(user, password)  # remembered
        assert not users.check(user, password + b"x")
        assert not users.check(user, b"")
    assert not users.check(b"nobody", b"bar")
    assert not users.check(b"foo:bar", b"")  # the remembered pair is user and password, not their join


def test_a_user_is_checked_against_its_first_line_as_nginx_does() -> None:
    users = Htpasswd.of_file("jane:$apr1$OFG3Xybp$ckL0FHDAkoXYIlH9.cysT0\njane:{SHA}" + "A" * 28 + "\n")
    assert users.check(b"jane", b"bar")


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("bob:secret", "plain-text"),
        ("bob:E5BrlrQ5IXYK2", "DES crypt()"),
        ("bob:$6$salt$abcdef", "hash format this proxy does not check"),
        ("bob:$2y$10$tooshort", "hash format this proxy does not check"),
        ("bob", "plain-text"),
        (":$apr1$OFG3Xybp$ckL0FHDAkoXYIlH9.cysT0", "without a user name"),
    ],
)
def test_unsafe_or_unknown_entries_are_left_out_with_their_line(line: str, words: str) -> None:
    users = Htpasswd.of_file(f"# users\njane:$apr1$OFG3Xybp$ckL0FHDAkoXYIlH9.cysT0\n{line}\n")
    ((bad),) = users.bad
    assert bad.line == 3 and words in bad.reason
    assert not users.check(b"bob", b"secret") and not users.check(b"bob", b"")
    assert users.check(b"jane", b"bar")


def test_an_unknown_user_costs_a_bcrypt_check_when_the_file_has_bcrypt() -> None:
    """Timing: the dummy is a valid bcrypt hash of the usual cost, so an unknown user's answer
    takes as long as a known user's wrong password (no user enumeration by timing)."""
    assert _DUMMY_BCRYPT.startswith(b"$2b$10$") and not bcrypt.checkpw(b"anything", _DUMMY_BCRYPT)
    users = Htpasswd.of_file("foo:" + bcrypt.hashpw(b"bar", bcrypt.gensalt(4)).decode())
    assert not users.check(b"nobody", b"bar")


def test_secret_types() -> None:
    file = from_secret({"auth": "foo:$apr1$OFG3Xybp$ckL0FHDAkoXYIlH9.cysT0\n"}, "auth-file")
    mapped = from_secret({"foo": "$apr1$OFG3Xybp$ckL0FHDAkoXYIlH9.cysT0"}, "auth-map")
    assert file.check(b"foo", b"bar") and mapped.check(b"foo", b"bar")
    with pytest.raises(HtpasswdError, match='no "auth" key'):
        from_secret({"other": "x"}, "auth-file")
    with pytest.raises(HtpasswdError, match="no keys"):
        from_secret({}, "auth-map")


def test_basic_auth_effects_take_the_ingress_namespace_unless_the_secret_names_one() -> None:
    effects = effects_of(BASIC | {P + "auth-realm": "Authentication Required - foo"}, "shop")
    assert effects is not None and effects.basic_auth == BasicAuth(
        "shop", "basic-auth", "auth-file", "Authentication Required - foo"
    )
    assert effects.basic_auth.challenge == b'WWW-Authenticate: Basic realm="Authentication Required - foo"\r\n'
    other = effects_of(BASIC | {P + "auth-secret": "auth/shared", P + "auth-secret-type": "auth-map"}, "shop")
    assert other is not None and other.basic_auth == BasicAuth("auth", "shared", "auth-map", "")
    assert RouteEffects.from_dict(effects.to_dict()) == effects
    assert effects_of({P + "auth-secret": "basic-auth"}, "shop") is None  # no auth-type: nothing, as ingress-nginx


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("auth-type", "digest", "digest authentication is not supported"),
        ("auth-type", "oauth", "not an auth type"),
        ("auth-secret", "Bad_Name", "not a Secret name"),
        ("auth-secret", "a/b/c", "not a Secret name"),
        ("auth-secret-type", "auth-json", "one of auth-file, auth-map"),
        ("auth-realm", 'say "hi"', "without quotes"),
        ("auth-url", "auth.example.com/check", "not an absolute http:// or https:// URL"),
        ("auth-url", "ftp://auth.example.com/", "not an absolute http:// or https:// URL"),
        ("auth-url", "http://auth.example.com/check;rm", "not an absolute http:// or https:// URL"),
        ("auth-url", "https://$host/oauth2/auth", "nginx variables"),
        ("auth-url", "http://user:pw@auth.example.com/", "credentials"),
        ("auth-method", "BREW", "is not an HTTP method: one of GET"),
        ("auth-response-headers", "X-User, X User", "not a comma-separated list of header names"),
        ("auth-signin", "https://$host/start?rd=$arg_x", "only $escaped_request_uri"),
        ("auth-signin", "/relative/start", "not an absolute"),
        ("auth-signin-redirect-param", "r d", "not a query parameter name"),
    ],
)
def test_a_bad_auth_value_is_an_error_at_its_line(key: str, value: str, words: str) -> None:
    base = BASIC if key in ("auth-type", "auth-secret", "auth-secret-type", "auth-realm") else FORWARD
    obj = ingress(annotations=base | {P + key: value})
    (finding,) = by_rule(env({A: obj}), "annotation/invalid-value")
    assert (finding.file, finding.line, finding.severity) == (A, line_of(to_yaml(obj), P + key), Severity.ERROR)
    assert words in finding.message


def test_auth_type_without_a_secret_is_an_error() -> None:
    obj = ingress(annotations={P + "auth-type": "basic"})
    (finding,) = by_rule(env({A: obj}), "annotation/invalid-value")
    assert finding.line == line_of(to_yaml(obj), P + "auth-type") and "needs" in finding.message
    effects = effects_of({P + "auth-type": "basic"}, "shop")
    assert effects is not None and effects.basic_auth == BasicAuth("shop", "")  # denied: 503, never open


def test_forward_auth_effects_and_the_signin_location() -> None:
    annotations = {
        P + "auth-url": "https://auth.example.com:8443/oauth2/auth?x=1",
        P + "auth-response-headers": "X-User, X-Email",
        P + "auth-signin": "https://$host/oauth2/start",
        P + "auth-method": "post",
    }
    effects = effects_of(annotations, "shop")
    assert effects is not None and (auth := effects.forward_auth) is not None
    assert (auth.tls, auth.host, auth.port, auth.target, auth.method) == (
        True,
        "auth.example.com",
        8443,
        b"/oauth2/auth?x=1",
        "POST",
    )
    assert auth.copied == {b"x-user", b"x-email"} and auth.host_header == b"auth.example.com:8443"
    assert auth.signin_location(b"https", b"shop.example.com", b"/a?b=c") == (
        b"https://shop.example.com/oauth2/start?rd=https://shop.example.com%2Fa%3Fb%3Dc"
    )
    assert RouteEffects.from_dict(effects.to_dict()) == effects
    own = effects_of(annotations | {P + "auth-signin": "https://login.example.com/?rd=$escaped_request_uri"}, "shop")
    assert own is not None and own.forward_auth is not None
    assert own.forward_auth.signin_location(b"http", b"h", b"/x") == b"https://login.example.com/?rd=%2Fx"  # its own rd
