package localnode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/sig-storage-lib-external-provisioner/v13/controller"
)

// volumeAttributePath is the CSI volume attribute that records the volume's host path, so a
// reader of the PV sees where its data is.
const volumeAttributePath = "path"

// Leader election of the provisioner: one Lease for all local nodes.
const (
	provisionerLeaseNamespace = "kube-system"
	provisionerLeaseName      = "local.virtplane.io-provisioner"
)

// FileProvisioner provisions and deletes volumes as files (Block) or directories
// (Filesystem) under one directory shared by all nodes.
type FileProvisioner struct {
	// Dir is the volumes directory.
	Dir string
}

var _ controller.BlockProvisioner = (*FileProvisioner)(nil)

// SupportsBlock implements controller.BlockProvisioner: block volumes are files.
func (p *FileProvisioner) SupportsBlock(context.Context) bool { return true }

// Provision implements controller.Provisioner.
func (p *FileProvisioner) Provision(ctx context.Context, o controller.ProvisionOptions) (*corev1.PersistentVolume, controller.ProvisioningState, error) {
	if ds := o.PVC.Spec.DataSourceRef; ds != nil || o.PVC.Spec.DataSource != nil {
		return nil, controller.ProvisioningFinished, fmt.Errorf("claims with a data source are not supported by the local provisioner (a stand-in)")
	}
	size := o.PVC.Spec.Resources.Requests[corev1.ResourceStorage]
	if size.IsZero() {
		return nil, controller.ProvisioningFinished, fmt.Errorf("claim %s/%s requests no storage", o.PVC.Namespace, o.PVC.Name)
	}
	mode := ptr.Deref(o.PVC.Spec.VolumeMode, corev1.PersistentVolumeFilesystem)
	path := VolumePath(p.Dir, o.PVName, mode)
	if mode == corev1.PersistentVolumeBlock {
		if err := growFile(path, size.Value()); err != nil {
			return nil, controller.ProvisioningInBackground, err
		}
	} else if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, controller.ProvisioningInBackground, fmt.Errorf("creating volume directory %s: %w", path, err)
	}
	klog.FromContext(ctx).Info("Volume provisioned", "pv", o.PVName, "claim", klog.KObj(o.PVC), "path", path, "size", size.String(), "mode", mode)
	reclaim := corev1.PersistentVolumeReclaimDelete
	var mountOptions []string
	if o.StorageClass != nil {
		reclaim = ptr.Deref(o.StorageClass.ReclaimPolicy, reclaim)
		mountOptions = o.StorageClass.MountOptions
	}
	// No node affinity: every node reaches the files (shared storage).
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: o.PVName},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   o.PVC.Spec.AccessModes,
			VolumeMode:                    &mode,
			PersistentVolumeReclaimPolicy: reclaim,
			MountOptions:                  mountOptions,
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{
				Driver:           ProvisionerName,
				VolumeHandle:     o.PVName,
				VolumeAttributes: map[string]string{volumeAttributePath: path},
			}},
		},
	}, controller.ProvisioningFinished, nil
}

// Delete implements controller.Provisioner.
func (p *FileProvisioner) Delete(ctx context.Context, pv *corev1.PersistentVolume) error {
	path := VolumePath(p.Dir, pv.Name, ptr.Deref(pv.Spec.VolumeMode, corev1.PersistentVolumeFilesystem))
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("removing volume %s: %w", path, err)
	}
	klog.FromContext(ctx).Info("Volume deleted", "pv", pv.Name, "path", path)
	return nil
}

// growFile makes path a sparse file of at least size bytes; it never shrinks it.
func growFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("opening volume file %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("reading volume file %s: %w", path, err)
	}
	if fi.Size() >= size {
		return nil
	}
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("growing volume file %s to %d bytes: %w", path, size, err)
	}
	return nil
}

// runStorage competes for the provisioner Lease and, while it leads, runs the provisioner and
// the resizer. Leadership lost means stop and compete again; ctx ending means stop.
func (n *Node) runStorage(ctx context.Context) {
	logger := klog.FromContext(ctx).WithValues("provisioner", ProvisionerName)
	for ctx.Err() == nil {
		lock, err := resourcelock.New(resourcelock.LeasesResourceLock, provisionerLeaseNamespace, provisionerLeaseName,
			n.client.CoreV1(), n.client.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: n.cfg.NodeName})
		if err != nil {
			logger.Error(err, "Creating the provisioner lock")
			return
		}
		// Not the library's own election: it exits the process when leadership ends, which
		// would also end the node's Pods.
		leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
			Lock:            lock,
			LeaseDuration:   15 * time.Second,
			RenewDeadline:   10 * time.Second,
			RetryPeriod:     2 * time.Second,
			ReleaseOnCancel: true,
			Name:            provisionerLeaseName,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) {
					logger.Info("Leading: provisioning volumes", "dir", n.cfg.VolumesDir)
					n.provisionAndResize(ctx)
				},
				OnStoppedLeading: func() { logger.Info("No longer provisioning volumes") },
			},
		})
	}
}

// provisionAndResize runs the provisioner library and the resizer until ctx ends.
func (n *Node) provisionAndResize(ctx context.Context) {
	var wg sync.WaitGroup
	pc := controller.NewProvisionController(ctx, n.client, ProvisionerName, &FileProvisioner{Dir: n.cfg.VolumesDir},
		controller.LeaderElection(false),
		// The failure backoff starts at 15 s by default; a local stack wants answers sooner.
		controller.ExponentialBackOffOnError(false),
		controller.FailedProvisionThreshold(0),
	)
	pc.ControllerWaitGroup(&wg)
	r := &resizer{client: n.client, dir: n.cfg.VolumesDir, recorder: n.recorder}
	wg.Add(1)
	go func() { defer wg.Done(); r.run(ctx) }()
	pc.Run(ctx)
	wg.Wait()
}

// claimSize is what a claim asks for.
func claimSize(pvc *corev1.PersistentVolumeClaim) resource.Quantity {
	return pvc.Spec.Resources.Requests[corev1.ResourceStorage]
}

var errNotOurs = errors.New("not a volume of " + ProvisionerName)
