package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

// The password hash of the user guide: the password is "cloud".
const cloudPasswd = `$6$rounds=4096$saltsalt$fPmUsbjAuA7mnQNTajQM6ClhesyG0.yyQhvahas02ejfMAq1ykBo1RquzS0R6GgdIDlvS.kbUwDablGZKZcTP/`

// userData is the guide's cloud-init plus commands the tests read back from the serial
// console (each boot runs them: the VMI, hence the cloud-init instance, is new).
func userData(runcmd ...string) string {
	var b strings.Builder
	b.WriteString("#cloud-config\nssh_pwauth: True\nusers:\n- name: cloud\n  passwd: '" + cloudPasswd + "'\n" +
		"  shell: /bin/bash\n  sudo: ALL=(ALL) NOPASSWD:ALL\n  lock_passwd: False\nruncmd:\n")
	for _, c := range runcmd {
		b.WriteString("- " + strings.TrimSpace(mustJSONString(c)) + "\n")
	}
	return b.String()
}

func mustJSONString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// indent prefixes every line (to embed user data in a manifest).
func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n")
}

// guestDisk makes a VirtualImage of the test guest and a VirtualDisk from it.
func guestDisk(t *testing.T, ns, vi, vd string) {
	t.Helper()
	mustKubectl(t, fill(`apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualImage
metadata:
  name: VI
  namespace: NS
spec:
  storage: ContainerRegistry
  dataSource:
    type: HTTP
    http:
      url: "URL"
`, "VI", vi, "NS", ns, "URL", fileURL("guest.qcow2")), "apply", "-f", "-")
	mustKubectl(t, fill(`apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualDisk
metadata:
  name: VD
  namespace: NS
spec:
  dataSource:
    type: ObjectRef
    objectRef:
      kind: VirtualImage
      name: VI
`, "VI", vi, "VD", vd, "NS", ns), "apply", "-f", "-")
	waitVD(t, ns, vd, 3*time.Minute, "Ready")
}

// vmManifest is the guide's linux-vm with a name, policy, cores, disk and user data.
func vmManifest(ns, name, policy string, cores int, disk, ud string) string {
	m := fmt.Sprintf(`apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachine
metadata:
  name: %s
  namespace: %s
spec:
  virtualMachineClassName: host
  runPolicy: %s
  cpu:
    cores: %d
  memory:
    size: 1Gi
  blockDeviceRefs:
    - kind: VirtualDisk
      name: %s
`, name, ns, policy, cores, disk)
	if ud != "" {
		m += "  provisioning:\n    type: UserData\n    userData: |\n" + indent(ud, "      ") + "\n"
	}
	return m
}

func getVM(t *testing.T, ns, name string) *v1alpha2.VirtualMachine {
	t.Helper()
	vm, err := client.VirtualizationV1alpha2().VirtualMachines(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get vm %s/%s: %v", ns, name, err)
	}
	return vm
}

// waitVM polls a VM until ok accepts it.
func waitVM(t *testing.T, ns, name string, timeout time.Duration, what string, ok func(*v1alpha2.VirtualMachine) bool) *v1alpha2.VirtualMachine {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last *v1alpha2.VirtualMachine
	for time.Now().Before(deadline) {
		vm, err := client.VirtualizationV1alpha2().VirtualMachines(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err == nil {
			last = vm
			if ok(vm) {
				return vm
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	if last == nil {
		t.Fatalf("vm %s/%s not found after %s", ns, name, timeout)
	}
	t.Fatalf("vm %s/%s: not %s after %s: phase %q, %s", ns, name, what, timeout, last.Status.Phase, conditionText(last.Status.Conditions))
	return nil
}

func phaseIs(p v1alpha2.MachinePhase) func(*v1alpha2.VirtualMachine) bool {
	return func(vm *v1alpha2.VirtualMachine) bool { return vm.Status.Phase == p }
}

// deleteVMs deletes VMs at the end of a test and waits until their guests are gone, so no
// qemu outlives the test that started it.
func deleteVMs(t *testing.T, ns string, names ...string) {
	t.Cleanup(func() {
		for _, n := range names {
			_, _ = kubectl(t, "", "-n", ns, "delete", "vm", n, "--ignore-not-found", "--wait=false")
		}
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(deadline) {
			left := 0
			for _, n := range names {
				if vmiUID(t, ns, n) != "" {
					left++
				}
			}
			if left == 0 {
				return
			}
			time.Sleep(time.Second)
		}
		t.Errorf("VMIs of %s/%v still exist 2 minutes after their VMs were deleted", ns, names)
	})
}

// vmiUID is the UID of the VM's current VirtualMachineInstance ("" when there is none).
func vmiUID(t *testing.T, ns, name string) string {
	out, err := kubectl(t, "", "-n", ns, "get", "vmi", name, "-o", "jsonpath={.metadata.uid}", "--ignore-not-found")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

// serialLog reads what the guest of one VMI printed on its serial console, from the
// directory the local node keeps for the VM.
func serialLog(t *testing.T, ns, name, uid string) string {
	dirs, _ := filepath.Glob(filepath.Join(stackDir, "nodes", "*", "vms", ns+"_"+name+"_"+uid))
	for _, dir := range dirs {
		raw, err := os.ReadFile(filepath.Join(dir, "sockets.json"))
		if err != nil {
			continue
		}
		var s struct {
			SerialLog string `json:"serialLog"`
		}
		if json.Unmarshal(raw, &s) != nil || s.SerialLog == "" {
			continue
		}
		data, _ := os.ReadFile(s.SerialLog)
		return string(data)
	}
	return ""
}

// waitSerial waits until the guest of a VMI printed something matching re.
func waitSerial(t *testing.T, ns, name, uid string, re *regexp.Regexp, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var log string
	for time.Now().Before(deadline) {
		log = serialLog(t, ns, name, uid)
		if m := re.FindString(log); m != "" {
			return m
		}
		time.Sleep(500 * time.Millisecond)
	}
	tail := log
	if len(tail) > 2000 {
		tail = tail[len(tail)-2000:]
	}
	t.Fatalf("the guest of %s/%s (VMI %s) did not print %q in %s; serial console:\n%s", ns, name, uid, re, timeout, tail)
	return ""
}

// d8 runs our CLI as the stack's admin.
func d8(t *testing.T, args ...string) (string, error) {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(c, filepath.Join(bin, "d8"), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+stack.Kubeconfig)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

var nprocRe = regexp.MustCompile(`NPROC=\d+`)

// TestQuickStartAndConfigurationChange runs the user guide's Quick start with the test guest
// and its "Change virtual machine configuration" walkthrough: nproc in the guest prints 1,
// a patch to 2 cores waits for a restart, d8 v restart applies it, nproc prints 2. Then it
// stops and starts the VM, and deleting it keeps its disk and releases its address.
func TestQuickStartAndConfigurationChange(t *testing.T) {
	ns := namespace(t, "vm-quickstart")
	guestDisk(t, ns, "guest", "linux-disk")
	deleteVMs(t, ns, "linux-vm")
	mustKubectl(t, vmManifest(ns, "linux-vm", "AlwaysOnUnlessStoppedManually", 1, "linux-disk",
		userData(`echo "NPROC=$(nproc)" > /dev/console`)), "apply", "-f", "-")

	vm := waitVM(t, ns, "linux-vm", 3*time.Minute, "Running", phaseIs(v1alpha2.MachineRunning))
	if !strings.HasPrefix(vm.Status.IPAddress, "10.66.10.") || vm.Status.Node == "" {
		t.Fatalf("running VM has node %q and address %q, want a node and an address from 10.66.10.0/24", vm.Status.Node, vm.Status.IPAddress)
	}
	out := mustKubectl(t, "", "-n", ns, "get", "vi,vd,vm")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`virtualimage\.virtualization\.deckhouse\.io/guest\s+Ready\s+false\s+100%`),
		regexp.MustCompile(`virtualdisk\.virtualization\.deckhouse\.io/linux-disk\s+Ready\s+\S+`),
		regexp.MustCompile(`virtualmachine\.virtualization\.deckhouse\.io/linux-vm\s+Running\s+\S+\s+` + vm.Status.Node + `\s+` + regexp.QuoteMeta(vm.Status.IPAddress)),
	} {
		if !want.MatchString(out) {
			t.Errorf("kubectl get vi,vd,vm does not match %s:\n%s", want, out)
		}
	}
	// The launcher Pod was placed by kube-scheduler on the node the VM reports.
	podNode := mustKubectl(t, "", "-n", ns, "get", "pods", "-l", "kubevirt.io=virt-launcher", "-o", "jsonpath={.items[0].spec.nodeName}")
	if podNode != vm.Status.Node {
		t.Errorf("launcher Pod on %q, VM reports node %q", podNode, vm.Status.Node)
	}

	uid := vmiUID(t, ns, "linux-vm")
	waitSerial(t, ns, "linux-vm", uid, regexp.MustCompile(`linux-vm login:`), 2*time.Minute)
	if got := waitSerial(t, ns, "linux-vm", uid, nprocRe, time.Minute); got != "NPROC=1" {
		t.Errorf("nproc in the guest: %s, want 1", got)
	}
	// The guest agent answers: AgentReady and the guest's OS in status.
	vm = waitVM(t, ns, "linux-vm", 2*time.Minute, "AgentReady", func(vm *v1alpha2.VirtualMachine) bool {
		return condition(vm.Status.Conditions, "AgentReady").Status == metav1.ConditionTrue && vm.Status.GuestOSInfo != nil
	})
	if vm.Status.GuestOSInfo.ID == "" || vm.Status.GuestOSInfo.KernelRelease == "" {
		t.Errorf("guestOSInfo %+v lacks the id or kernel release", vm.Status.GuestOSInfo)
	}

	// The disk shows the VM it is mounted on.
	mounted := regexp.MustCompile(`linux-disk\s+Ready\s+\S+\s+linux-vm\s`)
	deadline := time.Now().Add(30 * time.Second)
	for out := ""; !mounted.MatchString(out); out = mustKubectl(t, "", "-n", ns, "get", "vd", "linux-disk") {
		if time.Now().After(deadline) {
			t.Fatalf("kubectl get vd does not show the disk mounted on linux-vm:\n%s", out)
		}
		time.Sleep(300 * time.Millisecond)
	}

	// The walkthrough: 1 → 2 cores waits for a restart.
	if out := mustKubectl(t, "", "-n", ns, "patch", "vm", "linux-vm", "--type", "merge", "-p", `{"spec":{"cpu":{"cores":2}}}`); !strings.Contains(out, "virtualmachine.virtualization.deckhouse.io/linux-vm patched") {
		t.Errorf("patch printed %q", out)
	}
	vm = waitVM(t, ns, "linux-vm", time.Minute, "waiting for a restart", func(vm *v1alpha2.VirtualMachine) bool {
		return len(vm.Status.RestartAwaitingChanges) > 0
	})
	var changes []map[string]any
	raw := mustKubectl(t, "", "-n", ns, "get", "vm", "linux-vm", "-o", "jsonpath={.status.restartAwaitingChanges}")
	if err := json.Unmarshal([]byte(raw), &changes); err != nil {
		t.Fatalf("restartAwaitingChanges %q: %v", raw, err)
	}
	want := []map[string]any{{"currentValue": 1.0, "desiredValue": 2.0, "operation": "replace", "path": "cpu.cores"}}
	if mustJSON(t, changes) != mustJSON(t, want) {
		t.Errorf("restartAwaitingChanges = %s, want the guide's %s", raw, mustJSON(t, want))
	}
	wide := mustKubectl(t, "", "-n", ns, "get", "vm", "linux-vm", "-o", "wide")
	if !regexp.MustCompile(`linux-vm\s+Running\s+\S+\s+2\s+100%\s+1Gi\s+True\s+True\s+`).MatchString(wide) {
		t.Errorf("-o wide should show 2 cores, NEED RESTART True, AGENT True:\n%s", wide)
	}
	if got := nprocRe.FindAllString(serialLog(t, ns, "linux-vm", uid), -1); len(got) != 1 || got[0] != "NPROC=1" {
		t.Errorf("before the restart the guest printed %v, want only NPROC=1", got)
	}

	if out, err := d8(t, "v", "restart", "linux-vm", "-n", ns); err != nil {
		t.Fatalf("d8 v restart: %v\n%s", err, out)
	}
	newUID := vmiUID(t, ns, "linux-vm")
	if newUID == "" || newUID == uid {
		t.Fatalf("after d8 v restart the VMI is %q, was %q", newUID, uid)
	}
	if got := waitSerial(t, ns, "linux-vm", newUID, nprocRe, 2*time.Minute); got != "NPROC=2" {
		t.Errorf("nproc after the restart: %s, want 2", got)
	}
	vm = getVM(t, ns, "linux-vm")
	if len(vm.Status.RestartAwaitingChanges) != 0 || condition(vm.Status.Conditions, "AwaitingRestartToApplyConfiguration").Status != metav1.ConditionFalse {
		t.Errorf("after the restart: restartAwaitingChanges %v, %s", vm.Status.RestartAwaitingChanges, conditionText(vm.Status.Conditions))
	}
	if vm.Status.Resources == nil || vm.Status.Resources.CPU.Cores != 2 || vm.Status.Resources.CPU.Topology.CoresPerSocket != 2 {
		t.Errorf("status.resources after the restart: %+v", vm.Status.Resources)
	}

	// Stop with d8, start with a VirtualMachineOperation as the guide writes it.
	if out, err := d8(t, "v", "stop", "linux-vm", "-n", ns); err != nil {
		t.Fatalf("d8 v stop: %v\n%s", err, out)
	}
	waitVM(t, ns, "linux-vm", time.Minute, "Stopped", phaseIs(v1alpha2.MachineStopped))
	if uid := vmiUID(t, ns, "linux-vm"); uid != "" {
		t.Errorf("a stopped VM still has VMI %s", uid)
	}
	op := mustKubectl(t, fill(`apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachineOperation
metadata:
  generateName: start-linux-vm-
  namespace: NS
spec:
  virtualMachineName: linux-vm
  type: Start
`, "NS", ns), "create", "-o", "name", "-f", "-")
	mustKubectl(t, "", "-n", ns, "wait", strings.TrimSpace(op), "--for=jsonpath={.status.phase}=Completed", "--timeout=3m")
	waitVM(t, ns, "linux-vm", time.Minute, "Running", phaseIs(v1alpha2.MachineRunning))

	// Deleting the VM stops it, keeps its disk and releases its address for the namespace.
	ipName, addr := vm.Status.VirtualMachineIPAddress, vm.Status.IPAddress
	lease := "ip-" + strings.ReplaceAll(addr, ".", "-")
	mustKubectl(t, "", "-n", ns, "delete", "vm", "linux-vm", "--wait=false")
	// The lease goes Released (kept for the namespace) once the address is free, and is
	// deleted after the retention time (leaseRetention in this stack).
	released := false
	deadline = time.Now().Add(3 * time.Minute)
	for {
		phase, err := kubectl(t, "", "get", "vmipl", lease, "-o", "jsonpath={.status.phase}")
		if err == nil && phase == "Released" {
			if !released {
				_, errIP := kubectl(t, "", "-n", ns, "get", "vmip", ipName)
				if errIP == nil {
					t.Errorf("lease %s is Released while VirtualMachineIPAddress %s still exists", lease, ipName)
				}
			}
			released = true
		}
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lease %s is still %q 3 minutes after the VM was deleted (retention %s)", lease, phase, leaseRetention)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if !released {
		t.Errorf("lease %s went away without being Released for its namespace first", lease)
	}
	if out, _ := kubectl(t, "", "-n", ns, "get", "vm,vmi", "-o", "name"); strings.TrimSpace(out) != "" {
		t.Errorf("left after the VM was deleted: %s", out)
	}
	waitVD(t, ns, "linux-disk", 10*time.Second, "Ready")
}

// TestRunPolicies: AlwaysOn starts the guest again after it powers itself off; the default
// policy takes a poweroff from inside as a manual stop; AlwaysOff never starts, and a Start
// operation on it fails with a reason.
func TestRunPolicies(t *testing.T) {
	ns := namespace(t, "vm-policies")
	guestDisk(t, ns, "guest", "always-on")
	mustKubectl(t, fill(`apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualDisk
metadata:
  name: NAME
  namespace: NS
spec:
  dataSource:
    type: ObjectRef
    objectRef:
      kind: VirtualImage
      name: guest
`, "NAME", "unless-stopped", "NS", ns), "apply", "-f", "-")
	waitVD(t, ns, "unless-stopped", 3*time.Minute, "Ready")
	deleteVMs(t, ns, "always-on", "unless-stopped", "always-off")
	poweroff := userData(`echo "BOOTED $(hostname)" > /dev/console`, "poweroff")
	mustKubectl(t, vmManifest(ns, "always-on", "AlwaysOn", 1, "always-on", poweroff), "apply", "-f", "-")
	mustKubectl(t, vmManifest(ns, "unless-stopped", "AlwaysOnUnlessStoppedManually", 1, "unless-stopped", poweroff), "apply", "-f", "-")
	mustKubectl(t, vmManifest(ns, "always-off", "AlwaysOff", 1, "always-on", ""), "apply", "-f", "-")

	// AlwaysOn: the guest boots, powers off, and comes back in a new VMI.
	first := ""
	deadline := time.Now().Add(3 * time.Minute)
	for first == "" && time.Now().Before(deadline) {
		first = vmiUID(t, ns, "always-on")
		time.Sleep(300 * time.Millisecond)
	}
	waitSerial(t, ns, "always-on", first, regexp.MustCompile(`BOOTED always-on`), 2*time.Minute)
	var second string
	for time.Now().Before(deadline.Add(3 * time.Minute)) {
		if u := vmiUID(t, ns, "always-on"); u != "" && u != first {
			second = u
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if second == "" {
		t.Fatalf("AlwaysOn: no new VMI after the guest powered off")
	}
	waitSerial(t, ns, "always-on", second, regexp.MustCompile(`BOOTED always-on`), 2*time.Minute)

	// AlwaysOnUnlessStoppedManually: the poweroff inside the guest stops the VM for good.
	vm := waitVM(t, ns, "unless-stopped", 5*time.Minute, "Stopped after the guest powered off", phaseIs(v1alpha2.MachineStopped))
	if got := vm.Annotations["virtualization.deckhouse.io/power-state"]; got != "Stopped" {
		t.Errorf("the stop from inside is not recorded on the VM: power-state %q", got)
	}
	time.Sleep(3 * time.Second)
	if u := vmiUID(t, ns, "unless-stopped"); u != "" {
		t.Errorf("the stopped VM got a new VMI %s", u)
	}

	// AlwaysOff stays Stopped, and d8 v start fails with the reason.
	waitVM(t, ns, "always-off", time.Minute, "Stopped", phaseIs(v1alpha2.MachineStopped))
	out, err := d8(t, "v", "start", "always-off", "-n", ns)
	if err == nil || !strings.Contains(out, "AlwaysOff") {
		t.Errorf("d8 v start of an AlwaysOff VM: err %v, output %q; want a failure naming AlwaysOff", err, out)
	}
	if u := vmiUID(t, ns, "always-off"); u != "" {
		t.Errorf("the AlwaysOff VM got VMI %s", u)
	}
}

// TestPlacementAddressesAndSizing places VMs with nodeSelector and VM anti-affinity (decided by
// kube-scheduler), gives one a static address, and refuses a VM its class's sizing policy
// does not allow. The VMs boot no system: a blank disk is enough to run.
func TestPlacementAddressesAndSizing(t *testing.T) {
	ns := namespace(t, "vm-placement")
	for _, d := range []string{"pinned", "spread-a", "spread-b"} {
		mustKubectl(t, fill(`apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualDisk
metadata:
  name: NAME
  namespace: NS
spec:
  persistentVolumeClaim:
    size: 16Mi
`, "NAME", d, "NS", ns), "apply", "-f", "-")
	}
	deleteVMs(t, ns, "pinned", "spread-a", "spread-b")
	mustKubectl(t, fill(`apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachineIPAddress
metadata:
  name: pinned-ip
  namespace: NS
spec:
  type: Static
  staticIP: 10.66.10.200
`, "NS", ns), "apply", "-f", "-")
	mustKubectl(t, fill(`apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachine
metadata:
  name: pinned
  namespace: NS
spec:
  virtualMachineClassName: host
  virtualMachineIPAddressName: pinned-ip
  nodeSelector:
    kubernetes.io/hostname: node-2
  cpu:
    cores: 1
    coreFraction: 10%
  memory:
    size: 256Mi
  blockDeviceRefs:
    - kind: VirtualDisk
      name: pinned
`, "NS", ns), "apply", "-f", "-")
	for _, name := range []string{"spread-a", "spread-b"} {
		mustKubectl(t, fill(`apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachine
metadata:
  name: NAME
  namespace: NS
  labels:
    app: spread
spec:
  virtualMachineClassName: host
  cpu:
    cores: 1
    coreFraction: 10%
  memory:
    size: 256Mi
  affinity:
    virtualMachineAndPodAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        - labelSelector:
            matchLabels:
              app: spread
          topologyKey: kubernetes.io/hostname
  blockDeviceRefs:
    - kind: VirtualDisk
      name: NAME
`, "NAME", name, "NS", ns), "apply", "-f", "-")
	}
	pinned := waitVM(t, ns, "pinned", 3*time.Minute, "Running", phaseIs(v1alpha2.MachineRunning))
	if pinned.Status.Node != "node-2" || pinned.Status.IPAddress != "10.66.10.200" {
		t.Errorf("pinned VM runs on %q with %q, want node-2 and its static 10.66.10.200", pinned.Status.Node, pinned.Status.IPAddress)
	}
	a := waitVM(t, ns, "spread-a", 3*time.Minute, "Running", phaseIs(v1alpha2.MachineRunning))
	b := waitVM(t, ns, "spread-b", 3*time.Minute, "Running", phaseIs(v1alpha2.MachineRunning))
	if a.Status.Node == b.Status.Node {
		t.Errorf("anti-affine VMs share node %s", a.Status.Node)
	}
	if a.Status.IPAddress == b.Status.IPAddress || a.Status.IPAddress == "" {
		t.Errorf("VM addresses %q and %q must differ", a.Status.IPAddress, b.Status.IPAddress)
	}

	// A static address held here cannot be taken by another namespace.
	other := namespace(t, "vm-placement-other")
	mustKubectl(t, fill(`apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachineIPAddress
metadata:
  name: thief
  namespace: NS
spec:
  type: Static
  staticIP: 10.66.10.200
`, "NS", other), "apply", "-f", "-")
	time.Sleep(3 * time.Second)
	if phase := mustKubectl(t, "", "-n", other, "get", "vmip", "thief", "-o", "jsonpath={.status.phase}"); phase == "Bound" || phase == "Attached" {
		t.Errorf("a second VirtualMachineIPAddress for 10.66.10.200 is %s", phase)
	}

	// A VM whose disk does not exist waits, Pending, and says on what.
	mustKubectl(t, fill(`apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachine
metadata:
  name: waiting
  namespace: NS
spec:
  virtualMachineClassName: host
  cpu:
    cores: 1
  memory:
    size: 256Mi
  blockDeviceRefs:
    - kind: VirtualDisk
      name: not-there
`, "NS", ns), "apply", "-f", "-")
	deleteVMs(t, ns, "waiting")
	w := waitVM(t, ns, "waiting", time.Minute, "Pending on its disk", func(vm *v1alpha2.VirtualMachine) bool {
		return vm.Status.Phase == v1alpha2.MachinePending && condition(vm.Status.Conditions, "BlockDevicesReady").Status == metav1.ConditionFalse
	})
	if msg := condition(w.Status.Conditions, "Running").Message; !strings.Contains(msg, "BlockDevicesReady") || !strings.Contains(msg, `"not-there"`) {
		t.Errorf("the waiting VM's Running condition does not say what it waits for: %q", msg)
	}

	// Sizing: a class allowing 1-2 cores refuses a 4-core VM when it is saved.
	mustKubectl(t, `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachineClass
metadata:
  name: e2e-small
spec:
  cpu:
    type: Host
  sizingPolicies:
    - cores:
        min: 1
        max: 2
      coreFractions: [10, 100]
`, "apply", "-f", "-")
	t.Cleanup(func() { _, _ = kubectl(t, "", "delete", "vmclass", "e2e-small", "--wait=false") })
	out, err := kubectl(t, fill(`apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachine
metadata:
  name: too-big
  namespace: NS
spec:
  virtualMachineClassName: e2e-small
  cpu:
    cores: 4
  memory:
    size: 256Mi
  blockDeviceRefs:
    - kind: VirtualDisk
      name: pinned
`, "NS", ns), "apply", "-f", "-")
	if err == nil || !strings.Contains(out, "spec.cpu.cores") {
		t.Errorf("a VM outside its class's sizing policy was accepted or refused without naming spec.cpu.cores: %v\n%s", err, out)
	}
}
