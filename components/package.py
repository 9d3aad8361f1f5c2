"""The component package's plumbing: its name and the type tokens and aliases of its components."""

import pulumi

PACKAGE = "alb-mtls"
"""The component package (package/PulumiPlugin.yaml) that serves these components to every Pulumi language."""


def component_options(type_name: str, opts: pulumi.ResourceOptions | None) -> tuple[str, pulumi.ResourceOptions | None]:
    """The package's type token `alb-mtls:index:<type_name>`, and `opts` with an alias from the token the
    component had before it was a package (`alb-mtls:components:<type_name>`): existing stacks keep it."""
    alias = pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=f"{PACKAGE}:components:{type_name}")])
    return f"{PACKAGE}:index:{type_name}", pulumi.ResourceOptions.merge(alias, opts)


class ComponentInputError(pulumi.RunError, ValueError):
    """Inputs a component does not accept. A Python program stops with the message alone (no traceback); it is a
    ValueError too, for callers that catch bad values that way."""
