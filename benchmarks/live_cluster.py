"""Memory and wall time of the live-cluster test: five control-plane processes and the stack on two cores.

    python benchmarks/live_cluster.py

Runs `tests/test_engine_cluster.py::test_stack_on_a_live_cluster` (etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and kwok started by the test, the ALB controller stand-in, and the
stack's preview, up, revoke, refresh, recreate and destroy through the real CLI and Kubernetes provider) under
pytest, and samples the memory of the whole process tree every 200 ms. Prints the wall time, the peak of
the tree's sum, and the peak of each program (the control plane's five, the CLI, the providers, nginx).
Results go into docs/benchmarks.md by hand. Needs `make engine`.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.engine_scale import sampled, tree_processes

TEST = "tests/test_engine_cluster.py::test_stack_on_a_live_cluster"
MIB = 1024 * 1024


def main() -> None:
    peak_total, peaks = 0, {}

    def sample(pid: int) -> None:
        nonlocal peak_total
        tree = tree_processes(pid)
        peak_total = max(peak_total, sum(rss for _, rss in tree.values()))
        by_program: dict[str, int] = {}
        for name, rss in tree.values():
            by_program[name] = by_program.get(name, 0) + rss
        for name, rss in by_program.items():
            peaks[name] = max(peaks.get(name, 0), rss)

    command = [str(ROOT / ".venv" / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", TEST]
    elapsed, _ = sampled(command, sample, 0.2, cwd=ROOT)
    print(f"live-cluster test: {elapsed:.0f} s wall, peak memory of the process tree {peak_total / MIB:.0f} MiB")
    print("| program | peak resident memory (MiB, all its processes) |")
    print("|---|---:|")
    for name, rss in sorted(peaks.items(), key=lambda item: -item[1])[:15]:
        print(f"| {name} | {rss / MIB:.0f} |")


if __name__ == "__main__":
    main()
