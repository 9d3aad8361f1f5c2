//go:build tools

// Package cli pins the Pulumi CLI that `make engine` builds (test equipment, not the program).
package cli

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
