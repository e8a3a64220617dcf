// Package install registers the whole virtualization group in a scheme.
package install

import (
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

// Install adds the internal and served versions, v1alpha2 preferred.
func Install(scheme *runtime.Scheme) {
	utilruntime.Must(virtualization.AddToScheme(scheme))
	utilruntime.Must(v1alpha2.AddToScheme(scheme))
	utilruntime.Must(scheme.SetVersionPriority(v1alpha2.SchemeGroupVersion))
}
