"""The git adapter: the only user of GitPython (docs/dev/architecture.md, Layers).

``Mirror`` keeps a bare copy of the config repository in the state folder and reads commits, trees
and blobs from it without a work tree; ``GitReader`` reads any existing local repository the same
way. Errors are ``gitops_ingress.core.errors.SourceError`` subclasses from ``errors``.
"""

from gitops_ingress.gitrepo.errors import (
    AuthenticationFailed,
    BlobTooLarge,
    FetchError,
    FetchTimeout,
    InvalidBranchName,
    MirrorMissing,
    RemoteUnreachable,
    RepositoryError,
    RevisionNotFound,
)
from gitops_ingress.gitrepo.mirror import FetchResult, Mirror
from gitops_ingress.gitrepo.reader import GitReader
from gitops_ingress.gitrepo.source import CommitTree
from gitops_ingress.gitrepo.tree import BlobEntry, GitTreeListing

__all__ = [
    "AuthenticationFailed",
    "BlobEntry",
    "BlobTooLarge",
    "CommitTree",
    "FetchError",
    "FetchResult",
    "FetchTimeout",
    "GitReader",
    "GitTreeListing",
    "InvalidBranchName",
    "Mirror",
    "MirrorMissing",
    "RemoteUnreachable",
    "RepositoryError",
    "RevisionNotFound",
]
