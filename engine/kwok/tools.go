//go:build tools

// The command engine/build.sh builds from this module.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
