"""``gitops-ingress proxy``: the data plane (docs/cli.md, docs/proxy.md).

    proxy --listen HOST:PORT [--ingress-dir DIR ...] [--backend [NS/]SERVICE:PORT=URL ...]
          [--controller URL | --kubernetes] [--tls-dir DIR] [--secret-dir DIR] [--workers N]
          [--preview-domain DOMAIN] [--admin-listen HOST:PORT]

plus options of our own: ``--tls-listen`` (where HTTPS is served; default port 8443 on the
``--listen`` host), ``--https-redirect``, ``--no-access-log``, ``--trusted-proxy``, ``--debug-pages``,
``--drain-timeout``, ``--max-body``, ``--h2c``,
``--settings FILE`` and ``--set NAME=VALUE`` for any other ProxySettings field.

Settings (ingress class, namespace defaults, preview domain) come from ``gitops-ingress.yaml``:
``--settings FILE``, else the one found by the search every command uses, from the first
``--ingress-dir`` (``environments/production`` -> the repository root; docs/configuration.md),
then ``GITOPS_INGRESS_*`` variables, then options. Broken Ingress files at start-up are findings (exit 1, each with file and line); bad
options are usage errors (exit 2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gitops_ingress.cli import EXIT_FINDINGS, add_routing_options, log_to_stderr
from gitops_ingress.cli.sources import load_settings
from gitops_ingress.cli.variables import Variables
from gitops_ingress.core.backends import BackendMap
from gitops_ingress.core.errors import UsageError
from gitops_ingress.core.findings import Severity
from gitops_ingress.core.settings import SETTINGS_FILE, Settings
from gitops_ingress.proxy import workers
from gitops_ingress.proxy.app import ProxyOptions, parse_address
from gitops_ingress.proxy.config import ProxySettings
from gitops_ingress.proxy.sources import FileSourceError


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "proxy",
        help="run the data plane: an HTTP/1.1 and HTTP/2 reverse proxy for stable and preview hosts",
        description="Serve Ingress routes: from files (--ingress-dir with --backend) or pushed by the control plane (--controller).",
    )
    parser.add_argument("--listen", required=True, metavar="HOST:PORT", help="plain HTTP listener")
    parser.add_argument(
        "--ingress-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="an environment folder of Ingress YAML (repeatable); reloaded when files change",
    )
    add_routing_options(parser)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--controller", metavar="URL", help="follow the control plane's route stream")
    source.add_argument("--kubernetes", action="store_true", help="watch Ingresses in the cluster")
    parser.add_argument(
        "--publish-address",
        default="",
        metavar="ADDRESS",
        help="--kubernetes: IP or hostname written to each Ingress's status.loadBalancer",
    )
    parser.add_argument(
        "--publish-service",
        default="",
        metavar="NS/NAME",
        help="--kubernetes: publish the address of this LoadBalancer Service instead",
    )
    parser.add_argument(
        "--tls-dir", metavar="DIR", help="certificates: DIR/<secret>/tls.crt+tls.key or DIR/<name>.crt+.key"
    )
    parser.add_argument(
        "--tls-listen", metavar="HOST:PORT", help="HTTPS listener (default: the --listen host, port 8443)"
    )
    parser.add_argument(
        "--https-redirect", action="store_true", help="redirect plain HTTP to HTTPS for hosts with a certificate"
    )
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes (SO_REUSEPORT)")
    parser.add_argument("--admin-listen", metavar="HOST:PORT", help="/metrics, /healthz and /readyz")
    parser.add_argument("--settings", metavar="FILE", help=f"the {SETTINGS_FILE} to use")
    parser.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="JSON access log on stdout (default: on)",
    )
    parser.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="CIDR",
        help="a load balancer or proxy in front whose X-Forwarded-*, X-Real-IP and Forwarded are "
        "kept and extended (repeatable; everyone else's are replaced)",
    )
    parser.add_argument(
        "--debug-pages",
        action="store_true",
        help="error pages name the namespace/service:port behind them (default: only the log does)",
    )
    parser.add_argument(
        "--proxy-protocol",
        action="append",
        default=[],
        choices=("plain", "tls"),
        metavar="LISTENER",
        help="connections on this listener (plain or tls; repeatable) start with a PROXY protocol v1/v2 "
        "header naming the client, as cloud L4 balancers send it; without one they are closed",
    )
    parser.add_argument(
        "--via",
        metavar="NAME",
        help="the name in the Via line added to requests and responses (default: gitops-ingress; '' for none)",
    )
    parser.add_argument("--drain-timeout", type=float, metavar="SECONDS", help="SIGTERM: time in-flight requests get")
    parser.add_argument("--max-body", type=int, metavar="BYTES", help="largest request body (413 above)")
    parser.add_argument(
        "--h2c",
        action="store_true",
        help="also speak HTTP/2 with prior knowledge on the plain listener (TLS always offers h2 by ALPN)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        dest="proxy_set",
        help="any other proxy setting, e.g. --set read_timeout=30",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, variables: Variables) -> int:
    log_to_stderr()
    try:
        options = build_options(args, variables)
        if args.workers > 1 and options.ingress_dirs:
            # children would each report the same findings; check the files once, here
            from gitops_ingress.proxy.sources.files import FileSource  # only for files (proxy/app.py)

            FileSource([Path(d) for d in options.ingress_dirs], BackendMap(), options.settings).load()
        return workers.run(options, args.workers)
    except FileSourceError as exc:
        for finding in exc.findings:
            print(finding.one_line(), file=sys.stderr)
        print(f"gitops-ingress proxy: {len(exc.findings)} error(s) in the Ingress files; not serving", file=sys.stderr)
        return EXIT_FINDINGS


def build_options(args: argparse.Namespace, variables: Variables) -> ProxyOptions:
    if args.workers < 1:
        raise UsageError(f"--workers {args.workers}: must be at least 1")
    overrides: dict[str, Any] = {}
    if args.preview_domain:
        overrides["preview_domain"] = args.preview_domain
    settings = read_settings_file(args, variables, overrides)
    changes: dict[str, Any] = {
        "access_log": args.access_log,
        "debug_pages": args.debug_pages,
        "preview_domain": settings.preview_domain,
        "workers": args.workers,
        "h2c": args.h2c,
    }
    if args.trusted_proxy:
        changes["trusted_proxies"] = tuple(args.trusted_proxy)
    if args.proxy_protocol:
        changes["proxy_protocol"] = tuple(dict.fromkeys(args.proxy_protocol))
    if args.via is not None:
        changes["via"] = args.via
    if args.drain_timeout is not None:
        changes["drain_timeout"] = args.drain_timeout
    if args.max_body is not None:
        changes["max_body"] = args.max_body
    for item in args.proxy_set:
        name, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--set {item!r}: expected NAME=VALUE")
        changes[name.strip()] = _number(value.strip(), name)
    return ProxyOptions(
        listen=parse_address(args.listen, "--listen"),
        proxy=ProxySettings().with_changes(**changes),
        settings=settings,
        ingress_dirs=tuple(args.ingress_dir),
        backends=tuple(args.backend),
        controller=args.controller,
        kubernetes=args.kubernetes,
        publish_address=args.publish_address,
        publish_service=args.publish_service,
        tls_dir=args.tls_dir,
        secret_dir=args.secret_dir,
        tls_listen=parse_address(args.tls_listen, "--tls-listen") if args.tls_listen else None,
        https_redirect=args.https_redirect,
        admin_listen=parse_address(args.admin_listen, "--admin-listen") if args.admin_listen else None,
    )


def _number(text: str, name: str) -> Any:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if text.lower() in ("none", ""):
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def read_settings_file(args: argparse.Namespace, variables: Variables, overrides: dict[str, Any]) -> Settings:
    loaded = load_settings(args.ingress_dir, variables, overrides, args.settings)
    errors = [f for f in loaded.findings if f.severity is Severity.ERROR]
    if errors:
        raise FileSourceError(errors)
    return loaded.settings
