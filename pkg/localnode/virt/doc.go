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
// # Live migration
//
// A VirtualMachineInstanceMigration (VMIM) moves a running guest to another node, as in
// KubeVirt, with the VMI's status.migrationState as the only channel between the controller
// and the two nodes:
//   - Pending: refused (Failed at once) unless the VMI is Running and LiveMigratable and no
//     other migration of it is in flight (of VMIMs created together, the oldest goes). The
//     VMIM gets the kubevirt.io/migrationJobFinalize finalizer: deleted before the guest is
//     sent, it fails ("cancelled") and then goes.
//   - Scheduling: a target launcher Pod, built as the VMI's launcher (same resources and
//     claims) plus the label kubevirt.io/migrationJobUID=<vmim uid>, the VMIM's
//     addedNodeSelector merged into its node selector (the VMI's values win) and a required
//     pod anti-affinity to the VMI's launcher Pods by hostname, so kube-scheduler places it
//     on another node. Unschedulable (a migrationTargetPodUnschedulable event) or not ready
//     for Config.Migration.TargetTimeout (2 min) fails the VMIM and deletes the Pod.
//   - Scheduled: the target node reported the Pod Running and Ready. The controller hands
//     the migration over: migrationState = migrationUid, sourceNode, sourcePod, targetNode,
//     targetPod; → PreparingTarget.
//   - The target node starts the incoming VM (qemu -incoming defer, then migrate-incoming on
//     127.0.0.1 and a port qemu picks, with the same machine description) and publishes it:
//     targetNodeAddress=127.0.0.1, targetDirectMigrationNodePorts={"<port>": 0}; →
//     TargetReady. The nodes must get this far within the same TargetTimeout.
//   - The source node writes startTimestamp and mode PreCopy (→ Running) and sends the guest
//     (QMP migrate, query-migrate polled every 50 ms, cancelled after Config.Migration.Timeout,
//     5 min). Completed: it writes completed and endTimestamp, kills its paused qemu (not a
//     guest end) and ends its Pod Succeeded with reason Migrated; an event on the VMI gives
//     qemu's total time, downtime and bytes sent. Failed: failed, failureReason and
//     endTimestamp; the guest runs on there.
//   - The target node, once completed is written and its qemu left "inmigrate", runs the
//     VMI: nodeName, activePods = the target Pod, targetNodeDomainDetected and
//     targetNodeDomainReadyTimestamp, sockets.json in its own VM directory, the guest agent
//     polled from there (KubeVirt.Sockets and QMP now answer on this node, so console, VNC
//     and port-forward go through it; streams open on the source end with its qemu). On a failed migration, or when its qemu ends first
//     (the stream broke), it kills the incoming VM and ends the target Pod Failed (reason
//     MigrationFailed).
//   - Succeeded once the VMI runs on the target node (a SuccessfulMigration event); Failed
//     otherwise, with status.migrationState.failureReason and a FailedMigration event. The
//     VMIM's status.migrationState is the VMI's for this migration (or, when it failed before
//     the hand-over, the reason, source node and target Pod).
//
// Running VMIs are LiveMigratable (condition True): their volumes are files on the storage
// all local nodes share, or read-only containerDisk images every node pulls. A runtime
// without MigratingRuntime makes it False (RuntimeNotLiveMigratable). The hollow runtime
// migrates at once without processes. Measured under TCG with the project's 256 MiB guest:
// qemu's transfer takes about 0.8 s (~120 MB sent) with 25-75 ms downtime, and the VMIM goes
// from creation to Succeeded in about 4 s.
//
// Not done by this stand-in: post-copy, migration policies and bandwidth limits, aborting a
// migration once the guest is being sent (a deleted VMIM then ends as the transfer does),
// hot-plug, EFI firmware, more than one NIC, the kubevirt.io/nodeName and
// kubevirt.io/migrationTargetNodeName labels. subresources.kubevirt.io is served by the local node
// around it (packages subresources and virtapi).
package virt
