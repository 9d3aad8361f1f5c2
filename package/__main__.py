"""The `alb-mtls` component package: the components, served by Pulumi's component provider host.

Run by the Python language host as `python <this folder> <engine address>`; the schema is derived from the
components' annotations (their Args TypedDicts and the outputs annotated on each class).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project root, where components/ lives

from pulumi.provider.experimental import component_provider_host

from components.listener import MutualTlsListener
from components.pki import PACKAGE, CertificateAuthority, ClientCertificate, ServerCertificate

if __name__ == "__main__":
    component_provider_host(
        [MutualTlsListener, CertificateAuthority, ClientCertificate, ServerCertificate], name=PACKAGE, version="1.0.0"
    )
