"""`pulumi-language-python` for the engine tests: a stand-in for Pulumi's Go language host.

Why it exists: the Go module of the real host (github.com/pulumi/pulumi/sdk/python/cmd/
pulumi-language-python/v3) is not served by the module proxy here (403 "This module version is not
available" for every pseudo-version, list and latest query), so `make engine` cannot build it. The
rest of the engine is real: the `pulumi` CLI and the Kubernetes provider are built from Go modules, and
the program itself is started by the real `pulumi-language-python-exec` script from the sdk/v3 module,
exactly as the Go host starts it.

What it does, following the Go host (sdk/python/cmd/pulumi-language-python/main.go):
- Run: `<virtualenv>/bin/python -u pulumi-language-python-exec --monitor … --engine … --project …
  --root_directory … --stack … --pwd … --dry_run … --parallel … --organization … <entry point>`, with
  the stack configuration in `PULUMI_CONFIG` / `PULUMI_CONFIG_SECRET_KEYS`; exit code 32 means "bail"
  (the program already printed an actionable error).
- RunPlugin (policy packs, component providers): `<virtualenv>/bin/python <plugin directory> <args>`
  in the requested directory, streaming stdout and stderr back, then the exit code.
- GetRequiredPackages / GetRequiredPlugins: the resource plugins of the installed `pulumi_*` packages
  (their `pulumi-plugin.json`).
- InstallDependencies: creates the virtualenv when missing and installs requirements.txt into it.
- About, GetProgramDependencies, GetPluginInfo, Handshake.
Only the `pip` toolchain is supported (the one this project uses). Test equipment: production uses
the real host that ships with the Pulumi CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from concurrent import futures
from pathlib import Path

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

CHECKOUT = Path(__file__).resolve().parents[2]
ENGINE_BIN = CHECKOUT / ".engine" / "bin"
BAIL_EXIT_CODE = 32
"""pulumi-language-python-exec (and @pulumi/pulumi's cmd/run) exits with this after printing a message the
user can act on."""

_PLUGINS_OF_INSTALLED_PACKAGES = """
import json, importlib.metadata as md
found = []
for dist in md.distributions():
    for file in dist.files or ():
        if file.name == "pulumi-plugin.json":
            data = json.loads(file.read_text())
            if data.get("resource"):
                found.append({"name": data["name"], "version": data.get("version") or dist.version,
                              "server": data.get("server", "")})
print(json.dumps(found))
"""


def virtualenv(info: language_pb2.ProgramInfo, default: str | None = None) -> Path | None:
    """The virtualenv of a program or plugin: its `virtualenv` runtime option, relative to its root."""
    options = dict(info.options.items()) if info.HasField("options") else {}
    toolchain = options.get("toolchain", "pip")
    if toolchain != "pip":
        raise ValueError(f"this stand-in language host supports the pip toolchain only, not {toolchain!r}")
    configured = options.get("virtualenv") or default
    if not configured:
        return None
    path = Path(configured)
    return path if path.is_absolute() else Path(info.root_directory or info.program_directory) / path


def python_command(venv: Path | None, *args: str) -> tuple[list[str], dict[str, str]]:
    """A command running `python args…` in `venv` (PATH and VIRTUAL_ENV set as the Go host does)."""
    env = dict(os.environ)
    # The launcher put the checkout on PYTHONPATH to import this host; the Go host it stands in for adds nothing,
    # so neither does it for the programs and plugins it starts.
    kept = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p).resolve() != CHECKOUT]
    env.pop("PYTHONPATH", None)
    if kept:
        env["PYTHONPATH"] = os.pathsep.join(kept)
    if venv is None:
        return [os.environ.get("PULUMI_PYTHON_CMD", "python3"), *args], env
    if not (venv / "bin" / "python").exists():
        raise FileNotFoundError(
            f"The 'virtualenv' option is set to {str(venv)!r}, but it is not a virtual environment: "
            f"run `python3 -m venv {venv}` and install requirements.txt into it"
        )
    env.pop("PYTHONHOME", None)
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return [str(venv / "bin" / "python"), *args], env


def _stream(command: list[str], env: dict[str, str], cwd: str | None, message: type):
    """Runs `command`, yielding `message(stdout=…)` / `message(stderr=…)` as output arrives, then its exit code."""
    process = subprocess.Popen(command, env=env, cwd=cwd or None, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    chunks: list = []
    done = threading.Condition()

    def pump(pipe, field: str) -> None:
        for data in iter(lambda: pipe.read1(65536), b""):
            with done:
                chunks.append(message(**{field: data}))
                done.notify()
        with done:
            chunks.append(None)
            done.notify()

    threads = [threading.Thread(target=pump, args=(process.stdout, "stdout"), daemon=True)]
    threads.append(threading.Thread(target=pump, args=(process.stderr, "stderr"), daemon=True))
    for thread in threads:
        thread.start()
    finished = 0
    while finished < len(threads):
        with done:
            while not chunks:
                done.wait()
            item = chunks.pop(0)
        if item is None:
            finished += 1
        else:
            yield item
    yield process.wait()


class HostBase(language_pb2_grpc.LanguageRuntimeServicer):
    """What both stand-in hosts (Python, Node.js) answer alike: the handshake, plugin info, cancel, and the
    required packages and plugins from `_required(info)` (name, version, server of each resource plugin)."""

    def __init__(self, engine_address: str, tracing: str | None):
        self.engine_address = engine_address
        self.tracing = tracing

    def Handshake(self, request, context):
        self.engine_address = request.engine_address or self.engine_address
        return language_pb2.LanguageHandshakeResponse()

    def GetPluginInfo(self, request, context):
        from importlib.metadata import version

        return plugin_pb2.PluginInfo(version=version("pulumi"))

    def _required(self, info: language_pb2.ProgramInfo) -> list[dict[str, str]]:
        raise NotImplementedError

    def GetRequiredPackages(self, request, context):
        packages = [plugin_pb2.PackageDependency(kind="resource", **p) for p in self._required(request.info)]
        return language_pb2.GetRequiredPackagesResponse(packages=packages)

    def GetRequiredPlugins(self, request, context):
        plugins = [plugin_pb2.PluginDependency(kind="resource", **p) for p in self._required(request.info)]
        return language_pb2.GetRequiredPluginsResponse(plugins=plugins)

    def Cancel(self, request, context):
        return empty_pb2.Empty()


class LanguageHost(HostBase):
    def __init__(self, engine_address: str, tracing: str | None):
        super().__init__(engine_address, tracing)
        # The real exec script, which engine/build.sh copies from the sdk/v3 module into .engine/bin.
        self.exec_script = ENGINE_BIN / "pulumi-language-python-exec"

    def _required(self, info: language_pb2.ProgramInfo) -> list[dict[str, str]]:
        command, env = python_command(virtualenv(info), "-c", _PLUGINS_OF_INSTALLED_PACKAGES)
        return json.loads(subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout)

    def Run(self, request, context):
        info = request.info
        args = [str(self.exec_script)]
        for flag, value in (
            ("monitor", request.monitor_address),
            ("engine", self.engine_address),
            ("project", request.project),
            ("root_directory", info.root_directory),
            ("stack", request.stack),
            ("pwd", request.pwd),
            ("dry_run", "true" if request.dryRun else "false"),
            ("parallel", str(request.parallel)),
            ("tracing", self.tracing or ""),
            ("organization", request.organization),
        ):
            if value:
                args += [f"--{flag}", value]
        args += [info.entry_point or ".", *request.args]
        try:
            command, env = python_command(virtualenv(info), "-u", *args)
        except (FileNotFoundError, ValueError) as error:
            return language_pb2.RunResponse(error=str(error))
        env.update(config_env(request))
        return run_response(subprocess.run(command, check=False, env=env, cwd=info.program_directory or None))

    def RunPlugin(self, request, context):
        command, env = python_command(virtualenv(request.info, default="venv"), request.info.program_directory)
        command += list(request.args)
        env.update(e.split("=", 1) for e in request.env if "=" in e)
        for item in _stream(command, env, request.pwd, language_pb2.RunPluginResponse):
            yield item if not isinstance(item, int) else language_pb2.RunPluginResponse(exitcode=item)

    def InstallDependencies(self, request, context):
        venv = virtualenv(request.info, default="venv" if request.is_plugin else None)
        program = Path(request.info.program_directory)
        yield language_pb2.InstallDependenciesResponse(stdout=b"Installing dependencies...\n\n")
        steps = []
        if venv is not None and not (venv / "bin" / "python").exists():
            steps.append([sys.executable, "-m", "venv", str(venv)])
        if (program / "requirements.txt").exists():
            python = str(venv / "bin" / "python") if venv is not None else sys.executable
            steps.append([python, "-m", "pip", "install", "-r", str(program / "requirements.txt")])
        for step in steps:
            yield from run_streamed(
                step, dict(os.environ), str(program), language_pb2.InstallDependenciesResponse, context
            )
        yield language_pb2.InstallDependenciesResponse(stdout=b"Finished installing dependencies\n\n")

    def About(self, request, context):
        command, env = python_command(virtualenv(request.info) if request.HasField("info") else None, "--version")
        version = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
        return language_pb2.AboutResponse(executable=command[0], version=version.strip().removeprefix("Python "))

    def GetProgramDependencies(self, request, context):
        listing = ["-m", "pip", "list", "--format=json"]
        if not request.transitiveDependencies:
            listing.append("--not-required")
        command, env = python_command(virtualenv(request.info), *listing)
        packages = json.loads(subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout)
        return language_pb2.GetProgramDependenciesResponse(
            dependencies=[language_pb2.DependencyInfo(name=p["name"], version=p["version"]) for p in packages]
        )


def serve(host: type, argv: list[str]) -> None:
    """Serves `host(engine_address, tracing)` as a language host plugin: prints its port, as plugins do."""
    tracing = None
    positional = []  # the engine's address comes last
    rest = iter(argv)
    for arg in rest:
        if arg in ("-tracing", "--tracing"):
            tracing = next(rest, None)
        elif arg.startswith("-"):
            continue  # -root, -logtostderr, -v=…: accepted and ignored, as flags this stand-in does not use
        else:
            positional.append(arg)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8), options=[("grpc.max_receive_message_length", 2**30)]
    )
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(host(positional[-1] if positional else "", tracing), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:  # the engine interrupts its plugins when it is done
        server.stop(grace=1)


def config_env(request: language_pb2.RunRequest) -> dict[str, str]:
    """The stack's configuration for the program, as both Go hosts hand it over: in its environment."""
    return {
        "PULUMI_CONFIG": json.dumps(dict(request.config)),
        "PULUMI_CONFIG_SECRET_KEYS": json.dumps(list(request.configSecretKeys)),
    }


def run_response(done: subprocess.CompletedProcess) -> language_pb2.RunResponse:
    """The answer to Run for a program that exited: bail on BAIL_EXIT_CODE (the program already printed an
    error the user can act on), as both Go hosts do."""
    if done.returncode == 0:
        return language_pb2.RunResponse()
    if done.returncode == BAIL_EXIT_CODE:
        return language_pb2.RunResponse(bail=True)
    return language_pb2.RunResponse(error=f"program exited with non-zero exit code: {done.returncode}")


def run_streamed(command: list[str], env: dict[str, str], cwd: str, message: type, context):
    """Yields `command`'s output as `message`s; aborts the call naming the command if it fails."""
    code = 0
    for item in _stream(command, env, cwd, message):
        if isinstance(item, int):
            code = item
        else:
            yield item
    if code != 0:
        context.abort(grpc.StatusCode.UNKNOWN, f"{' '.join(command)} exited with code {code}")


if __name__ == "__main__":
    serve(LanguageHost, sys.argv[1:])
