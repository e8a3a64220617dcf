package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha2 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/test/seeds"
)

// ---------------------------------------------------------------------------------------
// A long-running kubectl (get -w), read while it runs.

type kubectlProc struct {
	cmd    *exec.Cmd
	cancel context.CancelFunc
	notify chan struct{} // receives a token when stdout grows
	done   chan struct{} // closed when kubectl has exited and its output is read

	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer

	stopOnce sync.Once
	err      error
}

type procWriter struct {
	p   *kubectlProc
	buf *bytes.Buffer
}

func (w procWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	w.buf.Write(b)
	w.p.mu.Unlock()
	select {
	case w.p.notify <- struct{}{}:
	default:
	}
	return len(b), nil
}

// startKubectl starts kubectl as admin, killed after limit at the latest and when the test
// ends. Its stdout is collected for waitFor.
func startKubectl(t *testing.T, limit time.Duration, args ...string) *kubectlProc {
	t.Helper()
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	p := &kubectlProc{cancel: cancel, notify: make(chan struct{}, 1), done: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", stack.Kubeconfig}, args...)...)
	p.cmd.Env = append(os.Environ(), "KUBECACHEDIR="+t.TempDir())
	p.cmd.Stdout = procWriter{p, &p.stdout}
	p.cmd.Stderr = procWriter{p, &p.stderr}
	p.cmd.WaitDelay = 5 * time.Second // bounds the output copying after the kill
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *kubectlProc) output() (string, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String(), p.stderr.String()
}

// lines is stdout up to its last newline: a line still being written is left out.
func (p *kubectlProc) lines() (string, string) {
	out, errOut := p.output()
	return out[:strings.LastIndex(out, "\n")+1], errOut
}

// waitFor returns stdout (complete lines) once ok accepts it; it fails the test when kubectl
// exits first or timeout passes.
func (p *kubectlProc) waitFor(t *testing.T, timeout time.Duration, ok func(stdout string) bool) string {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		out, errOut := p.lines()
		if ok(out) {
			return out
		}
		select {
		case <-p.notify:
		case <-p.done:
			out, errOut = p.lines()
			if ok(out) {
				return out
			}
			t.Fatalf("kubectl %s exited (%v) before the expected output:\n%s\n%s", strings.Join(p.cmd.Args[3:], " "), p.err, out, errOut)
		case <-deadline.C:
			t.Fatalf("kubectl %s: expected output not seen in %s:\n%s\n%s", strings.Join(p.cmd.Args[3:], " "), timeout, out, errOut)
		}
	}
}

// stop kills kubectl and waits until it has exited and its output goroutines are done.
func (p *kubectlProc) stop() {
	p.stopOnce.Do(func() {
		p.cancel()
		<-p.done
	})
}

// ---------------------------------------------------------------------------------------

const verbsVM = `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachine
metadata:
  name: NAME
  namespace: NS
  labels:
    app: old
spec:
  virtualMachineClassName: host
  cpu:
    cores: 1
    coreFraction: 10%
  memory:
    size: 1Gi
  blockDeviceRefs:
    - kind: VirtualDisk
      name: NAME-root
`

func verbsCreateVM(t *testing.T, ns, name string) {
	t.Helper()
	out := mustKubectl(t, colFill(verbsVM, name, ns), "apply", "-f", "-")
	if !strings.Contains(out, "virtualmachine.virtualization.deckhouse.io/"+name+" created") {
		t.Fatalf("apply: %s", out)
	}
}

// TestKubectlWatchVM: `kubectl get vm -w` prints a new row when another client (the
// clientset, through kube-apiserver) moves the VM to Running with UpdateStatus.
func TestKubectlWatchVM(t *testing.T) {
	ns := namespace(t, "watch")
	verbsCreateVM(t, ns, "linux-vm")

	w := startKubectl(t, 30*time.Second, "get", "vm", "linux-vm", "-n", ns, "-w")
	initial := w.waitFor(t, 30*time.Second, func(out string) bool {
		tables := kubeTables(out)
		if len(tables) == 0 {
			return false
		}
		_, ok := tables[0].Row("", "linux-vm")
		return ok
	})
	if strings.Contains(initial, "Running") {
		t.Fatalf("the VM is Running before its status was set:\n%s", initial)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	vms := client.VirtualizationV1alpha2().VirtualMachines(ns)
	vm, err := vms.Get(ctx, "linux-vm", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vm.Status.Phase = v1alpha2.MachineRunning
	vm.Status.Node = "virtlab-pt-2"
	vm.Status.IPAddress = "10.66.10.2"
	if _, err := vms.UpdateStatus(ctx, vm, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("UpdateStatus: %v", err)
	}

	out := w.waitFor(t, 30*time.Second, func(out string) bool {
		return strings.Contains(strings.TrimPrefix(out, initial), "Running")
	})
	var running []string
	for _, line := range strings.Split(strings.TrimPrefix(out, initial), "\n") {
		if strings.Contains(line, "Running") {
			running = append(running, line)
		}
	}
	// Rows of a watch are not aligned with the header: read them as words. NAME, PHASE,
	// (UPTIME is empty), NODE, IPADDRESS, AGE.
	f := strings.Fields(running[0])
	if len(f) < 5 || f[0] != "linux-vm" || f[1] != "Running" || f[2] != "virtlab-pt-2" || f[3] != "10.66.10.2" {
		t.Errorf("watch row %q, want linux-vm Running virtlab-pt-2 10.66.10.2 <age>", running[0])
	}
	w.stop()
	if w.cmd.ProcessState == nil {
		t.Errorf("kubectl get -w still runs after stop")
	}
	select {
	case <-w.done:
	default:
		t.Errorf("kubectl get -w output is still being read after stop")
	}
}

// verbsDescribeConditions reads the Status.Conditions block of `kubectl describe` into one map
// per condition (Type, Status, Reason, Message, Last Transition Time).
func verbsDescribeConditions(out string) []map[string]string {
	var conds []map[string]string
	lines := strings.Split(out, "\n")
	inStatus := false
	indent := -1
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l == "Status:" {
			inStatus = true
			continue
		}
		if !inStatus || strings.TrimSpace(l) != "Conditions:" {
			continue
		}
		base := len(l) - len(strings.TrimLeft(l, " "))
		var cur map[string]string
		for j := i + 1; j < len(lines); j++ {
			c := lines[j]
			ind := len(c) - len(strings.TrimLeft(c, " "))
			if strings.TrimSpace(c) == "" || ind <= base {
				break
			}
			if indent < 0 {
				indent = ind
			}
			k, v, ok := strings.Cut(strings.TrimSpace(c), ":")
			if !ok || ind != indent {
				continue
			}
			if cur == nil || cur[k] != "" {
				cur = map[string]string{}
				conds = append(conds, cur)
			}
			cur[k] = strings.TrimSpace(v)
		}
		break
	}
	return conds
}

// TestKubectlDescribeVM: `kubectl describe vm` shows the conditions another client set
// through UpdateStatus: type, status, reason and message of each.
func TestKubectlDescribeVM(t *testing.T) {
	ns := namespace(t, "describe")
	verbsCreateVM(t, ns, "linux-vm")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	vms := client.VirtualizationV1alpha2().VirtualMachines(ns)
	vm, err := vms.Get(ctx, "linux-vm", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	when := metav1.NewTime(time.Date(2024, 10, 4, 7, 45, 5, 0, time.UTC))
	want := []metav1.Condition{
		{Type: "Running", Status: metav1.ConditionTrue, Reason: "Running", Message: "The virtual machine runs on virtlab-pt-2", LastTransitionTime: when},
		{Type: "AgentReady", Status: metav1.ConditionFalse, Reason: "AgentNotReady", Message: "The guest agent is not connected", LastTransitionTime: when},
		{Type: "SizingPolicyMatched", Status: metav1.ConditionTrue, Reason: "SizingPolicyMatched", Message: "", LastTransitionTime: when},
	}
	vm.Status.Phase = v1alpha2.MachineRunning
	vm.Status.Conditions = want
	if _, err := vms.UpdateStatus(ctx, vm, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("UpdateStatus: %v", err)
	}
	out := mustKubectl(t, "", "describe", "vm", "linux-vm", "-n", ns)
	for _, head := range []string{"Name:", "Namespace:", "API Version:", "Kind:", "Spec:", "Status:"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(head)).MatchString(out) {
			t.Errorf("describe has no %q section:\n%s", head, out)
		}
	}
	if !regexp.MustCompile(`(?m)^Name:\s+linux-vm$`).MatchString(out) || !regexp.MustCompile(`(?m)^Kind:\s+VirtualMachine$`).MatchString(out) {
		t.Errorf("describe does not name the VM:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^  Phase:\s+Running$`).MatchString(out) {
		t.Errorf("describe does not show Phase Running:\n%s", out)
	}
	got := verbsDescribeConditions(out)
	if len(got) != len(want) {
		t.Fatalf("describe shows %d conditions, want %d:\n%s", len(got), len(want), out)
	}
	for i, w := range want {
		g := got[i]
		if g["Type"] != w.Type || g["Status"] != string(w.Status) || g["Reason"] != w.Reason || g["Message"] != w.Message {
			t.Errorf("condition %d: describe shows %v, want type %s status %s reason %s message %q", i, g, w.Type, w.Status, w.Reason, w.Message)
		}
		if g["Last Transition Time"] != "2024-10-04T07:45:05Z" {
			t.Errorf("condition %s: Last Transition Time %q", w.Type, g["Last Transition Time"])
		}
	}
}

// ---------------------------------------------------------------------------------------
// kubectl explain

// explainFields reads the FIELDS section of kubectl explain: field name -> (type line,
// description).
type explainField struct {
	Type        string
	Required    bool
	Description string
}

var explainFieldRe = regexp.MustCompile(`^  ([A-Za-z0-9]+)\t<([^>]*)>( -required-)?$`)

func explainFields(out string) map[string]explainField {
	fields := map[string]explainField{}
	lines := strings.Split(out, "\n")
	in := false
	for i, l := range lines {
		if l == "FIELDS:" {
			in = true
			continue
		}
		if !in {
			continue
		}
		m := explainFieldRe.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		f := explainField{Type: m[2], Required: m[3] != ""}
		var desc []string
		rest := lines[i+1:]
		// kubectl prints the allowed values of an enum field on the line after its name.
		if len(rest) > 0 && strings.HasPrefix(rest[0], "  enum: ") {
			rest = rest[1:]
		}
		for _, d := range rest {
			if !strings.HasPrefix(d, "    ") {
				break
			}
			desc = append(desc, strings.TrimSpace(d))
		}
		f.Description = strings.Join(desc, " ")
		fields[m[1]] = f
	}
	return fields
}

// explainHeader checks the GROUP/KIND/VERSION lines and returns the DESCRIPTION text.
func explainHeader(t *testing.T, out, kind string) string {
	t.Helper()
	for _, re := range []string{`(?m)^GROUP:\s+` + regexp.QuoteMeta(virtGroup) + `$`, `(?m)^KIND:\s+` + kind + `$`, `(?m)^VERSION:\s+v1alpha2$`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("explain: no line matching %s:\n%s", re, out)
		}
	}
	_, after, ok := strings.Cut(out, "DESCRIPTION:\n")
	if !ok {
		t.Errorf("explain: no DESCRIPTION:\n%s", out)
		return ""
	}
	desc, _, _ := strings.Cut(after, "\nFIELDS:")
	return strings.TrimSpace(desc)
}

// explainExtraSpec are the spec fields the server has beyond the reference, because the user
// guide sets them (README: "Two fields outside the upstream v1alpha2 schema are accepted").
var explainExtraSpec = map[string][]string{
	"VirtualDiskSnapshot":    {"volumeSnapshotClassName"},
	"VirtualMachineSnapshot": {"volumeSnapshotClasses"},
}

var refEnumRe = regexp.MustCompile(`enum=\[([^\]]*)\]`)
var refRequiredRe = regexp.MustCompile(`(?:\[|; )required(?:;|\]|$)`)

// TestKubectlExplain: `kubectl explain` works for each of the twelve kinds by short name,
// shows a description of the kind and of each field, lists every spec and status field of the
// reference, marks the required ones, and shows the allowed values of enum fields.
func TestKubectlExplain(t *testing.T) {
	ref := apiRef(t)
	explainWaitOpenAPI(t)
	for _, kind := range apiRefKinds {
		k := ref[kind]
		short := k.ShortNames[0]
		t.Run(kind, func(t *testing.T) {
			out := mustKubectl(t, "", "explain", short)
			if byPlural := mustKubectl(t, "", "explain", k.Plural); byPlural != out {
				t.Errorf("explain %s and explain %s differ:\n%s\n---\n%s", short, k.Plural, out, byPlural)
			}
			if d := explainHeader(t, out, kind); d == "" || d == "<empty>" {
				t.Errorf("explain %s: no description of the kind:\n%s", short, out)
			}
			top := explainFields(out)
			for _, f := range []string{"apiVersion", "kind", "metadata", "spec", "status"} {
				if _, ok := top[f]; !ok {
					t.Errorf("explain %s: no field %s:\n%s", short, f, out)
				}
			}
			for _, part := range []string{"spec", "status"} {
				out := mustKubectl(t, "", "explain", short+"."+part)
				explainHeader(t, out, kind)
				got := explainFields(out)
				want := map[string]string{}
				for path, attrs := range k.Fields {
					if name, ok := strings.CutPrefix(path, part+"."); ok && !strings.ContainsAny(name, ".[{") {
						want[name] = attrs
					}
				}
				if len(want) == 0 {
					t.Fatalf("the reference has no %s fields for %s", part, kind)
				}
				for name, attrs := range want {
					f, ok := got[name]
					if !ok {
						t.Errorf("explain %s.%s: no field %s (reference: %s)", short, part, name, attrs)
						continue
					}
					if f.Description == "" || f.Description == "<no description>" {
						t.Errorf("explain %s.%s: field %s has no description", short, part, name)
					}
					if req := refRequiredRe.MatchString(attrs); req != f.Required {
						t.Errorf("explain %s.%s: field %s required=%v, reference says %v (%s)", short, part, name, f.Required, req, attrs)
					}
				}
				for name := range got {
					if _, ok := want[name]; ok {
						continue
					}
					extra := false
					for _, x := range explainExtraSpec[kind] {
						extra = extra || (part == "spec" && x == name)
					}
					if !extra {
						t.Errorf("explain %s.%s: field %s is not in the reference", short, part, name)
					}
				}
			}
		})
	}

	t.Run("vm.spec.cpu", func(t *testing.T) {
		out := mustKubectl(t, "", "explain", "vm.spec.cpu")
		explainHeader(t, out, "VirtualMachine")
		if !strings.Contains(out, "FIELD: cpu <") {
			t.Errorf("explain vm.spec.cpu does not name the field:\n%s", out)
		}
		got := explainFields(out)
		if f := got["cores"]; f.Type != "integer" || !f.Required || f.Description == "" {
			t.Errorf("cores: %+v\n%s", f, out)
		}
		if f := got["coreFraction"]; f.Type != "string" || f.Required || f.Description == "" {
			t.Errorf("coreFraction: %+v\n%s", f, out)
		}
	})
	t.Run("cvi.spec.dataSource", func(t *testing.T) {
		out := mustKubectl(t, "", "explain", "cvi.spec.dataSource")
		explainHeader(t, out, "ClusterVirtualImage")
		got := explainFields(out)
		for _, f := range []string{"type", "http", "containerImage", "objectRef", "upload"} {
			if got[f].Description == "" {
				t.Errorf("explain cvi.spec.dataSource: field %s missing or without description:\n%s", f, out)
			}
		}
		if !got["type"].Required {
			t.Errorf("explain cvi.spec.dataSource: type is not marked required:\n%s", out)
		}
	})
	t.Run("plural and kind names", func(t *testing.T) {
		for _, args := range [][]string{{"virtualmachines.spec.memory"}, {"VirtualMachine.spec.memory"}, {"virtualmachine.spec.memory", "--api-version=" + virtGroup + "/v1alpha2"}} {
			name := strings.Join(args, " ")
			out := mustKubectl(t, "", append([]string{"explain"}, args...)...)
			explainHeader(t, out, "VirtualMachine")
			if explainFields(out)["size"].Description == "" {
				t.Errorf("explain %s: no described size field:\n%s", name, out)
			}
		}
	})

	// The allowed values of an enum field are part of its schema: kubectl explain shows them
	// as "ENUM:" for the field, as it does for the upstream CRDs and for built-in kinds.
	t.Run("enum values", func(t *testing.T) {
		// Control: the same reading of kube-apiserver's own Service type finds its values.
		if got := explainEnum(mustKubectl(t, "", "explain", "svc.spec.type")); strings.Join(got, ",") != "ClusterIP,ExternalName,LoadBalancer,NodePort" {
			t.Fatalf("reading ENUM of `kubectl explain svc.spec.type` gives %v", got)
		}
		var missing []string
		checked := 0
		for _, kind := range apiRefKinds {
			k := ref[kind]
			var paths []string
			for path, attrs := range k.Fields {
				if strings.HasPrefix(path, "spec.") && strings.Count(path, ".") <= 2 && !strings.ContainsAny(path, "[{") && refEnumRe.MatchString(attrs) {
					paths = append(paths, path)
				}
			}
			sort.Strings(paths)
			for _, path := range paths {
				var values []string
				if err := json.Unmarshal([]byte("["+refEnumRe.FindStringSubmatch(k.Fields[path])[1]+"]"), &values); err != nil {
					t.Fatalf("%s %s: enum: %v", kind, path, err)
				}
				got := explainEnum(mustKubectl(t, "", "explain", k.ShortNames[0]+"."+path))
				checked++
				sort.Strings(values)
				sort.Strings(got)
				if strings.Join(got, ",") != strings.Join(values, ",") {
					missing = append(missing, fmt.Sprintf("%s.%s: ENUM %v, reference %v", k.ShortNames[0], path, got, values))
				}
			}
		}
		if checked < 10 {
			t.Errorf("only %d enum fields found in the reference", checked)
		}
		if len(missing) > 0 {
			t.Errorf("kubectl explain does not show the allowed values of %d of %d enum fields of the reference (e.g. `kubectl explain vm.spec.runPolicy` lists no ENUM: AlwaysOn, AlwaysOff, Manual, AlwaysOnUnlessStoppedManually); the published OpenAPI schema has no enum:\n  %s",
				len(missing), checked, strings.Join(missing, "\n  "))
		}
	})
}

// explainWaitOpenAPI waits (at most 30 s) until kube-apiserver's aggregated OpenAPI v3, which
// kubectl explain reads, lists our group. kube-apiserver fetches it from our server on its own
// schedule: right after the stack starts it can lag the APIService by about a second.
func explainWaitOpenAPI(t *testing.T) {
	t.Helper()
	start := time.Now()
	for {
		out, err := kubectl(t, "", "get", "--raw", "/openapi/v3")
		if err == nil && strings.Contains(out, `"apis/`+virtGroup+`/v1alpha2"`) {
			if d := time.Since(start); d > time.Second {
				t.Logf("the aggregated OpenAPI listed %s/v1alpha2 after %s", virtGroup, d.Round(time.Millisecond))
			}
			return
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("kube-apiserver's /openapi/v3 does not list %s/v1alpha2 after 30s: %v\n%s", virtGroup, err, out)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// explainEnum reads the ENUM: list of `kubectl explain <field>`.
func explainEnum(out string) []string {
	_, after, ok := strings.Cut(out, "\nENUM:\n")
	if !ok {
		return nil
	}
	var values []string
	for _, l := range strings.Split(after, "\n") {
		if !strings.HasPrefix(l, "    ") {
			break
		}
		values = append(values, strings.TrimSpace(l))
	}
	return values
}

// ---------------------------------------------------------------------------------------
// Discovery: api-resources, categories

// TestKubectlAPIResources: `kubectl api-resources --api-group=virtualization.deckhouse.io -o
// wide` lists exactly the twelve kinds with the reference's short names (in order), scope,
// kind, verbs and categories.
func TestKubectlAPIResources(t *testing.T) {
	ref := apiRef(t)
	out := mustKubectl(t, "", "api-resources", "--api-group="+virtGroup, "-o", "wide")
	tables := kubeTables(out)
	if len(tables) != 1 {
		t.Fatalf("api-resources printed %d tables:\n%s", len(tables), out)
	}
	tb := tables[0]
	cols := []string{"NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND", "VERBS", "CATEGORIES"}
	if got := tb.Columns(); got != strings.Join(cols, " ") {
		t.Fatalf("api-resources header %q", got)
	}
	if len(tb.Rows) != len(apiRefKinds) {
		t.Errorf("api-resources lists %d resources, want %d:\n%s", len(tb.Rows), len(apiRefKinds), out)
	}
	rows := map[string]map[string]string{}
	for _, r := range tb.Rows {
		cells, err := tb.Cells(r, cols)
		if err != nil {
			t.Fatal(err)
		}
		rows[cells["NAME"]] = cells
	}
	for _, kind := range apiRefKinds {
		k := ref[kind]
		c, ok := rows[k.Plural]
		if !ok {
			t.Errorf("api-resources does not list %s:\n%s", k.Plural, out)
			continue
		}
		want := map[string]string{
			"SHORTNAMES": strings.Join(k.ShortNames, ","),
			"APIVERSION": virtGroup + "/v1alpha2",
			"NAMESPACED": fmt.Sprint(k.Namespaced),
			"KIND":       k.Kind,
			"VERBS":      "create,delete,deletecollection,get,list,patch,update,watch",
			"CATEGORIES": strings.Join(k.Categories, ","),
		}
		for col, w := range want {
			if c[col] != w {
				t.Errorf("%s: %s is %q, want %q", k.Plural, col, c[col], w)
			}
		}
	}
	// The short names without -o wide, as a user lists them first.
	out = mustKubectl(t, "", "api-resources", "--api-group="+virtGroup)
	for _, kind := range apiRefKinds {
		k := ref[kind]
		if !regexp.MustCompile(`(?m)^` + k.Plural + `\s+` + regexp.QuoteMeta(strings.Join(k.ShortNames, ",")) + `\s`).MatchString(out) {
			t.Errorf("api-resources: no row %s %s:\n%s", k.Plural, strings.Join(k.ShortNames, ","), out)
		}
	}
}

// TestKubectlCategories: `kubectl get virtualization -A` lists an object of every namespaced
// kind of the virtualization category, `kubectl get virtualization-cluster` the cluster kinds
// and `kubectl get all` includes VMs (and only VMs of our group).
func TestKubectlCategories(t *testing.T) {
	ref := apiRef(t)
	ns := namespace(t, "categories")
	var inCategory, clusterKinds, inAll []*apiRefKind
	for _, kind := range apiRefKinds {
		k := ref[kind]
		for _, c := range k.Categories {
			switch c {
			case "virtualization":
				inCategory = append(inCategory, k)
			case "virtualization-cluster":
				clusterKinds = append(clusterKinds, k)
			case "all":
				inAll = append(inAll, k)
			}
		}
	}
	if len(inCategory) != 9 || len(clusterKinds) != 3 || len(inAll) != 1 || inAll[0].Kind != "VirtualMachine" {
		t.Fatalf("reference categories changed: %d virtualization, %d virtualization-cluster, %d all", len(inCategory), len(clusterKinds), len(inAll))
	}
	names := map[string]string{}
	for _, k := range inCategory {
		if !k.Namespaced {
			t.Errorf("%s is in category virtualization but cluster-scoped", k.Kind)
		}
		names[k.Kind] = "cat-" + k.ShortNames[0]
		colCreate(t, k, names[k.Kind], ns)
	}
	for _, k := range clusterKinds {
		names[k.Kind] = "e2e-categories-" + k.ShortNames[0]
		colCreate(t, k, names[k.Kind], ns)
	}

	out := mustKubectl(t, "", "get", "virtualization", "-A")
	tables := kubeTables(out)
	for _, k := range inCategory {
		found := false
		for _, tb := range tables {
			if row, ok := tb.Row(ns, names[k.Kind]); ok && strings.Fields(row)[1] == k.Printed(names[k.Kind]) {
				found = true
				if got, want := tb.Columns(), "NAMESPACE "+k.Header(false); got != want {
					t.Errorf("get virtualization -A: %s header %q, want %q", k.Kind, got, want)
				}
			}
		}
		if !found {
			t.Errorf("get virtualization -A does not list %s in %s:\n%s", k.Printed(names[k.Kind]), ns, out)
		}
	}
	for _, k := range clusterKinds {
		if strings.Contains(out, k.Printed("")) {
			t.Errorf("get virtualization -A lists the cluster kind %s:\n%s", k.Kind, out)
		}
	}

	out = mustKubectl(t, "", "get", "virtualization-cluster")
	for _, k := range clusterKinds {
		if !strings.Contains(out, k.Printed(names[k.Kind])+" ") {
			t.Errorf("get virtualization-cluster does not list %s:\n%s", k.Printed(names[k.Kind]), out)
		}
	}

	out = mustKubectl(t, "", "get", "all", "-n", ns)
	if !strings.Contains(out, "virtualmachine.virtualization.deckhouse.io/"+names["VirtualMachine"]+" ") {
		t.Errorf("get all does not list the VM:\n%s", out)
	}
	for _, k := range inCategory {
		if k.Kind != "VirtualMachine" && strings.Contains(out, k.Printed("")) {
			t.Errorf("get all lists %s, which is not in category all:\n%s", k.Kind, out)
		}
	}
}

// ---------------------------------------------------------------------------------------
// Writing verbs

func verbsGetJSON(t *testing.T, args ...string) map[string]interface{} {
	t.Helper()
	return colJSON(t, mustKubectl(t, "", append(append([]string{"get"}, args...), "-o", "json")...))
}

// jsonAt reads a nested value: jsonAt(obj, "spec", "cpu", "cores").
func jsonAt(obj interface{}, path ...string) interface{} {
	for _, p := range path {
		m, ok := obj.(map[string]interface{})
		if !ok {
			return nil
		}
		obj = m[p]
	}
	return obj
}

// TestKubectlServerSideApply: create and update with `kubectl apply --server-side`; the
// field manager owns the fields it applied; another manager's different value conflicts
// unless forced, which moves the ownership.
func TestKubectlServerSideApply(t *testing.T) {
	ns := namespace(t, "ssa")
	vm := colFill(verbsVM, "ssa-vm", ns)
	out := mustKubectl(t, vm, "apply", "--server-side", "--field-manager=vm-owner", "-f", "-")
	if !strings.Contains(out, "virtualmachine.virtualization.deckhouse.io/ssa-vm serverside-applied") {
		t.Fatalf("create: %s", out)
	}
	obj := verbsGetJSON(t, "vm", "ssa-vm", "-n", ns, "--show-managed-fields")
	if g := jsonAt(obj, "metadata", "generation"); g != 1.0 {
		t.Errorf("generation after create %v, want 1", g)
	}
	if rv := jsonAt(obj, "spec", "runPolicy"); rv != "AlwaysOnUnlessStoppedManually" {
		t.Errorf("runPolicy default %v", rv)
	}

	out = mustKubectl(t, strings.Replace(vm, "cores: 1", "cores: 2", 1), "apply", "--server-side", "--field-manager=vm-owner", "-f", "-")
	if !strings.Contains(out, "serverside-applied") {
		t.Fatalf("update: %s", out)
	}
	obj = verbsGetJSON(t, "vm", "ssa-vm", "-n", ns, "--show-managed-fields")
	if c := jsonAt(obj, "spec", "cpu", "cores"); c != 2.0 {
		t.Errorf("cores after the update %v, want 2", c)
	}
	if g := jsonAt(obj, "metadata", "generation"); g != 2.0 {
		t.Errorf("generation after the spec update %v, want 2", g)
	}
	owner := verbsManager(t, obj, "vm-owner")
	if owner == nil || owner["operation"] != "Apply" || owner["apiVersion"] != virtGroup+"/v1alpha2" {
		t.Fatalf("managedFields entry of vm-owner: %v", owner)
	}
	for _, path := range [][]string{{"f:spec", "f:cpu", "f:cores"}, {"f:spec", "f:cpu", "f:coreFraction"}, {"f:spec", "f:virtualMachineClassName"}, {"f:metadata", "f:labels", "f:app"}} {
		if jsonAt(owner["fieldsV1"], path...) == nil {
			t.Errorf("vm-owner does not own %v: %v", path, owner["fieldsV1"])
		}
	}

	intruder := strings.Replace(vm, "cores: 1", "cores: 4", 1)
	out, err := kubectl(t, intruder, "apply", "--server-side", "--field-manager=intruder", "-f", "-")
	if err == nil || !strings.Contains(out, "conflict") || !strings.Contains(out, `"vm-owner"`) || !strings.Contains(out, ".spec.cpu.cores") {
		t.Errorf("a second manager changing cores: want a conflict with vm-owner on .spec.cpu.cores, got %v:\n%s", err, out)
	}
	mustKubectl(t, intruder, "apply", "--server-side", "--field-manager=intruder", "--force-conflicts", "-f", "-")
	obj = verbsGetJSON(t, "vm", "ssa-vm", "-n", ns, "--show-managed-fields")
	if c := jsonAt(obj, "spec", "cpu", "cores"); c != 4.0 {
		t.Errorf("cores after the forced apply %v, want 4", c)
	}
	if jsonAt(verbsManager(t, obj, "intruder")["fieldsV1"], "f:spec", "f:cpu", "f:cores") == nil {
		t.Errorf("intruder does not own spec.cpu.cores after --force-conflicts")
	}
	if jsonAt(verbsManager(t, obj, "vm-owner")["fieldsV1"], "f:spec", "f:cpu", "f:cores") != nil {
		t.Errorf("vm-owner still owns spec.cpu.cores after intruder forced it")
	}
}

func verbsManager(t *testing.T, obj map[string]interface{}, manager string) map[string]interface{} {
	t.Helper()
	mf, _ := jsonAt(obj, "metadata", "managedFields").([]interface{})
	for _, e := range mf {
		if m, ok := e.(map[string]interface{}); ok && m["manager"] == manager {
			return m
		}
	}
	t.Errorf("no managedFields entry for %s: %v", manager, mf)
	return map[string]interface{}{}
}

// verbsSeedCommand finds a command of the user guide by its first arguments.
func verbsSeedCommand(t *testing.T, prefix ...string) seeds.Command {
	t.Helper()
	dir, err := seeds.Dir()
	if err != nil {
		t.Skipf("no seeds: %v", err)
	}
	cmds, err := seeds.Commands(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		if len(c.Args) >= len(prefix) && strings.Join(c.Args[:len(prefix)], " ") == strings.Join(prefix, " ") {
			return c
		}
	}
	t.Fatalf("the seeds have no command `kubectl %s ...`", strings.Join(prefix, " "))
	return seeds.Command{}
}

// verbsSeedManifest finds a manifest of the user guide by kind and name (the first one).
func verbsSeedManifest(t *testing.T, kind, name string) seeds.Manifest {
	t.Helper()
	dir, err := seeds.Dir()
	if err != nil {
		t.Skipf("no seeds: %v", err)
	}
	ms, _, err := seeds.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Kind == kind && m.Name == name && m.Lang == "en" {
			return m
		}
	}
	t.Fatalf("the seeds have no %s %s", kind, name)
	return seeds.Manifest{}
}

// TestKubectlPatch: the user guide's disk resize (`kubectl patch vd linux-vm-root --type merge`
// from 10Gi to 11Gi) is stored; shrinking is refused naming spec.persistentVolumeClaim.size;
// a JSON patch changes a field and one removing a required field is refused; the guide's VM
// core change is applied.
func TestKubectlPatch(t *testing.T) {
	ns := namespace(t, "patch")
	disk := verbsSeedManifest(t, "VirtualDisk", "linux-vm-root")
	if !strings.Contains(string(disk.YAML), "size: 10Gi") {
		t.Fatalf("the guide's disk %s is not 10Gi:\n%s", disk.Pos(), disk.YAML)
	}
	mustKubectl(t, string(disk.YAML), "apply", "-n", ns, "-f", "-")

	resize := verbsSeedCommand(t, "patch", "vd", "linux-vm-root")
	out := mustKubectl(t, "", append(append([]string{}, resize.Args...), "-n", ns)...)
	if !strings.Contains(out, "virtualdisk.virtualization.deckhouse.io/linux-vm-root patched") {
		t.Errorf("%s: %s", resize.Text, out)
	}
	obj := verbsGetJSON(t, "vd", "linux-vm-root", "-n", ns)
	if s := jsonAt(obj, "spec", "persistentVolumeClaim", "size"); s != "11Gi" {
		t.Errorf("size after %q: %v, want 11Gi", resize.Text, s)
	}
	if g := jsonAt(obj, "metadata", "generation"); g != 2.0 {
		t.Errorf("generation after the resize %v, want 2", g)
	}

	out, err := kubectl(t, "", "patch", "vd", "linux-vm-root", "-n", ns, "--type", "merge", "-p", `{"spec":{"persistentVolumeClaim":{"size":"10Gi"}}}`)
	if err == nil || !strings.Contains(out, "spec.persistentVolumeClaim.size") || !strings.Contains(out, "is invalid") {
		t.Errorf("shrinking the disk to 10Gi: want refused naming spec.persistentVolumeClaim.size, got %v:\n%s", err, out)
	}
	if s := jsonAt(verbsGetJSON(t, "vd", "linux-vm-root", "-n", ns), "spec", "persistentVolumeClaim", "size"); s != "11Gi" {
		t.Errorf("size after the refused shrink: %v, want 11Gi", s)
	}

	out = mustKubectl(t, "", "patch", "vd", "linux-vm-root", "-n", ns, "--type", "json", "-p",
		`[{"op":"test","path":"/spec/persistentVolumeClaim/size","value":"11Gi"},{"op":"replace","path":"/spec/persistentVolumeClaim/size","value":"12Gi"},{"op":"add","path":"/metadata/labels","value":{"tier":"gold"}}]`)
	if !strings.Contains(out, "patched") {
		t.Errorf("json patch: %s", out)
	}
	obj = verbsGetJSON(t, "vd", "linux-vm-root", "-n", ns)
	if s := jsonAt(obj, "spec", "persistentVolumeClaim", "size"); s != "12Gi" {
		t.Errorf("size after the json patch %v, want 12Gi", s)
	}
	if l := jsonAt(obj, "metadata", "labels", "tier"); l != "gold" {
		t.Errorf("label after the json patch %v", l)
	}
	out, err = kubectl(t, "", "patch", "vd", "linux-vm-root", "-n", ns, "--type", "json", "-p",
		`[{"op":"test","path":"/spec/persistentVolumeClaim/size","value":"11Gi"},{"op":"replace","path":"/spec/persistentVolumeClaim/size","value":"20Gi"}]`)
	if err == nil || !strings.Contains(out, "invalid") {
		t.Errorf("a json patch whose test fails must be refused, got %v:\n%s", err, out)
	}
	if s := jsonAt(verbsGetJSON(t, "vd", "linux-vm-root", "-n", ns), "spec", "persistentVolumeClaim", "size"); s != "12Gi" {
		t.Errorf("size after the refused json patch %v, want 12Gi", s)
	}

	verbsCreateVM(t, ns, "linux-vm")
	out, err = kubectl(t, "", "patch", "vm", "linux-vm", "-n", ns, "--type", "json", "-p", `[{"op":"remove","path":"/spec/virtualMachineClassName"}]`)
	if err == nil || !strings.Contains(out, "spec.virtualMachineClassName") {
		t.Errorf("removing the class with a json patch: want refused naming spec.virtualMachineClassName, got %v:\n%s", err, out)
	}
	cores := verbsSeedCommand(t, "patch", "vm", "linux-vm")
	out = mustKubectl(t, "", append(append([]string{}, cores.Args...), "-n", ns)...)
	if !strings.Contains(out, "virtualmachine.virtualization.deckhouse.io/linux-vm patched") {
		t.Errorf("%s: %s", cores.Text, out)
	}
	if c := jsonAt(verbsGetJSON(t, "vm", "linux-vm", "-n", ns), "spec", "cpu", "cores"); c != 2.0 {
		t.Errorf("cores after %q: %v, want 2", cores.Text, c)
	}
}

// TestKubectlEdit: `kubectl edit` with an editor script changes a label and cpu.coreFraction;
// an edit the server refuses leaves the VM as it was and the saved copy names the field.
func TestKubectlEdit(t *testing.T) {
	ns := namespace(t, "edit")
	verbsCreateVM(t, ns, "linux-vm")
	dir := t.TempDir()
	good := filepath.Join(dir, "edit.sh")
	if err := os.WriteFile(good, []byte("#!/bin/sh\nsed -i -e 's/^    app: old$/    app: edited/' -e 's/coreFraction: 10%/coreFraction: 50%/' \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBE_EDITOR", good)
	t.Setenv("TMPDIR", dir)
	out := mustKubectl(t, "", "edit", "vm", "linux-vm", "-n", ns)
	if !strings.Contains(out, "virtualmachine.virtualization.deckhouse.io/linux-vm edited") {
		t.Errorf("edit: %s", out)
	}
	obj := verbsGetJSON(t, "vm", "linux-vm", "-n", ns)
	if l := jsonAt(obj, "metadata", "labels", "app"); l != "edited" {
		t.Errorf("label app after edit: %v, want edited", l)
	}
	if cf := jsonAt(obj, "spec", "cpu", "coreFraction"); cf != "50%" {
		t.Errorf("coreFraction after edit: %v, want 50%%", cf)
	}
	if g := jsonAt(obj, "metadata", "generation"); g != 2.0 {
		t.Errorf("generation after edit: %v, want 2", g)
	}

	bad := filepath.Join(dir, "bad.sh")
	if err := os.WriteFile(bad, []byte("#!/bin/sh\nsed -i -e 's/coreFraction: 50%/coreFraction: 150%/' \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBE_EDITOR", bad)
	out, err := kubectl(t, "", "edit", "vm", "linux-vm", "-n", ns)
	if err == nil || !strings.Contains(out, "is invalid") {
		t.Errorf("edit to coreFraction 150%%: want refused, got %v:\n%s", err, out)
	}
	// kubectl reopens the editor with the server's errors on top, then keeps that copy.
	saved, _ := filepath.Glob(filepath.Join(dir, "kubectl-edit-*.yaml"))
	named := false
	for _, f := range saved {
		data, _ := os.ReadFile(f)
		named = named || regexp.MustCompile(`(?m)^# .*spec\.cpu\.coreFraction: Invalid value: "150%"`).Match(data)
	}
	if !named {
		t.Errorf("no copy of the refused edit names spec.cpu.coreFraction (%d copies):\n%s", len(saved), out)
	}
	if cf := jsonAt(verbsGetJSON(t, "vm", "linux-vm", "-n", ns), "spec", "cpu", "coreFraction"); cf != "50%" {
		t.Errorf("coreFraction after the refused edit: %v, want 50%%", cf)
	}
}

// TestKubectlLabelDelete: `kubectl label` adds, refuses to overwrite without --overwrite,
// overwrites and removes labels, and selectors find the VM by them; `kubectl delete` removes
// it and a second delete reports NotFound.
func TestKubectlLabelDelete(t *testing.T) {
	ns := namespace(t, "label")
	verbsCreateVM(t, ns, "linux-vm")
	verbsCreateVM(t, ns, "other-vm")
	out := mustKubectl(t, "", "label", "vm", "linux-vm", "-n", ns, "tier=gold")
	if !strings.Contains(out, "virtualmachine.virtualization.deckhouse.io/linux-vm labeled") {
		t.Errorf("label: %s", out)
	}
	if got := strings.TrimSpace(mustKubectl(t, "", "get", "vm", "-n", ns, "-l", "tier=gold", "-o", "name")); got != "virtualmachine.virtualization.deckhouse.io/linux-vm" {
		t.Errorf("get -l tier=gold: %q", got)
	}
	out, err := kubectl(t, "", "label", "vm", "linux-vm", "-n", ns, "tier=silver")
	if err == nil || !strings.Contains(out, "already has a value (gold)") {
		t.Errorf("relabel without --overwrite: %v\n%s", err, out)
	}
	mustKubectl(t, "", "label", "vm", "linux-vm", "-n", ns, "tier=silver", "--overwrite")
	if l := jsonAt(verbsGetJSON(t, "vm", "linux-vm", "-n", ns), "metadata", "labels", "tier"); l != "silver" {
		t.Errorf("tier after --overwrite: %v", l)
	}
	mustKubectl(t, "", "label", "vm", "linux-vm", "-n", ns, "tier-")
	obj := verbsGetJSON(t, "vm", "linux-vm", "-n", ns)
	if l := jsonAt(obj, "metadata", "labels", "tier"); l != nil {
		t.Errorf("tier after removal: %v", l)
	}
	if g := jsonAt(obj, "metadata", "generation"); g != 1.0 {
		t.Errorf("label changes bumped the generation to %v", g)
	}

	out = mustKubectl(t, "", "delete", "vm", "linux-vm", "-n", ns)
	if !strings.Contains(out, `virtualmachine.virtualization.deckhouse.io "linux-vm" deleted`) {
		t.Errorf("delete: %s", out)
	}
	out, err = kubectl(t, "", "get", "vm", "linux-vm", "-n", ns)
	if err == nil || !strings.Contains(out, "NotFound") {
		t.Errorf("get after delete: %v\n%s", err, out)
	}
	out, err = kubectl(t, "", "delete", "vm", "linux-vm", "-n", ns)
	if err == nil || !strings.Contains(out, "NotFound") {
		t.Errorf("second delete: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(mustKubectl(t, "", "get", "vm", "-n", ns, "-o", "name")); got != "virtualmachine.virtualization.deckhouse.io/other-vm" {
		t.Errorf("the other VM is affected by the delete: %q", got)
	}
}
