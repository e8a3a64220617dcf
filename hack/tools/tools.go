//go:build tools

package tools

// kube-apiserver and kube-controller-manager are built straight from k8s.io/kubernetes (see
// hack/build-tools.sh).
import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
