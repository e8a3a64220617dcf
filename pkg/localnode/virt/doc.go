// Package virt is the local node's stand-in for KubeVirt (virt-controller, virt-handler and
// virt-launcher) on one machine. The platform's controller creates VirtualMachineInstances
// (kubevirt.io/v1) exactly as on a cluster; here the local nodes answer them. It is never
// deployed to a cluster.
//
// # CRDs
//
// CRDs (crds.yaml) define KubeVirt's VirtualMachineInstance (vmi, vmis) and
// VirtualMachineInstanceMigration (vmim, vmims) kinds with KubeVirt's names and printer
// columns, spec and status kept as given. InstallCRDs installs them and waits until they are
// served.
//
// # virt-controller part
//
// One node at a time (Lease kube-system/local-node-virt-controller) creates a launcher Pod per
// VMI that is not final: virt-launcher-<vmi>-<5 chars>, controlled by the VMI, labelled
// kubevirt.io=virt-launcher, kubevirt.io/created-by=<vmi uid> and vm.kubevirt.io/name plus
// the VMI's labels, with the VMI's annotations (cni.cilium.io/ipAddress among them), its
// placement (nodeSelector, affinity, tolerations, topologySpreadConstraints, priority and
// scheduler), resources (memory raised to the guest's plus 64Mi) and one Pod volume per PVC or
// DataVolume volume, so the real kube-scheduler places it as it would place KubeVirt's. The
// VMI gets the kubevirt.io/foregroundDeleteVirtualMachine finalizer and goes Pending →
// Scheduling (with the scheduler's PodScheduled condition) → Scheduled (status.nodeName,
// activePods). A launcher Pod that disappears, or ends before its VM ran, fails the VMI. A
// deleted VMI that no node runs loses its Pods, then its finalizer.
//
// # virt-handler and launcher part
//
// Every node runs the VMs of the launcher Pods bound to it (the kubelet stand-in leaves those
// Pods alone) with a Runtime: QEMU (a qemu process per VM, package qemu) or Hollow (no process,
// as kubemark). The VM is described from the VMI (MachineSpec):
//   - disks in the VMI's order with their bootOrder and serial: disk and lun are virtio disks
//     (readonly honoured), cdrom a read-only CD; persistentVolumeClaim and dataVolume volumes
//     are the claim's file (<pv>.img for Block, disk.img in the directory of a Filesystem
//     volume, raw as CDI writes them); containerDisk images are pulled with their
//     imagePullSecret into <state-dir>/containerdisks/<digest> (the platform's disk layer, or
//     the one file under disk/ of a tar layer) and used read-only; cloudInitNoCloud (user and
//     network data inline, base64 or from a Secret's userdata/userData, networkdata/networkData;
//     meta-data instance-id = VMI UID, local-hostname = spec.hostname or the VMI's name) and
//     sysprep (a Secret or ConfigMap) become media the runtime attaches. Any other volume
//     fails the VMI (reason UnsupportedByLocalNode).
//   - CPU: spec.domain.cpu sockets, cores, threads, model and features (one socket per
//     requested CPU without a topology); memory spec.domain.memory.guest, else the memory
//     request or limit; the firmware UUID spec.domain.firmware.uuid, else the VMI's UID.
//   - network: one NIC on qemu's user-mode network. The guest's address is the VMI's
//     annotation cni.cilium.io/ipAddress, in the subnet of the annotation
//     localnode.virtplane.io/ip-prefix (e.g. 10.66.0.0/16) or else the /24 around it; the MAC
//     is the first interface's macAddress or one derived from the VMI's UID. Without the
//     address annotation the guest gets 10.0.2.15/24, qemu's default (each VM's user-mode
//     network is private, so they do not collide). Only the first interface is given.
//
// The launcher Pod then reports Running and Ready with an address of the node's Pod range,
// and the VMI Running: nodeName, Ready, interfaces (name of the first network or "default",
// the guest's address and MAC), currentCPUTopology, memory, qosClass,
// launcherContainerImageVersion, phaseTransitionTimestamps. A qemu VM's guest agent is polled
// every 5 s (each call bounded to 2 s): the AgentConnected condition, guestOSInfo, and the
// interface's addresses and guest name once the agent shows it. Statuses are written only when
// they change.
//
// A VM that ends by itself leaves its VMI Succeeded (guest poweroff) or Failed (crash), and
// the launcher Pod follows; nothing restarts it. A deleted VMI's guest gets an ACPI shutdown
// and terminationGracePeriodSeconds (default 30, 0 kills at once), then the VMI is
// Succeeded, the Pod terminated and deleted and the finalizer dropped. A deleted or evicted
// launcher Pod stops the VM the same way (grace of the deletion) and fails the VMI. VMs die
// with their node: after a restart, the VMIs it ran are Failed (reason NodeRestarted).
//
// A running VM's files are in <state-dir>/vms/<namespace>_<name>_<uid>/ (qemu's log, serial
// log, generated media, sockets and SocketsFile, the JSON of its Sockets); because unix socket
// paths are short, the runtime reaches it through the symlink <state-dir>/vms/s/<12 hex>.
// KubeVirt.Sockets gives the same paths in process, and KubeVirt.QMP the monitor connection
// the running machine holds (QEMU's QMP socket takes one client).
//
// The hollow runtime reads no volumes or Secrets, starts no goroutine per VM and writes one
// status per transition, so a node carries a thousand VMIs for control-plane benchmarks.
//
// Not done by this stand-in: live migration, hot-plug, EFI firmware, more than one NIC,
// the kubevirt.io/nodeName label. subresources.kubevirt.io is served by the local node
// around it (packages subresources and virtapi).
package virt
