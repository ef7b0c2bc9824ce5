"""gitops-ingress: git branches of Ingress files turned into validated, diffed, live routing."""

__version__ = "0.1.0"
