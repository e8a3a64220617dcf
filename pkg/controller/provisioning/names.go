// Package provisioning holds what the image and disk controllers share: importer Pods built
// to the contract in pkg/importer, their observation (start failures, progress, results),
// DVCR tokens, storage class resolution, expectations and the in-use index of VMs.
package provisioning

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Labels and annotations on the objects the controller creates. The labels let one
// informer (filtered on ManagedByLabel) serve every controller and let cluster-scoped owners,
// which cannot own namespaced Pods, find theirs.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "virtualization-controller"
	// OwnerKindLabel is "VirtualImage", "ClusterVirtualImage" or "VirtualDisk".
	OwnerKindLabel = "virtualization.deckhouse.io/owner-kind"
	// OwnerNameLabel is the owner's name when it fits a label value (informational only).
	OwnerNameLabel = "virtualization.deckhouse.io/owner-name"
	// OwnerUIDLabel is the owner's UID: the reliable link back.
	OwnerUIDLabel = "virtualization.deckhouse.io/owner-uid"
	// GenerationLabel is the owner's metadata.generation the Pod was made for; a Pod of an
	// older generation is stale and is deleted.
	GenerationLabel = "virtualization.deckhouse.io/owner-generation"
	// StepLabel is the provisioning step: import, upload or fill.
	StepLabel = "virtualization.deckhouse.io/step"
	// OwnerKeyAnnotation is the owner's work-queue key (namespace/name or name), which may be
	// longer than a label value allows.
	OwnerKeyAnnotation = "virtualization.deckhouse.io/owner-key"
)

// Finalizers.
const (
	// CleanupFinalizer stays until the controller has deleted the object's Pods (and, for
	// cluster-scoped images, the Secrets copied for them). DVCR images are not deleted here:
	// "dvcr gc" removes images no object refers to, which also covers objects deleted while
	// the controller was down.
	CleanupFinalizer = "virtualization.deckhouse.io/cleanup"
	// ProtectionFinalizer stays while a VirtualMachine refers to the object, so deleting an
	// image or disk in use leaves it Terminating instead of pulling it from under the VM.
	ProtectionFinalizer = "virtualization.deckhouse.io/in-use-protection"
)

// Steps of provisioning; each runs in its own Pod.
const (
	StepImport = "import"
	StepUpload = "upload"
	StepFill   = "fill"
)

// Kind prefixes of object names (Pods and PVCs).
const (
	PrefixVI  = "vi"
	PrefixCVI = "cvi"
	PrefixVD  = "vd"
)

// PodName is deterministic in the owner's kind, name, UID and generation, so a second sync
// finds the Pod the first one created instead of making another, and a spec edit (a new
// generation) gets a fresh Pod. The name is cut to stay a valid DNS label.
func PodName(prefix, name string, uid types.UID, generation int64, step string) string {
	suffix := "-" + uidPrefix(uid) + "-g" + strconv.FormatInt(generation, 10) + "-" + step
	return prefix + "-" + trimName(name, validation.DNS1123LabelMaxLength-len(prefix)-1-len(suffix)) + suffix
}

// PVCName is the PVC of a disk or of a PVC-stored image: <prefix>-<name>-<uid>.
func PVCName(prefix, name string, uid types.UID) string {
	return fmt.Sprintf("%s-%s-%s", prefix, name, uid)
}

// OwnerLabels are the labels of a Pod working for the owner.
func OwnerLabels(kind, name string, uid types.UID, generation int64, step string) map[string]string {
	l := map[string]string{
		ManagedByLabel:  ManagedByValue,
		OwnerKindLabel:  kind,
		OwnerUIDLabel:   string(uid),
		GenerationLabel: strconv.FormatInt(generation, 10),
		StepLabel:       step,
	}
	if len(validation.IsValidLabelValue(name)) == 0 {
		l[OwnerNameLabel] = name
	}
	return l
}

func uidPrefix(uid types.UID) string {
	s := strings.ReplaceAll(string(uid), "-", "")
	if len(s) > 8 {
		s = s[:8]
	}
	return s
}

func trimName(name string, max int) string {
	if len(name) <= max {
		return name
	}
	return strings.TrimRight(name[:max], "-.")
}
