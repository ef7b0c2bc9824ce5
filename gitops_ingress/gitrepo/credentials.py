"""Credentials of the remote URL kept out of every file: handed to each fetch in its environment.

A URL such as ``https://robot:TOKEN@git.example.com/config.git`` is how many people give a
deploy token. Written as the mirror's ``remote.origin.url`` it would sit in plain text in
``mirror.git/config`` for anyone who can read the state folder (and every backup of it). So the
URL stored is the one without its user information, and the fetch gets a credential helper
through git's environment-only configuration (``GIT_CONFIG_COUNT``/``_KEY_n``/``_VALUE_n``,
git 2.31+), with the user and password in that child's environment alone. The helper answers only
``get`` requests for the remote's own host, so a redirect to another host never receives them.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

USER_VARIABLE = "_GITOPS_MIRROR_USER"
PASSWORD_VARIABLE = "_GITOPS_MIRROR_PASSWORD"
HOST_VARIABLE = "_GITOPS_MIRROR_HOST"
# git runs a helper that starts with "!" in a shell, with the action as $1 and the request on stdin
HELPER = (
    '!f() { test "$1" = get || exit 0; host=""; '
    'while IFS= read -r line; do case "$line" in host=*) host="${line#host=}";; esac; done; '
    f'test "$host" = "${HOST_VARIABLE}" || exit 0; '
    f'printf \'username=%s\\npassword=%s\\n\' "${USER_VARIABLE}" "${PASSWORD_VARIABLE}"; }}; f'
)


@dataclass(frozen=True, slots=True)
class RemoteCredentials:
    host: str  # "host" or "host:port", as git's credential protocol names it
    user: str
    password: str

    def fetch_environment(self) -> dict[str, str]:
        """Environment variables for one git process: the helper, and the secrets it prints."""
        return {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "credential.helper",
            "GIT_CONFIG_VALUE_0": HELPER,
            HOST_VARIABLE: self.host,
            USER_VARIABLE: self.user,
            PASSWORD_VARIABLE: self.password,
        }


def split_credentials(remote: str) -> tuple[str, RemoteCredentials | None]:
    """The remote without user information, and the credentials it carried (None: none)."""
    parts = urlsplit(remote)
    if parts.scheme not in ("http", "https") or "@" not in parts.netloc:
        return remote, None  # ssh keeps its user in the URL (no secret there); paths have none
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    bare = urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))
    return bare, RemoteCredentials(hostport, unquote(user), unquote(password))
