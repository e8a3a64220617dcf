package platform

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

// ticker makes the guest print its boot id and uptime on the serial console every second,
// from the moment it has booted: the same boot id with a larger uptime after a migration is
// the same guest, never restarted.
const ticker = `(while true; do echo "TICK $(cat /proc/sys/kernel/random/boot_id) $(cut -d' ' -f1 /proc/uptime)"; sleep 1; done) </dev/null >/dev/console 2>&1 &`

var tickRe = regexp.MustCompile(`TICK ([0-9a-f-]{36}) (\d+\.\d+)`)

// tick is one line of the ticker.
type tick struct {
	bootID string
	uptime float64
}

// serialLogOn reads what the guest of one VMI printed on the serial console of one node.
// After a migration the VMI (same UID) has a directory on each node it ran on.
func serialLogOn(node, ns, name, uid string) string {
	raw, err := os.ReadFile(filepath.Join(stackDir, "nodes", node, "vms", ns+"_"+name+"_"+uid, "sockets.json"))
	if err != nil {
		return ""
	}
	var s struct {
		SerialLog string `json:"serialLog"`
	}
	if json.Unmarshal(raw, &s) != nil || s.SerialLog == "" {
		return ""
	}
	data, _ := os.ReadFile(s.SerialLog)
	return string(data)
}

// waitTick waits until the guest, on node, prints a tick of boot bootID ("" for any) with an
// uptime above after; it returns the last such tick.
func waitTick(t *testing.T, node, ns, name, uid, bootID string, after float64, timeout time.Duration) tick {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var log string
	for time.Now().Before(deadline) {
		log = serialLogOn(node, ns, name, uid)
		var last tick
		for _, m := range tickRe.FindAllStringSubmatch(log, -1) {
			up, _ := strconv.ParseFloat(m[2], 64)
			if (bootID == "" || m[1] == bootID) && up > after {
				last = tick{bootID: m[1], uptime: up}
			}
		}
		if last.bootID != "" {
			return last
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(log) > 2000 {
		log = log[len(log)-2000:]
	}
	t.Fatalf("the guest of %s/%s on %s did not print a tick of boot %q after uptime %.2f in %s; serial console there:\n%s",
		ns, name, node, bootID, after, timeout, log)
	return tick{}
}

// vmopCreated is the operation d8 says it created.
var vmopCreated = regexp.MustCompile(`VirtualMachineOperation (\S+) created`)

func getVMOP(t *testing.T, ns, name string) *v1alpha2.VirtualMachineOperation {
	t.Helper()
	op, err := client.VirtualizationV1alpha2().VirtualMachineOperations(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get vmop %s/%s: %v", ns, name, err)
	}
	return op
}

// liveMigrate runs `d8 v <verb> linux-vm` and checks what a user would: exit 0, the VM
// Running on another node, the operation Completed, the VM's last migration Succeeded from
// the old node to the new, the same VMI, and the same boot of the guest ticking on.
func liveMigrate(t *testing.T, ns, uid string, before tick, args ...string) (string, tick) {
	t.Helper()
	from := getVM(t, ns, "linux-vm").Status.Node
	out, err := d8(t, append([]string{"v"}, args...)...)
	if err != nil {
		t.Fatalf("d8 %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("d8 %s:\n%s", strings.Join(args, " "), out)
	m := vmopCreated.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("d8 %s did not name the operation it created:\n%s", strings.Join(args, " "), out)
	}
	vm := getVM(t, ns, "linux-vm")
	to := vm.Status.Node
	if vm.Status.Phase != v1alpha2.MachineRunning || to == "" || to == from {
		t.Fatalf("after d8 %s: phase %s on node %q; want Running on the node other than %s", args[0], vm.Status.Phase, to, from)
	}
	if !strings.Contains(out, "completed: The VM migrated from node "+from+" to node "+to+".") {
		t.Errorf("d8 %s does not say where the VM went:\n%s", args[0], out)
	}
	op := getVMOP(t, ns, m[1])
	if op.Status.Phase != v1alpha2.VMOPPhaseCompleted || string(op.Spec.Type) != strings.ToUpper(args[0][:1])+args[0][1:] {
		t.Errorf("operation %s: type %s, phase %s; want %s Completed", op.Name, op.Spec.Type, op.Status.Phase, args[0])
	}
	ms := vm.Status.MigrationState
	if ms == nil || ms.Result != v1alpha2.MigrationResultSucceeded || ms.Source.Node != from || ms.Target.Node != to ||
		ms.StartTimestamp == nil || ms.EndTimestamp == nil {
		t.Errorf("status.migrationState %+v; want Succeeded from %s to %s with start and end", ms, from, to)
	}
	sawMigrating := false
	for _, p := range vm.Status.Stats.PhasesTransitions {
		sawMigrating = sawMigrating || p.Phase == v1alpha2.MachineMigrating
	}
	if !sawMigrating {
		t.Errorf("the VM never showed phase Migrating: %+v", vm.Status.Stats.PhasesTransitions)
	}
	if got := vmiUID(t, ns, "linux-vm"); got != uid {
		t.Fatalf("the VMI is %q after the migration, was %q: the VM was restarted, not migrated", got, uid)
	}
	after := waitTick(t, to, ns, "linux-vm", uid, before.bootID, before.uptime, time.Minute)
	return to, after
}

// TestLiveMigration runs the guide's "Live Virtual Machine Migration" with the test guest
// on the stack's two nodes: d8 v migrate moves the running VM to the other node, d8 v evict
// moves it back, deleting a Migrate in flight deletes its migration, and a Migrate whose
// nodeSelector no node matches fails and leaves the VM running where it was. The guest's
// serial console shows the same boot throughout.
func TestLiveMigration(t *testing.T) {
	ns := namespace(t, "vm-migration")
	guestDisk(t, ns, "guest", "linux-disk")
	deleteVMs(t, ns, "linux-vm")
	mustKubectl(t, vmManifest(ns, "linux-vm", "AlwaysOnUnlessStoppedManually", 1, "linux-disk", userData(ticker)), "apply", "-f", "-")

	vm := waitVM(t, ns, "linux-vm", 3*time.Minute, "Running and Migratable", func(vm *v1alpha2.VirtualMachine) bool {
		return vm.Status.Phase == v1alpha2.MachineRunning && condition(vm.Status.Conditions, "Migratable").Status == metav1.ConditionTrue
	})
	first, uid := vm.Status.Node, vmiUID(t, ns, "linux-vm")
	if wide := mustKubectl(t, "", "-n", ns, "get", "vm", "linux-vm", "-o", "wide"); !regexp.MustCompile(`\sTrue\s+` + first + `\s`).MatchString(wide) {
		t.Errorf("-o wide does not show MIGRATABLE True on %s:\n%s", first, wide)
	}
	before := waitTick(t, first, ns, "linux-vm", uid, "", 0, 2*time.Minute)

	second, after := liveMigrate(t, ns, uid, before, "migrate", "linux-vm", "-n", ns)
	back, last := liveMigrate(t, ns, uid, after, "evict", "linux-vm."+ns)
	if back != first {
		t.Errorf("evicted from %s to %s; with two nodes it goes back to %s", second, back, first)
	}

	// The guide: a migration is interrupted by deleting its operation. One that waits for a
	// node that does not exist is deleted; its VirtualMachineInstanceMigration goes with it.
	out, err := d8(t, "v", "migrate", "linux-vm", "-n", ns, "--node-selector", "kubernetes.io/hostname=nowhere", "--wait=false")
	if err != nil || !strings.Contains(out, "is InProgress") {
		t.Fatalf("d8 v migrate --wait=false: %v\n%s", err, out)
	}
	m := vmopCreated.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("d8 did not name the operation it created:\n%s", out)
	}
	vmim := "vmop-" + m[1]
	mustKubectl(t, "", "-n", ns, "wait", "vmim/"+vmim, "--for=jsonpath={.status.phase}=Scheduling", "--timeout=30s")
	mustKubectl(t, "", "-n", ns, "delete", "vmop", m[1], "--timeout=30s")
	mustKubectl(t, "", "-n", ns, "wait", "vmim/"+vmim, "--for=delete", "--timeout=30s")
	if vm := getVM(t, ns, "linux-vm"); vm.Status.Phase != v1alpha2.MachineRunning || vm.Status.Node != first {
		t.Errorf("after the interrupted migration: phase %s on %q; want Running on %s", vm.Status.Phase, vm.Status.Node, first)
	}

	// A target no node matches: KubeVirt cannot place it, the operation fails with its
	// reason and the VM keeps running where it is.
	out, err = d8(t, "v", "migrate", "linux-vm", "-n", ns, "--node-selector", "kubernetes.io/hostname=nowhere")
	if err == nil || !strings.Contains(out, "was not migrated") || !strings.Contains(out, "failed") {
		t.Fatalf("d8 v migrate to no node: err %v; want exit 1 saying it was not migrated:\n%s", err, out)
	}
	if m = vmopCreated.FindStringSubmatch(out); m == nil {
		t.Fatalf("d8 did not name the operation it created:\n%s", out)
	}
	op := getVMOP(t, ns, m[1])
	if op.Status.Phase != v1alpha2.VMOPPhaseFailed || op.Spec.Migrate == nil || op.Spec.Migrate.NodeSelector["kubernetes.io/hostname"] != "nowhere" {
		t.Errorf("operation %s: phase %s, spec.migrate %+v; want Failed with the nodeSelector", op.Name, op.Status.Phase, op.Spec.Migrate)
	}
	vm = getVM(t, ns, "linux-vm")
	if vm.Status.Phase != v1alpha2.MachineRunning || vm.Status.Node != first {
		t.Errorf("after the failed migration: phase %s on %q; want Running on %s", vm.Status.Phase, vm.Status.Node, first)
	}
	if got := vmiUID(t, ns, "linux-vm"); got != uid {
		t.Errorf("the VMI is %q after the failed migration, was %q", got, uid)
	}
	waitTick(t, first, ns, "linux-vm", uid, before.bootID, last.uptime, time.Minute)
	t.Logf("guest boot %s ran on %s, %s and %s; failed migration: %s", before.bootID, first, second, back,
		condition(op.Status.Conditions, "Completed").Message)
}
