"""Errors of the git adapter, all ``SourceError``s, and the mapping from git's stderr onto them.

git reports every transport failure as exit code 128 with a sentence on stderr; the sentence is the
only thing that tells an unreachable host from a refused password. We match the stable C-locale
phrases git, curl and ssh print (GitPython runs git with ``LC_ALL=C``) and keep git's last line in
the message, with credentials in URLs blanked, so the status page says what went wrong.
"""

from __future__ import annotations

import re

from gitops_ingress.core.errors import SourceError


class RepositoryError(SourceError):
    """The local mirror could not be created or read."""


class MirrorMissing(RepositoryError):
    """The mirror was deleted while in use and cannot be made again yet."""


class InvalidBranchName(SourceError):
    """A branch name that git would not accept as ``refs/heads/<name>`` (from a webhook, a user)."""


class RevisionNotFound(SourceError):
    """A commit, tree or blob id that the mirror does not hold."""


class BlobTooLarge(SourceError):
    """A file over the size limit that was asked for by name."""


class FetchError(SourceError):
    """A fetch failed for a reason none of the subclasses names."""


class RemoteUnreachable(FetchError):
    """The remote could not be contacted or is not a git repository."""


class AuthenticationFailed(FetchError):
    """The remote wants credentials we do not have (we never prompt for them)."""


class FetchTimeout(FetchError):
    """The fetch did not finish within the timeout and was killed."""


_AUTH_PHRASES = (
    "authentication failed",
    "could not read username",
    "could not read password",
    "terminal prompts disabled",
    "permission denied (publickey",
    "access denied",
    "invalid username or password",
    "the requested url returned error: 401",
    "the requested url returned error: 403",
    "host key verification failed",
)
_UNREACHABLE_PHRASES = (
    "could not resolve host",
    "failed to connect",
    "connection refused",
    "connection timed out",
    "connection reset",
    "no route to host",
    "network is unreachable",
    "does not appear to be a git repository",
    "repository not found",
    "not found",
    "unable to access",
    "could not read from remote repository",
    "empty reply from server",
    "ssl",
)
_URL_USERINFO = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


def redact(text: str) -> str:
    """Blank the user/password part of every URL in ``text``."""
    return _URL_USERINFO.sub(r"\1***@", text)


MAX_GIT_MESSAGE = 2000


def git_message(stderr: str) -> str:
    """All of git's error output on one line (credentials blanked, bounded): the last line alone
    often says only "fatal: could not read from remote repository", and the cause is above it."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    text = redact(" | ".join(lines)) if lines else "no message from git"
    return text if len(text) <= MAX_GIT_MESSAGE else text[: MAX_GIT_MESSAGE - 3] + "..."


def classify_fetch_failure(stderr: str) -> type[FetchError]:
    lowered = stderr.lower()
    if any(phrase in lowered for phrase in _AUTH_PHRASES):
        return AuthenticationFailed
    if any(phrase in lowered for phrase in _UNREACHABLE_PHRASES):
        return RemoteUnreachable
    return FetchError
