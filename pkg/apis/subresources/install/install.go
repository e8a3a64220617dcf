// Package install registers the whole subresources group in a scheme.
package install

import (
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"

	"github.com/virtplane/virtplane/pkg/apis/subresources"
	"github.com/virtplane/virtplane/pkg/apis/subresources/v1alpha2"
)

// Install adds the internal version and v1alpha2.
func Install(scheme *runtime.Scheme) {
	utilruntime.Must(subresources.AddToScheme(scheme))
	utilruntime.Must(v1alpha2.AddToScheme(scheme))
	utilruntime.Must(scheme.SetVersionPriority(v1alpha2.SchemeGroupVersion))
}
