//go:build tools

// Package tools pins code generators in go.mod so hack/update-codegen.sh runs them at the
// module's versions.
package tools

import (
	_ "k8s.io/code-generator"
)
