"""The `alb-mtls` component package: the components, served by Pulumi's component provider host.

Run by the Python language host as `python <this folder> <engine address>` with the project's virtualenv
(PulumiPlugin.yaml); the schema is derived from the components' annotations (their Args TypedDicts and the
outputs annotated on each class).

The components come from the `alb-mtls` distribution installed in that virtualenv (`make install`), never
from this folder's parent: the CA registration is a dynamic provider, which the engine runs as `python -m
pulumi.dynamic` in the consuming program's directory, where it imports `components.ca_registration` to
unpickle itself. So the package refuses to start, saying so, unless this checkout's `components` imports
from the interpreter's environment alone.
"""

import sys
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DISTRIBUTION = "alb-mtls"


def not_installed() -> str | None:
    """Why `components` would not import in the dynamic provider's process, or None when it will."""
    fix = f"run `make install` in {ROOT}"
    try:
        metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return (
            f"the {DISTRIBUTION} package needs the project installed in the Python it runs with ({sys.prefix}): {fix}"
        )
    spec = find_spec("components")
    found = Path(spec.origin).resolve().parent if spec and spec.origin else None
    if found != ROOT / "components":
        return f"the {DISTRIBUTION} package serves {ROOT / 'components'}, but {sys.prefix} imports {found}: {fix}"
    return None


def main() -> None:
    if problem := not_installed():
        sys.exit(problem)
    from pulumi.provider import main as serve
    from pulumi.provider.experimental.component import ComponentProvider
    from pulumi.provider.server import ComponentInitError

    from components.listener import MutualTlsListener
    from components.package import PACKAGE, ComponentInputError
    from components.pki import CertificateAuthority, ClientCertificate, ServerCertificate

    class Provider(ComponentProvider):
        """Pulumi's component provider, with refused inputs sent to the engine as their message alone (the host
        would append the component's stack trace)."""

        def construct(self, *args, **kwargs):
            try:
                return super().construct(*args, **kwargs)
            except ComponentInitError as error:
                if isinstance(error.inner, ComponentInputError):  # a RunError: the server passes it on as it is
                    raise error.inner from None
                raise

    components = [MutualTlsListener, CertificateAuthority, ClientCertificate, ServerCertificate]
    serve(Provider(components, PACKAGE, None, metadata.version(DISTRIBUTION)), sys.argv[1:])


if __name__ == "__main__":
    main()
