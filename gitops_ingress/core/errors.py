"""The package's own exception hierarchy.

Adapters map their backend's errors onto these at the boundary (``raise ... from exc``) so that the
CLI and the web layer deal with one family of exceptions and turn them into exit code 2 or a clear
HTTP answer, never a traceback.
"""

from __future__ import annotations


class GitopsIngressError(Exception):
    """Base of every error this package raises on purpose."""


class UsageError(GitopsIngressError):
    """The caller asked for something malformed (bad option value, unknown format)."""


class ConfigError(GitopsIngressError):
    """Settings or a backend map that cannot be used."""


class SourceError(GitopsIngressError):
    """A configuration source (folder, git ref) could not be read."""


class RenderError(GitopsIngressError):
    """A kustomization could not be rendered; the message is kustomize's own (or why it was not run)."""


class StreamGapError(SourceError):
    """A control-plane stream delta does not follow the state its receiver holds (a line was
    lost, or none came first): the receiver must resync from a whole state."""


class Standby(GitopsIngressError):
    """The target writes only on the leading replica and this one does not lead: nothing was
    written, which is the replica's normal state, not a fault. ``leader`` names the replica that
    holds the lease, when known."""

    def __init__(self, message: str, leader: str | None = None) -> None:
        super().__init__(message)
        self.leader = leader
