"""How the program's own cost grows with the number of clients (providers replaced by instant placeholders).

    python benchmarks/program_scale.py [--clients 10 100 1000] [--repeat 3] [--profile N]

Each measurement runs `__main__.py` under `pulumi.runtime.set_mocks` in a fresh child process, so
peak memory (max RSS) is that run's own. The mocks answer every resource at once with placeholder
outputs: what is measured is the program and the Pulumi SDK, not key generation. Prints a table:
wall time, resources registered, milliseconds per extra client, peak memory. `--profile N` runs
pyinstrument on one run with N clients instead.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PLACEHOLDER_PEM = "-----BEGIN CERTIFICATE-----\nplaceholder\n-----END CERTIFICATE-----\n"


def config_for(clients: int) -> dict:
    from tests.harness import BASE_CONFIG

    return {**BASE_CONFIG, "clients": [f"client-{i:05d}" for i in range(clients)]}


def instant_mocks():
    from tests.harness import StackMocks, secret

    class InstantMocks(StackMocks):
        """Every provider answers at once: placeholders instead of real keys and certificates."""

        def new_resource(self, args):
            if args.custom and args.typ.startswith("tls:index/"):
                outputs = {
                    **args.inputs,
                    "privateKeyPem": secret(PLACEHOLDER_PEM),
                    "certRequestPem": PLACEHOLDER_PEM,
                    "certPem": PLACEHOLDER_PEM,
                    "validityEndTime": "2036-01-01T00:00:00Z",
                }
                return f"{args.name}-id", outputs
            return super().new_resource(args)

    return InstantMocks()


def child(clients: int) -> None:
    """One measured run, in this process; prints a JSON line."""
    from tests.harness import run_program

    config = config_for(clients)
    started = time.perf_counter()
    run = run_program(config, mocks=instant_mocks())
    wall = time.perf_counter() - started
    assert len(run.outputs["clientCertificates"]) == clients
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps({"clients": clients, "wall_s": wall, "resources": len(run.resources), "peak_mib": peak_kib / 1024})
    )


def measure(clients: int, repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(clients)], capture_output=True, text=True, check=True, cwd=ROOT
        )
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {
        "clients": clients,
        "wall_s": statistics.median(r["wall_s"] for r in runs),
        "resources": runs[0]["resources"],
        "peak_mib": max(r["peak_mib"] for r in runs),
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| clients | resources | wall (s, median) | ms per extra client | peak memory (MiB) |",
        "|---:|---:|---:|---:|---:|",
    ]
    previous = None
    for row in rows:
        per_client = "–"
        if previous is not None:
            extra = row["clients"] - previous["clients"]
            per_client = f"{(row['wall_s'] - previous['wall_s']) * 1000 / extra:.2f}"
        lines.append(
            f"| {row['clients']} | {row['resources']} | {row['wall_s']:.2f} | {per_client} | {row['peak_mib']:.0f} |"
        )
        previous = row
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--profile", type=int, metavar="N", help="profile one run with N clients (pyinstrument)")
    args = parser.parse_args()
    if args.child is not None:
        child(args.child)
        return
    if args.profile is not None:
        from pyinstrument import Profiler

        from tests.harness import run_program

        with Profiler() as profiler:
            run_program(config_for(args.profile), mocks=instant_mocks())
        print(profiler.output_text(unicode=True, color=False, show_all=False))
        return
    rows = [measure(n, args.repeat) for n in sorted(args.clients)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(
        f"Program scale — {time.strftime('%Y-%m-%d')}, {platform.platform()}, Python {platform.python_version()}, "
        f"{args.repeat} runs each (median wall, max peak)\n"
    )
    print(table(rows))
    first, last = rows[0], rows[-1]
    slope = (last["wall_s"] - first["wall_s"]) * 1000 / max(last["clients"] - first["clients"], 1)
    print(
        f"\nOverall: {slope:.2f} ms per extra client between {first['clients']} and {last['clients']} clients "
        f"(target < 25 ms); {last['clients']} clients in {last['wall_s']:.1f} s (target < 30 s)."
    )


if __name__ == "__main__":
    main()
