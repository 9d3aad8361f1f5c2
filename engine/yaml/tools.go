//go:build tools

// Package tools pins github.com/pulumi/pulumi-yaml, whose cmd/pulumi-language-yaml `make engine` builds
// into .engine/bin (test equipment: the YAML language host the examples/yaml stack runs with).
package tools

import _ "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml"
