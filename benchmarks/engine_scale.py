"""How `pulumi preview` and `pulumi up` scale with the number of clients, on the engine `make engine` builds.

    python benchmarks/engine_scale.py [--clients 10 100 1000] [--algorithm RSA|ECDSA] [--profile DIR]
                                        [--env NAME=VALUE ...]

For each size, in a fresh throw-away project and local backend (tests/engine/workspace.py): the dev
stack's settings with N clients, render mode into a temporary directory, the fake Certificate
Management endpoint on 127.0.0.1. It times `pulumi preview` and then `pulumi up --yes` (wall time),
and samples the memory of the whole process tree every 50 ms (the CLI, the language host, the program,
the Kubernetes provider, the tls and alicloud plugins and the dynamic provider): the peak of their sum
and the peak of the largest single process. Key generation is real (the tls plugin makes real keys),
so `up` includes it. Prints a table; results go into docs/benchmarks.md by hand.

`--profile DIR` also has the CLI write Go profiles of its `up` (`pulumi --profiling DIR/up-<N>`: CPU, heap
and an execution trace, `DIR/up-<N>.<pid>.{cpu,mem,trace}`), and prints the top allocation sites of the
heap profile (`go tool pprof -top -sample_index=alloc_space`): where the CLI's memory goes. `--env` sets
variables for every `pulumi` run (e.g. GOMEMLIMIT=1GiB, PULUMI_SKIP_CHECKPOINTS=true), which the workspace
otherwise keeps out.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.engine.workspace import ACCESS_KEY, ENGINE_BIN, EngineWorkspace
from tests.fake_cas import FakeCas

PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_processes(root_pid: int) -> dict[int, tuple[str, int]]:
    """pid -> (program, resident memory in bytes) of `root_pid` and its descendants."""
    children: dict[int, list[int]] = {}
    found: dict[int, tuple[str, int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            statm = Path(entry.path, "statm").read_text().split()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
        found[int(entry.name)] = (_program(entry.path), int(statm[1]) * PAGE)
    tree, todo = {}, [root_pid]
    while todo:
        pid = todo.pop()
        if pid in found:
            tree[pid] = found[pid]
        todo.extend(children.get(pid, []))
    return tree


def tree_rss(root_pid: int) -> tuple[int, int, str]:
    """(sum, largest, the largest's program) resident memory in bytes of `root_pid` and its descendants."""
    tree = tree_processes(root_pid).values()
    name, largest = max(tree, key=lambda item: item[1], default=("", 0))
    return sum(rss for _, rss in tree), largest, name


def _program(proc: str) -> str:
    """A short name for a process: the script a Python process runs, else the executable."""
    try:
        argv = Path(proc, "cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    words = [w.decode(errors="replace") for w in argv if w]
    if words and "python" in Path(words[0]).name and "-c" in words[1:2]:
        return "python -c"
    if words and "python" in Path(words[0]).name:
        words = [w for w in words[1:] if not w.startswith("-")] or words
        return Path(words[0]).name if words[0] != "-m" else words[1]
    return Path(words[0]).name if words else "?"


def sampled(command: list[str], on_sample, interval: float, **popen) -> tuple[float, str]:
    """Runs `command` (Popen keywords `popen`), calling `on_sample(pid)` every `interval` seconds while it
    runs; returns its wall seconds and output, or exits naming the command when it fails."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            on_sample(process.pid)
            time.sleep(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = process.communicate()
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"`{' '.join(command)}` failed:\n{output[-4000:]}")
    return elapsed, output


def measured(ws: EngineWorkspace, *args: str) -> tuple[float, int, int, str]:
    """Runs `pulumi ARGS`; returns wall seconds, peak tree memory, peak single-process memory and
    which process that was."""
    peaks: list = [0, 0, ""]

    def sample(pid: int) -> None:
        total, largest, name = tree_rss(pid)
        peaks[0] = max(peaks[0], total)
        if largest > peaks[1]:
            peaks[1], peaks[2] = largest, name

    command = [str(ENGINE_BIN / "pulumi"), *args, "--stack", ws.stack]
    elapsed, _ = sampled(command, sample, 0.05, cwd=ws.project, env=ws.env())
    return elapsed, peaks[0], peaks[1], peaks[2]


def one_size(clients: int, algorithm: str, profile: Path | None = None, env: dict[str, str] | None = None) -> dict:
    with tempfile.TemporaryDirectory() as tmp, FakeCas(credentials={ACCESS_KEY[0]: ACCESS_KEY[1]}) as fake:
        ws = EngineWorkspace(Path(tmp), extra_env=env or {})
        ws.pulumi("stack", "init", ws.stack)
        lines = [
            "pulumi config set domain coffee.example.com",
            "pulumi config set --path 'vswitchIds[0]' vsw-2zednnurkug2xl4aaaaaa",
            "pulumi config set --path 'vswitchIds[1]' vsw-2zeusdspvojoumxbbbbbb",
            "pulumi config set alicloud:region cn-hangzhou",
            f"pulumi config set --path 'alicloud:endpoints[0].cas' http://{fake.endpoint}",
            f"pulumi config set renderDirectory {tmp}/rendered",
            f"pulumi config set --path 'clientDefaults.algorithm' {algorithm}",
            "pulumi config set --path 'clientDefaults.ecdsaCurve' P256",
        ]
        done = ws.shell("\n".join(lines))
        if done.returncode != 0:
            raise SystemExit(done.stderr)
        # One `config set-all` call for the clients: a `config set` per client would dominate the setup.
        names = [f"client-{i:05d}" for i in range(clients)]
        ws.pulumi(
            "config",
            "set-all",
            "--path",
            *[a for i, n in enumerate(names) for a in ("--plaintext", f"clients[{i}]={n}")],
        )
        preview = measured(ws, "preview")
        profiling = ("--profiling", str(profile / f"up-{clients}")) if profile else ()
        up = measured(ws, "up", "--yes", "--skip-preview", *profiling)
        resources = len(ws.resources())
        return {"clients": clients, "resources": resources, "preview": preview, "up": up}


def print_allocations(profile: Path, clients: int) -> None:
    """The CLI's top allocation sites during `up` with `clients` clients (cumulative bytes allocated)."""
    for heap in sorted(profile.glob(f"up-{clients}.*.mem")):
        top = subprocess.run(
            [
                "go",
                "tool",
                "pprof",
                "-top",
                "-nodecount=25",
                "-sample_index=alloc_space",
                str(ENGINE_BIN / "pulumi"),
                str(heap),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        print(f"\n# {heap.name}: allocations of the CLI during up\n{top.stdout}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--algorithm", choices=("RSA", "ECDSA"), default="RSA")
    parser.add_argument("--profile", type=Path, help="write the CLI's Go profiles of each `up` here")
    parser.add_argument("--env", nargs="+", default=[], metavar="NAME=VALUE", help="environment of every run")
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    version = subprocess.run([str(ENGINE_BIN / "pulumi"), "version"], capture_output=True, text=True, check=True)
    print(f"# engine_scale: pulumi {version.stdout.strip()}, {platform.python_version()}, {os.cpu_count()} cores")
    print(f"# client keys: {args.algorithm}{' 2048' if args.algorithm == 'RSA' else ' P-256'}")
    if args.env:
        print(f"# environment: {' '.join(args.env)}")
    print(
        "| clients | resources | preview s | preview peak MiB (tree / largest) | up s "
        "| up peak MiB (tree / largest) | largest process in up |"
    )
    print("|---:|---:|---:|---:|---:|---:|---|")
    mib = 1 << 20
    for clients in args.clients:
        r = one_size(clients, args.algorithm, args.profile, dict(e.split("=", 1) for e in args.env))
        (ps, pt, pl, _), (us, ut, ul, un) = r["preview"], r["up"]
        print(
            f"| {clients} | {r['resources']} | {ps:.1f} | {pt / mib:.0f} / {pl / mib:.0f} | {us:.1f} | "
            f"{ut / mib:.0f} / {ul / mib:.0f} | {un} |",
            flush=True,
        )
        if args.profile:
            print_allocations(args.profile, clients)


if __name__ == "__main__":
    main()
