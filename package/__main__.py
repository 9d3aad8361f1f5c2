"""The `alb-mtls` component package: the components, served by Pulumi's component provider host.

Run by the Python language host as `python <this folder> <engine address>`; the schema is derived from the
components' annotations (their Args TypedDicts and the outputs annotated on each class).

The project root goes on the path of the package's virtualenv (a `.pth` file, written once): the CA
registration is a dynamic provider, which the engine runs as `python -m pulumi.dynamic` in the consuming
program's directory, where it must import `components.ca_registration` to unpickle itself.
"""

import site
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pulumi.provider.experimental import component_provider_host

from components.listener import MutualTlsListener
from components.pki import PACKAGE, CertificateAuthority, ClientCertificate, ServerCertificate


def make_importable() -> None:
    """`components` importable by every Python of this virtualenv, whatever its working directory."""
    pth = Path(site.getsitepackages()[0]) / "alb_mtls_package.pth"
    if sys.prefix != sys.base_prefix and (not pth.exists() or pth.read_text().strip() != str(ROOT)):
        pth.write_text(f"{ROOT}\n")


if __name__ == "__main__":
    make_importable()
    component_provider_host(
        [MutualTlsListener, CertificateAuthority, ClientCertificate, ServerCertificate], name=PACKAGE, version="1.0.0"
    )
