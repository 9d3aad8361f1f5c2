"""The alb-mtls policy pack: `pulumi preview --policy-pack policy` runs this file.

It only builds the pack; the policies live in `alb_mtls_policies.py`, where they can be imported and
tested (constructing a `PolicyPack` starts the analyzer's gRPC server and never returns).
"""

from alb_mtls_policies import PACK_NAME, POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(name=PACK_NAME, enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)
