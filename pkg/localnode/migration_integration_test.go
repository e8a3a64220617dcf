package localnode_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	eventually(t, 30*time.Second, "migration "+nowhere.Name+" Scheduling", func() (bool, string) {
		m, err := e.kv.VirtualMachineInstanceMigrations("default").Get(e.ctx, nowhere.Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return m.Status.Phase == kvv1.MigrationScheduling, string(m.Status.Phase)
	})
	second := e.migrate(t, "mover", nil)
	e.checkFailed(t, e.waitMigration(t, second.Name, 30*time.Second), "is migrating already", first)
	e.checkFailed(t, e.waitMigration(t, nowhere.Name, migrationTargetTimeout+30*time.Second), "no node can take the VM", first)

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
