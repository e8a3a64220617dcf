// Package localnode is a stand-in for a Kubernetes node on one machine: it plays the kubelet,
// a CSI driver and KubeVirt (package virt) for the local stack (`make run`) and the
// end-to-end tests. It is never deployed to a cluster, and nothing else in the project may
// depend on it: the controller and the API server only talk Kubernetes APIs, which a real
// cluster answers with a real kubelet, CSI driver and KubeVirt.
//
// Like kubemark's hollow kubelet and KubeVirt's virt-handler, a local node is a controller:
// informers on the objects bound to its node, a rate-limited work queue, status written back,
// and a Runtime behind it that runs containers (ProcessRuntime runs them as host processes).
//
// # Node
//
// Run registers a Node (hostname/os/arch labels plus extra ones, capacity, Ready condition,
// InternalIP 127.0.0.1), renews its Lease in kube-node-lease every 10 s as the kubelet does and
// writes the node status every minute. Spec (cordon, taints) belongs to the user, except the
// node.kubernetes.io/not-ready taint admission puts on a new Node: the node lifecycle
// controller would remove it on a cluster, and the local stack does not run it.
//
// # Storage
//
// With Config.Provisioner, the node competes for a Lease and, while it leads, provisions
// PersistentVolumes for the provisioner ProvisionerName with
// sigs.k8s.io/sig-storage-lib-external-provisioner and grows them when a claim asks for more
// (as external-resizer plus the kubelet's expansion would). Volumes are files on one machine,
// i.e. shared storage, so PVs carry no node affinity and every access mode is offered:
//   - volumeMode Block: <volumes-dir>/<pv-name>.img, a sparse file of the requested size;
//   - volumeMode Filesystem: the directory <volumes-dir>/<pv-name>/ (whoever uses it writes
//     disk.img inside; the capacity is informational).
//
// The reclaim policy Delete removes the file or directory.
//
// # Pods
//
// The node runs the Pods bound to it whose every container image names one of this project's
// programs: the last path element of the image repository, without tag or digest, must be an
// executable file in the bin directory (virtplane/virtualization-importer:dev runs
// <bin>/virtualization-importer). Any other image is refused: the container waits with the
// reason ImageNotRunnableOnLocalNode and nothing of the Pod runs.
//
// Each Pod gets its own loopback address, unique across nodes: node index i hands out
// 127.(10+i).x.y (Linux routes all of 127.0.0.0/8 to lo, so programs can bind it), set as
// status.podIP; status.hostIP is 127.0.0.1.
//
// Processes share the host's filesystem, so container paths are translated — the only
// difference from a kubelet that programs see. For every volumeMount (its directory on the
// host) and volumeDevice (devicePath → the volume's file), and for the termination message
// path, an argument or environment value that equals the container path, or starts with it
// followed by "/", is rewritten to the host path. Other paths (e.g. a path put in a file) are
// not. Besides, every container gets the environment variable IMPORTER_TERMINATION_MESSAGE_PATH
// set to the host path of its terminationMessagePath (a file in the Pod's directory), which
// the importer prefers to the container path; what the program writes there becomes the
// terminated state's message.
//
// A Pod's directory is <state-dir>/<node>/pods/<pod-uid>: the working directory of its
// processes, their logs (<container>.log), emptyDir, secret and configMap volumes and
// termination messages.
//
// # KubeVirt
//
// With Config.KubeVirt (--kubevirt, on by default) the node also stands in for KubeVirt, see
// package virt: launcher Pods (label kubevirt.io=virt-launcher, image virt-launcher) run no
// process here; their VMs run with Config.VMRuntime (--runtime=qemu or hollow) and their
// addresses come from the node's Pod range. The KubeVirt CRDs must be installed first
// (virt.InstallCRDs). VirtualMachineInstanceMigrations live-migrate VMs between the nodes;
// Config.Migration (--migration-target-timeout, --migration-timeout) bounds them.
//
// # Streams: KubeVirt's subresources.kubevirt.io
//
// With Config.Handler (--handler-tls-*) the node serves the console, VNC and port-forward
// streams of its VMs (package subresources) on a loopback TLS listener that requires client
// certificates from the handler CA, as KubeVirt's virt-handler does for virt-api, and
// publishes its address in the Node annotation virtapi.HandlerAddressAnnotation
// (localnode.virtplane.io/handler-address). With Config.VirtAPI (--virt-api-*) one node also
// plays virt-api (package virtapi): it serves subresources.kubevirt.io/v1 to kube-apiserver
// behind the APIService v1.subresources.kubevirt.io, authenticates the front proxy, checks
// callers with SubjectAccessReviews, and passes each stream on to the handler of the VMI's
// node.
package localnode

// ProvisionerName is the provisioner of the local StorageClasses.
const ProvisionerName = "local.virtplane.io"

// Annotations the local StorageClasses carry: the access and volume modes the storage offers,
// which the virtualization controller reads to pick a PVC's modes (it defines the same keys).
const (
	AnnotationAccessModes = "virtualization.deckhouse.io/access-modes"
	AnnotationVolumeModes = "virtualization.deckhouse.io/volume-modes"
)
