"""The `alb-mtls` component package: the components, served by Pulumi's component provider host.

Run by the Python language host as `python <this folder> <engine address>`; the schema is derived from the
components' annotations (their Args TypedDicts and the outputs annotated on each class).

The CA registration is a dynamic provider, which the engine runs as `python -m pulumi.dynamic` in the
consuming program's directory, where it must import `components.ca_registration` to unpickle itself: `make
install` puts the project root on the virtualenv's path (`alb_mtls_package.pth`); the package refuses to
start, saying so, when that is missing.
"""

import site
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pulumi.provider.experimental import component_provider_host

from components.listener import MutualTlsListener
from components.package import PACKAGE
from components.pki import CertificateAuthority, ClientCertificate, ServerCertificate

PTH = "alb_mtls_package.pth"


def importable_everywhere() -> str | None:
    """Why `components` would not import in the dynamic provider's process, or None when it will."""
    if sys.prefix == sys.base_prefix:
        return f"the alb-mtls package must run in the project's virtualenv ({ROOT / '.venv'}), not {sys.prefix}"
    pth = Path(site.getsitepackages()[0]) / PTH
    if not pth.exists() or pth.read_text().strip() != str(ROOT):
        return f"the alb-mtls package needs `make install` in {ROOT} (it puts the project on the virtualenv's path)"
    return None


if __name__ == "__main__":
    if problem := importable_everywhere():
        sys.exit(problem)
    component_provider_host(
        [MutualTlsListener, CertificateAuthority, ClientCertificate, ServerCertificate], name=PACKAGE, version="1.0.0"
    )
