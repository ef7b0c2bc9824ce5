"""Untrusted names at the git boundary: branch names from webhooks and the configured remote.

A branch name reaches us from a webhook body or a remote's ref list, so it is attacker-controlled.
It is only ever handed to git inside a full ``refs/heads/<name>`` argument, which cannot start with
``-`` and so is never read as an option (``--upload-pack=touch /tmp/x``), and only after
``git check-ref-format`` accepted it: git's own rules, not a copy of them. Nothing goes through a
shell. The remote is operator configuration, but transport-helper syntax (``ext::sh -c ...``) and
leading dashes are refused anyway, so a typo cannot run a command.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from gitops_ingress.core.errors import ConfigError
from gitops_ingress.gitrepo.errors import InvalidBranchName

HEADS = "refs/heads/"
MAX_BRANCH_BYTES = 1024
_HELPER_SYNTAX = re.compile(r"^[A-Za-z0-9+.-]+::")
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SCP_LIKE = re.compile(r"^[^/]+:")


def branch_ref(name: str, check_ref_format: Callable[[str], bool]) -> str:
    """``refs/heads/<name>`` once ``name`` is a branch name git accepts, else InvalidBranchName.

    ``check_ref_format(ref)`` runs ``git check-ref-format <ref>`` and says whether it passed; the
    cheap checks here only keep bytes that cannot be passed to a process at all away from it.
    """
    shown = ascii(name[:80])
    if not name:
        raise InvalidBranchName("empty branch name")
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidBranchName(f"branch name {shown} is not valid UTF-8") from exc
    if b"\0" in encoded:
        raise InvalidBranchName(f"branch name {shown} contains a NUL byte")
    if len(encoded) > MAX_BRANCH_BYTES:
        raise InvalidBranchName(f"branch name {shown}... is longer than {MAX_BRANCH_BYTES} bytes")
    ref = HEADS + name
    if not check_ref_format(ref):
        raise InvalidBranchName(f"{shown} is not a valid branch name (git check-ref-format refused it)")
    return ref


def normalize_remote(remote: str) -> str:
    """A URL as given, or a local path made absolute (the mirror fetches from its own folder)."""
    text = remote.strip()
    if not text:
        raise ConfigError("the repository to mirror is empty")
    if text.startswith("-"):
        raise ConfigError(f"the repository {text!r} starts with '-' and would be read as an option")
    if _HELPER_SYNTAX.match(text):
        raise ConfigError(f"the repository {text!r} uses a git transport helper ('::'); give a URL or a path")
    if _URL_SCHEME.match(text) or (_SCP_LIKE.match(text) and not Path(text).exists()):
        return text
    return str(Path(text).expanduser().resolve())
