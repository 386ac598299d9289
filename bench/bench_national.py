"""Benchmark: site reports at national scale, cost per site flat, the same bytes on Dask.

Issue 24, item 3. Two demo studies of the same density (250 participants and 5 interviews
per site) are generated: a reference study of ``--sites-small`` sites (default 40: 10,000
participants, 200 interviews) and a national one of ``--sites-large`` sites (default 200:
50,000 participants, 1,000 interviews). In one run this benchmark

1. renders every site report and the index of each study with ``spanalysis report STUDY
   --sites all --study-reports no`` in a fresh process (the whole-study notebooks are left
   out: they are rendered once per study whatever its number of sites, and would flatter
   the per-site figure), sampling the memory of the runner and of each worker process with
   its kernel every 0.2 s (``psutil``; a worker's resident set plus its kernel's,
   the kernel found by the log file they share);
2. renders the national study's site reports again on a local Dask distributed cluster
   (scheduler and two one-thread workers started here, on loopback), and compares every
   report's HTML and JSON with the local run byte for byte. Both runs set
   ``SOURCE_DATE_EPOCH``, so the render time is the same.

Targets: the large study in at most 7.5 times the small one's time for 5 times the sites
(cost per site flat); the Dask run byte-identical to the local run; the 200-site index under
2 MB (issue 24 item 4). The memory per worker is stated, not judged.

    python bench/bench_national.py                                # 40 and 200 sites
    python bench/bench_national.py --sites-small 2 --sites-large 10   # make bench (CI)

The results are printed and written to ``bench/results/national.json``.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import write_result  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
PARTICIPANTS_PER_SITE = 250
INTERVIEWS_PER_SITE = 5
TARGET_COST_RATIO = 7.5       # for five times the sites
INDEX_LIMIT_BYTES = 2 * 2**20
EPOCH = "1767225600"          # 2026-01-01T00:00:00Z: the same render time in both runs
COMPARED = {".html", ".json"}


class MemorySampler:
    """Peak resident memory of the run, of its processes, and of each worker with its kernel.

    Every ``interval`` seconds the run's descendants are listed (the forkserver and its
    workers, the kernel forker and the kernels, the resource tracker). A kernel writes to
    its worker's kernel log (``spanalysis-kernel-*.log``, which the worker holds open too;
    a forked kernel's OS parent is the kernel forker, not its worker), so each worker's
    figure is its own resident set plus its kernels' (and their children's). Resident sets count pages a forked process still
    shares with the process it was forked from once in each, so the per-worker figure is an
    upper bound. ``runner_mb``: the run's own process; ``total_mb``: everything.
    """

    def __init__(self, pid: int, interval: float = 0.2):
        import psutil

        self._psutil = psutil
        self._root = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self._worker_of: dict[int, int] = {}     # kernel pid -> its worker's pid
        self.runner_mb = 0.0
        self.worker_mb: dict[int, float] = {}
        self.total_mb = 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _rss(self, proc) -> float:
        try:
            return proc.memory_info().rss / 2**20
        except (self._psutil.NoSuchProcess, self._psutil.AccessDenied):
            return 0.0

    def _logs(self, proc) -> set[str]:
        """The kernel logs (``spanalysis-kernel-*.log``) ``proc`` holds open."""
        return {f.path for f in proc.open_files()
                if os.path.basename(f.path).startswith("spanalysis-kernel-")}

    def _is_kernel(self, proc) -> bool:
        """Started as ``-m ipykernel_launcher``, or forked by the run's kernel forker."""
        if "ipykernel" in " ".join(proc.cmdline()):
            return True
        parent = proc.parent()
        return parent is not None and "spanalysis.report.forker" in " ".join(parent.cmdline())

    def _link(self, processes) -> None:
        """Find the worker of each kernel not yet linked: the other process holding the
        kernel's log open."""
        held: dict[str, list[tuple[int, bool]]] = {}
        for proc in processes:
            if proc.pid in self._worker_of:
                continue
            try:
                logs = self._logs(proc)
                kernel = bool(logs) and self._is_kernel(proc)
            except self._psutil.Error:
                continue
            for path in logs:
                held.setdefault(path, []).append((proc.pid, kernel))
        for holders in held.values():
            workers = [pid for pid, kernel in holders if not kernel]
            for pid, kernel in holders:
                if kernel and len(workers) == 1:
                    self._worker_of[pid] = workers[0]

    def _run(self):
        psutil = self._psutil
        while not self._stop.is_set():
            try:
                own = self._rss(self._root)
                processes = self._root.children(recursive=True)
            except psutil.NoSuchProcess:
                return
            rss = {p.pid: self._rss(p) for p in processes}
            self._link(processes)
            kernels: dict[int, float] = {}
            for proc in processes:
                worker = self._worker_of.get(proc.pid)
                if worker and worker in rss:          # a kernel of one of the run's workers
                    try:
                        below = sum(rss.get(c.pid, 0.0) for c in proc.children(recursive=True))
                    except psutil.NoSuchProcess:
                        continue
                    kernels[worker] = kernels.get(worker, 0.0) + rss[proc.pid] + below
            for worker, kernel_mb in kernels.items():
                tree = rss[worker] + kernel_mb
                self.worker_mb[worker] = max(self.worker_mb.get(worker, 0.0), tree)
            self.runner_mb = max(self.runner_mb, own)
            self.total_mb = max(self.total_mb, own + sum(rss.values()))
            self._stop.wait(self._interval)


def _render(study: Path, out: Path, *, jobs: int | None, scheduler: str | None = None) -> dict:
    cmd = [sys.executable, "-m", "spanalysis", "report", str(study), "--out", str(out),
           "--sites", "all", "--study-reports", "no", "--no-progress"]
    cmd += ["--scheduler", scheduler] if scheduler else ["--jobs", str(jobs)]
    env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    with MemorySampler(proc.pid) as memory:
        stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"spanalysis report failed ({proc.returncode}):\n{stderr[-3000:]}")
    sites = sorted((out / "sites").glob("*.html"))
    index = out / "index.html"
    result = {"seconds": seconds, "site_reports": len(sites),
              "seconds_per_site": seconds / max(len(sites), 1),
              "index_bytes": index.stat().st_size if index.exists() else None,
              "peak_runner_mb": round(memory.runner_mb),
              "peak_total_mb": round(memory.total_mb)}
    if memory.worker_mb:
        result["peak_per_worker_mb"] = round(max(memory.worker_mb.values()))
    return result


def _files(out: Path) -> dict[str, bytes]:
    """The reports' HTML and JSON (the index names where it ran, so it is left out)."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.suffix in COMPARED and not p.name.startswith("index.")}


def _first_difference(a: bytes, b: bytes) -> str:
    """The first line that differs between two files, both versions shortened."""
    for number, (x, y) in enumerate(zip(a.splitlines(), b.splitlines()), start=1):
        if x != y:
            return f"line {number}: {x[:160]!r} / {y[:160]!r}"
    return f"lengths {len(a)} and {len(b)}"


def _dask_render(study: Path, out: Path, workers: int) -> dict:
    import distributed

    cluster = distributed.LocalCluster(host="127.0.0.1", processes=True, n_workers=workers,
                                       threads_per_worker=1, dashboard_address=None,
                                       silence_logs=40)
    with cluster:
        return _render(study, out, jobs=None, scheduler=cluster.scheduler_address)


def run(sites_small: int, sites_large: int, jobs: int, dask: bool = True) -> dict:
    from spanalysis import demo

    result = {"benchmark": "site reports at national scale: cost per site, memory, Dask bytes",
              "participants_per_site": PARTICIPANTS_PER_SITE,
              "interviews_per_site": INTERVIEWS_PER_SITE, "jobs": jobs,
              "target_cost_ratio": TARGET_COST_RATIO,
              "site_ratio": sites_large / sites_small}
    with tempfile.TemporaryDirectory(prefix="bench-national-") as tmp:
        tmp = Path(tmp)
        runs = {}
        for label, sites in (("small", sites_small), ("large", sites_large)):
            start = time.perf_counter()
            study = demo.generate(tmp / f"study-{label}", sites=sites,
                                  participants=sites * PARTICIPANTS_PER_SITE,
                                  interviews=sites * INTERVIEWS_PER_SITE)
            generated = time.perf_counter() - start
            runs[label] = {"sites": sites, "generate_seconds": generated,
                           **_render(study, tmp / f"out-{label}", jobs=jobs)}
            print(f"{sites:4d} sites: {runs[label]['seconds']:7.1f} s "
                  f"({runs[label]['seconds_per_site']:.2f} s per site), index "
                  f"{runs[label]['index_bytes'] / 1024:.0f} KB, peak per worker "
                  f"{runs[label].get('peak_per_worker_mb', 0)} MB", flush=True)
        result.update(small=runs["small"], large=runs["large"])
        result["cost_ratio"] = runs["large"]["seconds"] / runs["small"]["seconds"]
        result["meets_cost_target"] = result["cost_ratio"] <= TARGET_COST_RATIO * (
            result["site_ratio"] / 5)
        result["index_under_2mb"] = runs["large"]["index_bytes"] < INDEX_LIMIT_BYTES
        if dask:
            result["dask"] = _dask_render(tmp / "study-large", tmp / "out-dask", workers=jobs)
            local, remote = _files(tmp / "out-large"), _files(tmp / "out-dask")
            differ = sorted(name for name in set(local) | set(remote)
                            if local.get(name) != remote.get(name))
            result["dask"].update(files_compared=len(local), files_differing=differ[:20],
                                  first_differences=[_first_difference(local.get(name, b""),
                                                     remote.get(name, b""))
                                                     for name in differ[:3]],
                                  same_bytes=not differ)
            print(f"Dask, {sites_large} sites: {result['dask']['seconds']:.1f} s; "
                  f"{len(local)} files compared, {len(differ)} differ", flush=True)
    result["meets_target"] = (result["meets_cost_target"] and result["index_under_2mb"]
                              and (not dask or result["dask"]["same_bytes"]))
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites-small", type=int, default=40)
    parser.add_argument("--sites-large", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask comparison")
    parser.add_argument("--out", default=str(RESULTS / "national.json"))
    args = parser.parse_args(argv)
    result = run(args.sites_small, args.sites_large, args.jobs, dask=not args.no_dask)
    write_result(result, args.out)
    print(f"cost: {result['cost_ratio']:.2f}x the time for {result['site_ratio']:g}x the "
          f"sites (target <= {TARGET_COST_RATIO:g}x for 5x): "
          f"{'holds' if result['meets_cost_target'] else 'DOES NOT HOLD'}")
    print(f"index at {args.sites_large} sites: {result['large']['index_bytes'] / 1024:.0f} KB "
          f"(target < 2048 KB): {'holds' if result['index_under_2mb'] else 'DOES NOT HOLD'}")
    if "dask" in result:
        print(f"Dask bytes as local: {'yes' if result['dask']['same_bytes'] else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
