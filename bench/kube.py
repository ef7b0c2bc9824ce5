"""Benchmark of the Kubernetes target (issue 5): many branches applied to the stand-in API server.

    python bench/kube.py [--branches 200] [--ingresses 20] [--namespaces 4] [--concurrency 8]

BRANCHES preview branches of INGRESSES Ingresses each (spread over NAMESPACES team namespaces, so
each branch has NAMESPACES preview namespaces and one ExternalName Service per backend) are applied
through ``KubernetesTarget.apply`` to the in-process stand-in, CONCURRENCY branches at a time, as
the engine's branch workers would. Reported: objects written per second (namespaces, Ingresses and
ExternalName Services), API requests per branch (reads and writes, counted by the stand-in), and
the requests and writes of a second reconcile of every branch with nothing changed (target: 0
writes). The stand-in is a Python HTTP server on one machine, so the absolute rate is a floor for
what a real API server would take, not a prediction.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import kubernetes

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gitops_ingress.core.objects import parse_file
from gitops_ingress.core.routing import compile_routes
from gitops_ingress.core.settings import Settings
from gitops_ingress.kube import KubeOptions, KubernetesTarget
from gitops_ingress.sync import DesiredEnvironment
from tests.support.kubeapi import run_stand_in
from tests.support.manifests import ingress, to_yaml


def environment(ingresses: int, namespaces: int, settings: Settings) -> DesiredEnvironment:
    docs = [
        ingress(f"app{i}", f"app{i}.team{i % namespaces}.example.com", f"svc{i}", namespace=f"team{i % namespaces}")
        for i in range(ingresses)
    ]
    parsed = parse_file("environments/production/all.yaml", to_yaml(*docs).encode(), "production", settings)
    return DesiredEnvironment("production", "c" * 40, compile_routes(parsed.ingresses, settings), parsed.ingresses)


async def apply_all(target: KubernetesTarget, branches: list[str], env: DesiredEnvironment, concurrency: int) -> float:
    slots = asyncio.Semaphore(concurrency)

    async def one(branch: str) -> None:
        async with slots:
            await target.apply(branch, False, {"production": env})

    started = time.perf_counter()
    await asyncio.gather(*(one(b) for b in branches))
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--branches", type=int, default=200)
    parser.add_argument("--ingresses", type=int, default=20)
    parser.add_argument("--namespaces", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    settings = Settings.build(None, {}, {"preview_domain": "preview.example.com"})
    env = environment(args.ingresses, args.namespaces, settings)
    branches = [f"feature/bench-{i}" for i in range(args.branches)]
    with run_stand_in() as server:
        config = kubernetes.client.Configuration()
        config.host = server.url
        config.retries = 0
        config.connection_pool_maxsize = args.concurrency * 2
        target = KubernetesTarget(kubernetes.client.ApiClient(config), settings, KubeOptions(request_timeout=60))
        server.reset_counts()
        cold = asyncio.run(apply_all(target, branches, env, args.concurrency))
        first = server.request_counts()
        server.reset_counts()
        warm = asyncio.run(apply_all(target, branches, env, args.concurrency))
        second = server.request_counts()
    objects = first["writes"]
    print(
        f"branches: {args.branches} x {args.ingresses} Ingresses in {args.namespaces} namespaces "
        f"(concurrency {args.concurrency})"
    )
    print(
        f"first apply: {cold:.2f}s, {objects} objects written, {objects / cold:.0f} objects/s, "
        f"{first['total'] / args.branches:.1f} API requests per branch ({first['writes'] / args.branches:.1f} writes)"
    )
    print(f"  by verb: {first['by_verb_resource']}")
    print(
        f"no-change reconcile: {warm:.2f}s, {second['writes']} writes, "
        f"{second['total'] / args.branches:.1f} API requests per branch ({second['by_verb_resource']})"
    )
    return 0 if second["writes"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
