//go:build tools

package tools

// kube-apiserver, kube-controller-manager and kube-scheduler are built straight from
// k8s.io/kubernetes (see hack/build-tools.sh).
import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
