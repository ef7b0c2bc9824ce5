"""Benchmark: full validation of 10,000 Ingress objects in 2,000 files, against kubernetes-validate.

Both tools read the same files from disk. Ours: ``gitops-ingress validate DIR`` as a real process,
timed end to end (interpreter start, reading the folder, loading every YAML document with
positions, API-server checks, cross-file conflict checks, policy, the JSON report).
kubernetes-validate (PyPI): JSON-schema validation of each document against the Kubernetes
OpenAPI schema, the approach of kubeconform and friends. Prints objects per second and the ratio.

The same objects laid out as a kustomize base with 3 overlays (``--kustomize``: each overlay renders
a third of the base's folders, with its own namespace and name prefix, so the object count is the
same) are validated too: rendered by gitops-ingress's own kustomize renderer
(``core/kustomize_render.py``, which this layout stays inside), every object placed at its
origin's lines. The two layouts run alternately; the target is at most 1.5x the plain one. In the
same run (unless ``--no-kustomize-alone``), kustomize alone renders each overlay, as ``validate``
would hand a kustomization outside the subset to it (with the origin annotations it asks for):
what rendering by kubectl would cost. Each figure is wall seconds and CPU seconds (the process and
its children): on a shared machine the CPU seconds are the steadier measure. Every figure is the
median over ``--rounds`` rounds.

``--baseline COMMIT`` runs another commit's ``validate`` (checked out with ``git worktree add`` in a
temporary folder, imported through PYTHONPATH) in the same rounds, alternating with this
worktree's, so that a before/after comparison sees the same machine load on both sides.

Every run is timed as users run it: an installed package has its bytecode, so each child process
runs without PYTHONDONTWRITEBYTECODE (even where the environment sets it, as CI and some
containers do), and before the timed rounds one untimed warm-up run of each checkout on each
layout (and of kustomize alone) writes the bytecode and fills the file cache. Without that, every
timed run would compile every module of the package again (about a tenth of a run).

A second figure: the median time of one route match in a table of 10,000 hosts with 10 paths each.

    python bench/validate.py [--objects 10000] [--files 2000] [--rounds 3] [--baseline COMMIT]
                             [--no-peer] [--no-kustomize-alone] [--no-kustomize]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this worktree's package, not whichever one the environment has installed

from gitops_ingress.core.routing import Route, RouteTable, ServiceRef

TEMPLATE = """apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: app-{n}
  namespace: team-{team}
  labels:
    app.kubernetes.io/name: app-{n}
  annotations:
    nginx.ingress.kubernetes.io/proxy-body-size: 8m
spec:
  ingressClassName: gitops-ingress
  tls:
    - hosts: [app-{n}.example.com]
      secretName: app-{n}-tls
  rules:
    - host: app-{n}.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: web-{n}
                port:
                  name: http
          - path: /api
            pathType: Prefix
            backend:
              service:
                name: api-{n}
                port:
                  number: 8080
          - path: /healthz
            pathType: Exact
            backend:
              service:
                name: api-{n}
                port:
                  number: 8080
"""


def write_corpus(root: Path, objects: int, files: int) -> Path:
    per_file = max(objects // files, 1)
    env = root / "environments" / "production"
    n = 0
    for index in range(files):
        folder = env / f"team-{index % 20}"
        folder.mkdir(parents=True, exist_ok=True)
        docs = []
        for _ in range(per_file):
            docs.append(TEMPLATE.format(n=n, team=index % 20))
            n += 1
        (folder / f"app-{index}.yaml").write_text("---\n".join(docs), encoding="utf-8")
    return root / "environments"


def write_kustomize_corpus(root: Path, objects: int, files: int, overlays: int = 3) -> Path:
    """The plain corpus' files as bases (one per team folder), and ``overlays`` environments that
    each render a third of the bases with a namespace, a name prefix and a label."""
    plain = write_corpus(root / "plain", objects, files)
    teams = sorted((plain / "production").iterdir())
    base = root / "kustomize" / "bases"
    for team in teams:
        target = base / team.name
        target.mkdir(parents=True)
        names = sorted(path.name for path in team.iterdir())
        for name in names:
            (target / name).write_bytes((team / name).read_bytes())
        (target / "kustomization.yaml").write_text("resources:\n" + "".join(f"  - {n}\n" for n in names))
    for index in range(overlays):
        env = root / "kustomize" / "environments" / f"overlay-{index}"
        env.mkdir(parents=True)
        mine = [team.name for number, team in enumerate(teams) if number % overlays == index]
        resources = "".join(f"  - ../../bases/{name}\n" for name in mine)
        env.joinpath("kustomization.yaml").write_text(
            f"resources:\n{resources}namePrefix: o{index}-\ncommonLabels:\n  overlay: o{index}\n"
        )
    (root / "kustomize" / ".git").mkdir()
    # one overlay of the full corpus takes kustomize minutes of CPU: past the default limit (60 s),
    # every render would be a kustomize/render finding and nothing would be validated
    (root / "kustomize" / "gitops-ingress.yaml").write_text("policy:\n  limits:\n    render_timeout_seconds: 3600\n")
    return root / "kustomize" / "environments"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _child_environment(source: Path) -> dict[str, str]:
    """The environment of a timed child: ours with ``source`` first on PYTHONPATH (the child runs
    in the corpus' folder: without it, it would import the installed package), and bytecode
    written and read as an installed package's is (the module docstring says why)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(source), os.environ.get("PYTHONPATH"))))
    return env


def run_ours(folder: Path, source: Path = ROOT) -> tuple[float, float, int, int]:
    """(wall seconds, CPU seconds of validate and kustomize, objects, findings); ``source``: the
    checkout whose package runs."""
    start, cpu = time.perf_counter(), _children_cpu()
    proc = subprocess.run(
        [sys.executable, "-m", "gitops_ingress", "validate", "environments", "--format", "json"],
        cwd=folder.parent,
        env=_child_environment(source),
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    elapsed, used = time.perf_counter() - start, _children_cpu() - cpu
    if proc.returncode not in (0, 1):
        raise SystemExit(f"gitops-ingress validate failed: {proc.stderr}")
    report = json.loads(proc.stdout)
    return elapsed, used, report["objects"], len(report["findings"])


@contextlib.contextmanager
def checkout(commit: str) -> Iterator[Path]:
    """A detached worktree of ``commit`` in a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp) / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), commit], check=True)
        try:
            yield where
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(where)], check=False)


def run_kustomize_alone(environments: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of kustomize rendering every overlay, as validate asks for it (with
    ``buildMetadata: [originAnnotations]``), from copies beside the overlays (``alone/``, at the
    same depth, so ``../../bases`` still resolves; the validated folders are not changed)."""
    standalone = shutil.which("kustomize")
    command = [standalone, "build"] if standalone else ["kubectl", "kustomize"]
    wall = cpu = 0.0
    for overlay in sorted(environments.iterdir()):
        copy = environments.parent / "alone" / overlay.name
        copy.mkdir(parents=True, exist_ok=True)
        text = (overlay / "kustomization.yaml").read_text()
        (copy / "kustomization.yaml").write_text(text + "buildMetadata: [originAnnotations]\n")
        start, used = time.perf_counter(), _children_cpu()
        subprocess.run(
            [*command, str(copy), "--load-restrictor", "LoadRestrictionsRootOnly"],
            capture_output=True,
            check=True,
            timeout=3600,
        )
        wall, cpu = wall + time.perf_counter() - start, cpu + _children_cpu() - used
    return wall, cpu


def run_kubernetes_validate(folder: Path) -> tuple[float, int, int]:
    import kubernetes_validate

    version = kubernetes_validate.latest_version()
    start = time.perf_counter()
    objects = errors = 0
    for path in sorted(folder.rglob("*.yaml")):
        for document in yaml.load_all(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader):
            objects += 1
            try:
                kubernetes_validate.validate(document, version, strict=True)
            except kubernetes_validate.ValidationError:
                errors += 1
    return time.perf_counter() - start, objects, errors


def match_median(hosts: int = 10_000, paths: int = 10, samples: int = 200_000) -> tuple[float, float]:
    routes = [
        Route(
            f"host-{h}.example.com",
            f"/p{p}/x" if p else "/",
            "Exact" if p % 3 == 0 and p else "Prefix",
            ServiceRef("ns", f"svc-{h}", "80"),
            f"ns/i{h}",
        )
        for h in range(hosts)
        for p in range(paths)
    ]
    start = time.perf_counter()
    table = RouteTable(routes)
    compile_seconds = time.perf_counter() - start
    requests = [(f"host-{i % hosts}.example.com", f"/p{i % paths}/x/deeper/path") for i in range(samples)]
    batches = []
    match = table.match
    gc.disable()
    try:
        for offset in range(0, samples, 1000):
            batch = requests[offset : offset + 1000]
            t0 = time.perf_counter()
            for host, path in batch:
                match(host, path)
            batches.append((time.perf_counter() - t0) / len(batch))
    finally:
        gc.enable()
    return statistics.median(batches), compile_seconds


def _median(runs: list[tuple[float, float, int, int]]) -> tuple[float, float, int, int]:
    """Median wall and CPU seconds (each on its own) of runs that must agree on what they found."""
    found = {(count, findings) for _, _, count, findings in runs}
    if len(found) != 1:
        raise SystemExit(f"runs of one layout disagree on (objects, findings): {sorted(found)}")
    ((count, findings),) = found
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), count, findings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=2_000)
    parser.add_argument("--rounds", "--runs", type=int, default=3, help="rounds of each layout; medians count")
    parser.add_argument("--baseline", metavar="COMMIT", help="also run this commit's validate, alternating")
    parser.add_argument("--no-peer", action="store_true", help="skip kubernetes-validate (minutes at full size)")
    parser.add_argument("--no-kustomize", action="store_true", help="only the plain layout")
    parser.add_argument(
        "--no-kustomize-alone", action="store_true", help="skip kustomize alone (many minutes of CPU at full size)"
    )
    parser.add_argument("--no-match", action="store_true", help="skip the route match figure")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        sources = {"gitops-ingress": ROOT}
        if args.baseline:
            sources[f"baseline {args.baseline[:10]}"] = stack.enter_context(checkout(args.baseline))
        folder = write_corpus(tmp, args.objects, args.files)
        layouts = {"": folder}
        if not args.no_kustomize:
            layouts["  kustomize, 3 overlays"] = write_kustomize_corpus(tmp, args.objects, args.files)
        for where in layouts.values():  # untimed: writes each checkout's bytecode, fills the file cache
            for source in sources.values():
                run_ours(where, source)
        runs: dict[tuple[str, str], list[tuple[float, float, int, int]]] = {}
        for _ in range(args.rounds):  # alternating, so a change in the machine's load hits all alike
            for layout, where in layouts.items():
                for name, source in sources.items():
                    runs.setdefault((name, layout), []).append(run_ours(where, source))
        figures = {key: _median(value) for key, value in runs.items()}
        if len({(count, found) for _, _, count, found in figures.values()}) != 1:
            raise SystemExit(f"the runs did not validate the same objects with the same findings: {figures}")
        alone = None
        if not args.no_kustomize and not args.no_kustomize_alone:
            run_kustomize_alone(layouts["  kustomize, 3 overlays"])  # untimed warm-up, as for ours
            alone = min(run_kustomize_alone(layouts["  kustomize, 3 overlays"]) for _ in range(args.rounds))
        theirs = None if args.no_peer else run_kubernetes_validate(folder)
    load = os.getloadavg()
    print(f"medians of {args.rounds} rounds; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'tool':<28}{'objects':>9}{'seconds':>10}{'CPU s':>9}{'objects/s':>12}{'findings':>10}")
    for name in sources:  # each source's plain row, then its kustomize layout's beneath it
        for layout in layouts:
            seconds, cpu, count, found = figures[name, layout]
            label = layout or name
            print(f"{label:<28}{count:>9}{seconds:>10.2f}{cpu:>9.2f}{count / seconds:>12.0f}{found:>10}")
    ours_s, ours_cpu, ours_n, _ = figures["gitops-ingress", ""]
    for name in sources:
        if name != "gitops-ingress":
            base_s, base_cpu, _, _ = figures[name, ""]
            print(f"gitops-ingress / {name}, plain: {ours_s / base_s:.2f}x seconds, {ours_cpu / base_cpu:.2f}x CPU")
        if not args.no_kustomize:
            kust_s, kust_cpu, _, _ = figures[name, "  kustomize, 3 overlays"]
            plain_s, plain_cpu, _, _ = figures[name, ""]
            print(
                f"{name}: kustomize layout / plain layout: {kust_s / plain_s:.2f}x seconds, "
                f"{kust_cpu / plain_cpu:.2f}x CPU (at most 1.5x)"
            )
    if alone is not None:
        alone_s, alone_cpu = alone
        print(f"{'  kustomize alone':<28}{ours_n:>9}{alone_s:>10.2f}{alone_cpu:>9.2f}")
        print(
            f"kustomize alone / plain layout: {alone_s / ours_s:.2f}x seconds, {alone_cpu / ours_cpu:.2f}x CPU "
            "(what rendering by kubectl would cost on its own)"
        )
    if theirs is not None:
        theirs_s, theirs_n, theirs_errors = theirs
        print(
            f"{'kubernetes-validate':<28}{theirs_n:>9}{theirs_s:>10.2f}{'':>9}{theirs_n / theirs_s:>12.0f}{theirs_errors:>10}"
        )
        print(
            f"ratio (ours / kubernetes-validate, objects per second): {(ours_n / ours_s) / (theirs_n / theirs_s):.1f}x"
        )
    if not args.no_match:
        median, compile_seconds = match_median()
        print(
            f"route match, 10,000 hosts x 10 paths: median {median * 1e6:.2f} us per match "
            f"(table compiled in {compile_seconds:.2f} s)"
        )


if __name__ == "__main__":
    main()
