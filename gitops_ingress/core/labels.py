"""The label and annotation names gitops-ingress writes on cluster objects, and their values.

A wire contract between two adapters: ``kube/manifests.py`` writes them on the namespaces,
Ingresses and Services of each branch, and the proxy's in-cluster route source
(``proxy/sources/cluster.py``) reads them back to tell previews from stable Ingresses and to
restore a preview's hosts. Defined once, here, so the two cannot disagree
(tests/test_layering.py refuses a second definition).

Ownership is in labels (label values cannot hold ``/`` or 40 hex digits plus text, so the branch
label is a slug); the full branch name, the commit and the bookkeeping are annotations.
"""

from __future__ import annotations

MANAGER = "gitops-ingress"
MANAGED_BY = "app.kubernetes.io/managed-by"  # label: MANAGER on everything we own
PREFIX = "gitops-ingress.dev/"
BRANCH = PREFIX + "branch"  # label: the branch slug; annotation: the full branch name
ENVIRONMENT = PREFIX + "environment"  # label
ROLE = PREFIX + "role"  # label: STABLE, PREVIEW or EXTERNAL_NAME
COMMIT = PREFIX + "commit"  # annotation, on namespaces only
HASH = PREFIX + "applied-hash"  # annotation: digest of the manifest we applied
SOURCE_HOSTS = PREFIX + "source-hosts"  # annotation on previews: JSON {preview host: host in git}
TLS_SECRET = PREFIX + "tls-secret"  # annotation on previews: NS/NAME of the wildcard certificate
STABLE_NAMESPACE = PREFIX + "stable-namespace"  # annotation on preview namespaces and objects
ENVIRONMENTS = PREFIX + "environments"  # annotation on namespaces: comma-separated names

# values of ROLE
STABLE, PREVIEW, EXTERNAL_NAME = "stable", "preview", "external-name"

# Kubernetes' own: the label tying an EndpointSlice to its Service
SERVICE_NAME = "kubernetes.io/service-name"
