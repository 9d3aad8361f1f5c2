// Command pulumi-resource-kubernetes serves the real Kubernetes provider (test equipment built by
// `make engine`). The module's own main embeds generated schema files that its module zip lacks, so
// this main serves the provider package with the committed schema.json and terraform-mapping.json,
// which engine/build.sh copies next to this file from the module cache before building.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema.json
var pulumiSchema []byte

//go:embed terraform-mapping.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
