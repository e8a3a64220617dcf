package localnode_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	kvv1 "kubevirt.io/api/core/v1"

	"github.com/virtplane/virtplane/pkg/localnode"
	"github.com/virtplane/virtplane/pkg/localnode/virt"
)

// migrationTargetTimeout is the tests' bound on an unschedulable migration target.
const migrationTargetTimeout = 10 * time.Second

// withMigrationTimeout bounds every node's migration targets to migrationTargetTimeout.
func withMigrationTimeout(e *virtEnv, cfg *localnode.Config) {
	cfg.Migration.TargetTimeout = migrationTargetTimeout
}

// startNode2 runs node-2 beside node-1, configured as node-1 is.
func (e *virtEnv) startNode2(t *testing.T, rt virt.Runtime) (*localnode.Node, string) {
	t.Helper()
	dir := filepath.Join(filepath.Dir(e.nodeDir), "node-2")
	node, _ := e.runNode(t, localnode.Config{NodeName: "node-2", StateDir: dir, VolumesDir: e.volumes,
		BinDir: filepath.Join(dir, "bin"), PodIPIndex: 2, KubeVirt: e.kv, VMRuntime: rt})
	return node, dir
}

// migrate creates a VirtualMachineInstanceMigration of the VMI, as the platform's controller
// (or `kubectl create`) would.
func (e *virtEnv) migrate(t *testing.T, vmi string, addedNodeSelector map[string]string) *kvv1.VirtualMachineInstanceMigration {
	t.Helper()
	m := &kvv1.VirtualMachineInstanceMigration{
		ObjectMeta: metav1.ObjectMeta{GenerateName: vmi + "-migration-", Namespace: "default"},
		Spec:       kvv1.VirtualMachineInstanceMigrationSpec{VMIName: vmi, AddedNodeSelector: addedNodeSelector},
	}
	m, err := e.kv.VirtualMachineInstanceMigrations("default").Create(e.ctx, m, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// waitMigration waits until the migration ended and returns it.
func (e *virtEnv) waitMigration(t *testing.T, name string, timeout time.Duration) *kvv1.VirtualMachineInstanceMigration {
	t.Helper()
	var m *kvv1.VirtualMachineInstanceMigration
	eventually(t, timeout, "migration "+name+" ended", func() (bool, string) {
		var err error
		if m, err = e.kv.VirtualMachineInstanceMigrations("default").Get(e.ctx, name, metav1.GetOptions{}); err != nil {
			return false, err.Error()
		}
		return m.IsFinal(), fmt.Sprintf("phase %q %+v", m.Status.Phase, m.Status.MigrationState)
	})
	return m
}

// waitMigrationPhase waits until the migration is in phase.
func (e *virtEnv) waitMigrationPhase(t *testing.T, name string, phase kvv1.VirtualMachineInstanceMigrationPhase) {
	t.Helper()
	eventually(t, 30*time.Second, "migration "+name+" "+string(phase), func() (bool, string) {
		m, err := e.kv.VirtualMachineInstanceMigrations("default").Get(e.ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return m.Status.Phase == phase, string(m.Status.Phase)
	})
}

// migrationPhases lists the phases the migration went through.
func migrationPhases(m *kvv1.VirtualMachineInstanceMigration) []kvv1.VirtualMachineInstanceMigrationPhase {
	var out []kvv1.VirtualMachineInstanceMigrationPhase
	for _, p := range m.Status.PhaseTransitionTimestamps {
		out = append(out, p.Phase)
	}
	return out
}

var succeededPhases = []kvv1.VirtualMachineInstanceMigrationPhase{kvv1.MigrationPending, kvv1.MigrationScheduling,
	kvv1.MigrationScheduled, kvv1.MigrationPreparingTarget, kvv1.MigrationTargetReady, kvv1.MigrationRunning, kvv1.MigrationSucceeded}

func otherNode(node string) string {
	if node == "node-1" {
		return "node-2"
	}
	return "node-1"
}

// checkMigrated checks what a user sees after a migration of vmi from source succeeded: the
// migration went through every phase; the VMI runs on the other node with its migration
// state filled; the target Pod is its launcher and the source Pod completed.
func (e *virtEnv) checkMigrated(t *testing.T, m *kvv1.VirtualMachineInstanceMigration, source string) *kvv1.VirtualMachineInstance {
	t.Helper()
	target := otherNode(source)
	if m.Status.Phase != kvv1.MigrationSucceeded {
		t.Fatalf("migration %s: %s %+v", m.Name, m.Status.Phase, m.Status.MigrationState)
	}
	if got := migrationPhases(m); !slices.Equal(got, succeededPhases) {
		t.Errorf("migration phases %v, want %v", got, succeededPhases)
	}
	vmi, err := e.vmi(t, m.Spec.VMIName)
	if err != nil {
		t.Fatal(err)
	}
	ms := vmi.Status.MigrationState
	if vmi.Status.Phase != kvv1.Running || vmi.Status.NodeName != target || ms == nil {
		t.Fatalf("VMI after the migration: %s on %q, migrationState %+v", vmi.Status.Phase, vmi.Status.NodeName, ms)
	}
	if ms.MigrationUID != m.UID || ms.SourceNode != source || ms.TargetNode != target || !ms.Completed || ms.Failed ||
		ms.StartTimestamp == nil || ms.EndTimestamp == nil || ms.EndTimestamp.Before(ms.StartTimestamp) ||
		ms.TargetNodeAddress == "" || len(ms.TargetDirectMigrationNodePorts) == 0 || ms.Mode != kvv1.MigrationPreCopy {
		t.Errorf("VMI migrationState %+v", ms)
	}
	if mms := m.Status.MigrationState; mms == nil || mms.MigrationUID != m.UID || !mms.Completed {
		t.Errorf("migration's migrationState %+v", mms)
	}
	if c := vmiCondition(vmi, kvv1.VirtualMachineInstanceIsMigratable); c == nil || c.Status != corev1.ConditionTrue {
		t.Errorf("LiveMigratable %+v", c)
	}
	for _, p := range e.launcherPods(t, vmi) {
		switch p.Name {
		case ms.SourcePod:
			if p.Spec.NodeName != source || p.Status.Phase != corev1.PodSucceeded {
				t.Errorf("source pod %s on %s: %s %s", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.Message)
			}
		case ms.TargetPod:
			if p.Spec.NodeName != target || p.Status.Phase != corev1.PodRunning || p.Labels[kvv1.MigrationJobLabel] != string(m.UID) {
				t.Errorf("target pod %s on %s: %s, labels %v", p.Name, p.Spec.NodeName, p.Status.Phase, p.Labels)
			}
			if _, active := vmi.Status.ActivePods[p.UID]; !active || len(vmi.Status.ActivePods) != 1 {
				t.Errorf("active pods %v, want the target pod %s", vmi.Status.ActivePods, p.Name)
			}
		}
	}
	return vmi
}

// checkFailed checks a migration Failed with a reason containing want, and left the VMI
// running where it ran, with no target Pod left running.
func (e *virtEnv) checkFailed(t *testing.T, m *kvv1.VirtualMachineInstanceMigration, want, node string) {
	t.Helper()
	if m.Status.Phase != kvv1.MigrationFailed || m.Status.MigrationState == nil ||
		!m.Status.MigrationState.Failed || !strings.Contains(m.Status.MigrationState.FailureReason, want) {
		t.Errorf("migration %s: %s %+v, want Failed with %q", m.Name, m.Status.Phase, m.Status.MigrationState, want)
	}
	vmi, err := e.vmi(t, m.Spec.VMIName)
	if err != nil {
		t.Fatal(err)
	}
	if vmi.Status.Phase == kvv1.Running && vmi.Status.NodeName != node {
		t.Errorf("VMI %s moved to %q", vmi.Name, vmi.Status.NodeName)
	}
	eventually(t, 30*time.Second, "no target pod of "+m.Name+" running", func() (bool, string) {
		for _, p := range e.launcherPods(t, vmi) {
			if p.Labels[kvv1.MigrationJobLabel] == string(m.UID) && p.Status.Phase != corev1.PodFailed {
				return false, fmt.Sprintf("%s on %q: %s", p.Name, p.Spec.NodeName, p.Status.Phase)
			}
		}
		return true, ""
	})
}

// TestLiveMigrationHollow: with two hollow nodes and the real kube-scheduler, a Running VMI
// with a claim migrates to the other node and back; a migration whose addedNodeSelector no
// node matches fails after the target timeout, and a second migration while it is in flight
// is refused at once, both leaving the VMI where it ran; a VMI that is not running does not
// migrate; a deleted migration goes.
func TestLiveMigrationHollow(t *testing.T) {
	e := startVirtEnv(t, virt.Hollow{}, 4*time.Minute, withMigrationTimeout)
	e.startNode2(t, virt.Hollow{})
	e.createClaim(t, "mover-root", "local-wffc", corev1.PersistentVolumeFilesystem, "16Mi")

	vmi := testVMI("mover", "128Mi")
	vmi.Spec.Domain.Devices.Disks = []kvv1.Disk{{Name: "root", DiskDevice: kvv1.DiskDevice{Disk: &kvv1.DiskTarget{Bus: "virtio"}}}}
	vmi.Spec.Volumes = []kvv1.Volume{{Name: "root", VolumeSource: kvv1.VolumeSource{PersistentVolumeClaim: &kvv1.PersistentVolumeClaimVolumeSource{
		PersistentVolumeClaimVolumeSource: corev1.PersistentVolumeClaimVolumeSource{ClaimName: "mover-root"}}}}}
	e.createVMI(t, vmi)
	vmi = e.waitPhase(t, "mover", kvv1.Running, "", time.Minute)
	if c := vmiCondition(vmi, kvv1.VirtualMachineInstanceIsMigratable); c == nil || c.Status != corev1.ConditionTrue {
		t.Fatalf("LiveMigratable %+v", c)
	}
	first := vmi.Status.NodeName

	// No node matches: the target Pod stays unschedulable; meanwhile another migration of
	// the VMI is refused.
	nowhere := e.migrate(t, "mover", map[string]string{"topology.kubernetes.io/zone": "nowhere"})
	e.waitMigrationPhase(t, nowhere.Name, kvv1.MigrationScheduling)
	second := e.migrate(t, "mover", nil)
	e.checkFailed(t, e.waitMigration(t, second.Name, 30*time.Second), "is migrating already", first)
	e.checkFailed(t, e.waitMigration(t, nowhere.Name, migrationTargetTimeout+30*time.Second), "no node can take the VM", first)

	// A migration deleted before the guest is sent is cancelled, and goes with its target Pod.
	cancelled := e.migrate(t, "mover", map[string]string{"topology.kubernetes.io/zone": "nowhere"})
	e.waitMigrationPhase(t, cancelled.Name, kvv1.MigrationScheduling)
	if err := e.kv.VirtualMachineInstanceMigrations("default").Delete(e.ctx, cancelled.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "migration "+cancelled.Name+" and its target pod gone", func() (bool, string) {
		_, err := e.kv.VirtualMachineInstanceMigrations("default").Get(e.ctx, cancelled.Name, metav1.GetOptions{})
		pods := 0
		for _, p := range e.launcherPods(t, vmi) {
			if p.Labels[kvv1.MigrationJobLabel] == string(cancelled.UID) {
				pods++
			}
		}
		return apierrors.IsNotFound(err) && pods == 0, fmt.Sprintf("%v, %d target pods", err, pods)
	})

	// There and back again.
	m := e.waitMigration(t, e.migrate(t, "mover", nil).Name, time.Minute)
	e.checkMigrated(t, m, first)
	back := e.waitMigration(t, e.migrate(t, "mover", nil).Name, time.Minute)
	e.checkMigrated(t, back, otherNode(first))

	// A VMI that does not run cannot migrate.
	e.createVMI(t, testVMI("huge", "64Ti"))
	e.checkFailed(t, e.waitMigration(t, e.migrate(t, "huge", nil).Name, 30*time.Second), "is not running", "")
	// Nor one that does not exist.
	ghost := e.waitMigration(t, e.migrate(t, "ghost", nil).Name, 30*time.Second)
	if ghost.Status.Phase != kvv1.MigrationFailed || !strings.Contains(ghost.Status.MigrationState.FailureReason, "does not exist") {
		t.Errorf("migration of a missing VMI: %s %+v", ghost.Status.Phase, ghost.Status.MigrationState)
	}

	// An ended migration can be deleted: the controller's finalizer is gone.
	if err := e.kv.VirtualMachineInstanceMigrations("default").Delete(e.ctx, m.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "migration "+m.Name+" gone", func() (bool, string) {
		_, err := e.kv.VirtualMachineInstanceMigrations("default").Get(e.ctx, m.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	for _, name := range []string{"mover", "huge"} {
		v, err := e.vmi(t, name)
		if err != nil {
			t.Fatal(err)
		}
		e.deleteAndWait(t, v)
	}
}

// TestLiveMigrationFailsInFlight: when sending the guest fails (here a runtime whose wire
// is cut), the migration fails with the source's reason after the target was prepared, the
// target Pod ends Failed and the VMI runs on where it ran.
func TestLiveMigrationFailsInFlight(t *testing.T) {
	e := startVirtEnv(t, cutRuntime{}, 3*time.Minute, withMigrationTimeout)
	e.startNode2(t, cutRuntime{})
	e.createVMI(t, testVMI("stayer", "128Mi"))
	vmi := e.waitPhase(t, "stayer", kvv1.Running, "", time.Minute)
	m := e.waitMigration(t, e.migrate(t, "stayer", nil).Name, time.Minute)
	e.checkFailed(t, m, errCut.Error(), vmi.Status.NodeName)
	if ms := m.Status.MigrationState; ms == nil || ms.TargetNodeAddress == "" || ms.StartTimestamp == nil || ms.EndTimestamp == nil {
		t.Errorf("migrationState %+v: want the failure after the transfer started", ms)
	}
	after, err := e.vmi(t, "stayer")
	if err != nil {
		t.Fatal(err)
	}
	if after.Status.Phase != kvv1.Running || after.Status.NodeName != vmi.Status.NodeName || !after.Status.MigrationState.Failed {
		t.Errorf("VMI after the failed migration: %s on %q, %+v", after.Status.Phase, after.Status.NodeName, after.Status.MigrationState)
	}
	for _, p := range e.launcherPods(t, after) {
		if _, active := after.Status.ActivePods[p.UID]; active && p.Status.Phase != corev1.PodRunning {
			t.Errorf("the source launcher pod %s is %s", p.Name, p.Status.Phase)
		}
	}
	e.deleteAndWait(t, after)
}

var errCut = errors.New("the migration wire was cut")

// cutRuntime is the hollow runtime whose VMs fail to send themselves.
type cutRuntime struct{}

func (cutRuntime) Name() string { return "hollow-cut" }
func (cutRuntime) Hollow() bool { return true }

func (cutRuntime) StartIncoming(ctx context.Context, spec virt.MachineSpec) (virt.Machine, string, error) {
	return virt.Hollow{}.StartIncoming(ctx, spec)
}

func (cutRuntime) Start(ctx context.Context, spec virt.MachineSpec) (virt.Machine, error) {
	m, err := virt.Hollow{}.Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	return cutMachine{m.(virt.MigratingMachine)}, nil
}

type cutMachine struct{ virt.MigratingMachine }

func (cutMachine) MigrateTo(context.Context, string) (virt.MigrationStats, error) {
	return virt.MigrationStats{}, errCut
}

// tickerUserData makes the guest print its boot id and uptime on the serial console every
// second, so a console reader can tell whether the guest it sees is the same boot, later.
const tickerUserData = `#cloud-config
write_files:
- path: /usr/local/bin/tick
  permissions: '0755'
  content: |
    #!/bin/sh
    while true; do
      echo "tick $(cat /proc/sys/kernel/random/boot_id) $(cut -d ' ' -f 1 /proc/uptime)" > /dev/ttyS0
      sleep 1
    done
runcmd:
- /usr/local/bin/tick > /dev/null 2>&1 < /dev/null &
`

var tickRE = regexp.MustCompile(`tick ([0-9a-f-]{36}) ([0-9]+\.[0-9]+)`)

// tick is a line of the guest's ticker.
type tick struct {
	boot   string
	uptime float64
}

// readTick opens the VMI's console through kube-apiserver, as `virtctl console` would, and
// returns the next tick the guest prints.
func (e *virtEnv) readTick(t *testing.T, cfg *rest.Config, name string) tick {
	t.Helper()
	ws := dialConsole(t, e.ctx, cfg, name)
	defer ws.Close(websocket.StatusNormalClosure, "")
	c := newSerial(t, websocket.NetConn(e.ctx, ws, websocket.MessageBinary))
	m := c.waitForMatch(t, tickRE)
	up, err := strconv.ParseFloat(m[2], 64)
	if err != nil {
		t.Fatal(err)
	}
	return tick{boot: m[1], uptime: up}
}

// TestLiveMigrationQEMU: the project's guest, printing its boot id and uptime on the serial
// console, live-migrates between two qemu nodes. A migration to the node it runs on (the
// addedNodeSelector names it) fails and the guest runs on; a migration to the other node
// succeeds, and the console, opened through kube-apiserver, then reaches the guest on the
// target node: the same boot, a later uptime.
func TestLiveMigrationQEMU(t *testing.T) {
	guest := needGuest(t)
	virtAPIPort := freeLocalPort(t)
	e := startVirtEnv(t, virt.QEMU{}, 6*time.Minute, func(e *virtEnv, cfg *localnode.Config) {
		withStreams(virtAPIPort)(e, cfg)
		withMigrationTimeout(e, cfg)
	})
	node2, node2Dir := e.startNode2(t, virt.QEMU{})
	nodes := map[string]*localnode.Node{"node-1": e.node, "node-2": node2}
	dirs := map[string]string{"node-1": e.nodeDir, "node-2": node2Dir}
	if err := e.stack.RegisterKubeVirtAPI(e.ctx, virtAPIPort); err != nil {
		t.Fatal(err)
	}
	e.logVMsOnFailure(t, e.nodeDir)
	e.logVMsOnFailure(t, node2Dir)
	e.guestDisk(t, guest, "mover-root")
	e.createVMI(t, guestVMI("mover", "mover-root", "10.66.10.22", tickerUserData))
	var vmi *kvv1.VirtualMachineInstance
	eventually(t, 3*time.Minute, "VMI mover Running with its agent connected", func() (bool, string) {
		var err error
		if vmi, err = e.vmi(t, "mover"); err != nil {
			return false, err.Error()
		}
		if vmi.IsFinal() {
			t.Fatalf("VMI ended: %s %s %+v", vmi.Status.Phase, vmi.Status.Reason, vmi.Status.Conditions)
		}
		c := vmiCondition(vmi, kvv1.VirtualMachineInstanceAgentConnected)
		return vmi.Status.Phase == kvv1.Running && c != nil && c.Status == corev1.ConditionTrue,
			fmt.Sprintf("phase %q conditions %+v", vmi.Status.Phase, vmi.Status.Conditions)
	})
	source := vmi.Status.NodeName
	target := otherNode(source)
	admin, err := clientcmd.BuildConfigFromFlags("", e.stack.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	before := e.readTick(t, admin, "mover")

	sameNode := e.migrate(t, "mover", map[string]string{corev1.LabelHostname: source})
	e.checkFailed(t, e.waitMigration(t, sameNode.Name, migrationTargetTimeout+time.Minute), "no node can take the VM", source)
	if still := e.readTick(t, admin, "mover"); still.boot != before.boot || still.uptime <= before.uptime {
		t.Fatalf("after a failed migration the console shows %+v, before %+v", still, before)
	}

	m := e.waitMigration(t, e.migrate(t, "mover", nil).Name, 3*time.Minute)
	vmi = e.checkMigrated(t, m, source)
	after := e.readTick(t, admin, "mover")
	if after.boot != before.boot || after.uptime <= before.uptime {
		t.Errorf("after the migration the console shows %+v, before %+v: not the same boot going on", after, before)
	}
	ms := vmi.Status.MigrationState
	t.Logf("migrated %s → %s in %s (start to end on the VMI); guest uptime %.2f s → %.2f s; %s",
		source, target, ms.EndTimestamp.Sub(ms.StartTimestamp.Time), before.uptime, after.uptime, e.migrationEvent(t, vmi))

	// The target node serves the VM's sockets, in process and in its sockets.json.
	if _, ok := nodes[source].VMSockets("default", "mover"); ok {
		t.Errorf("node %s still reports the VM's sockets", source)
	}
	s, ok := nodes[target].VMSockets("default", "mover")
	if !ok || s.Serial == "" {
		t.Fatalf("node %s reports no sockets for the VM: %+v", target, s)
	}
	data, err := os.ReadFile(filepath.Join(virt.VMDir(dirs[target], vmi), virt.SocketsFile))
	var file virt.Sockets
	if err != nil || json.Unmarshal(data, &file) != nil || file != s {
		t.Errorf("%s of node %s: %s %v, want %+v", virt.SocketsFile, target, data, err, s)
	}
	if c := vmiCondition(vmi, kvv1.VirtualMachineInstanceAgentConnected); c == nil || c.Status != corev1.ConditionTrue {
		t.Errorf("AgentConnected after the migration: %+v", c)
	}
	e.deleteAndWait(t, vmi)
}

// migrationEvent is the source node's event on the VMI telling how the guest was sent.
func (e *virtEnv) migrationEvent(t *testing.T, vmi *kvv1.VirtualMachineInstance) string {
	t.Helper()
	var msg string
	eventually(t, 30*time.Second, "the source's migration event", func() (bool, string) {
		events, err := e.client.EventsV1().Events("default").List(e.ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, ev := range events.Items {
			if ev.Regarding.UID == vmi.UID && strings.HasPrefix(ev.Note, "Sent the VM") {
				msg = ev.Note
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d events", len(events.Items))
	})
	return msg
}
