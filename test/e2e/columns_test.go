package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/virtplane/virtplane/test/seeds"
)

// ---------------------------------------------------------------------------------------
// The API reference (../shared/api-reference): names, scope, categories, printer columns and
// fields of each kind. It is the contract the tables, api-resources and explain must follow.

const virtGroup = "virtualization.deckhouse.io"

// apiRefKinds are the twelve kinds the server must serve, in a fixed order.
var apiRefKinds = []string{
	"ClusterVirtualImage", "VirtualImage", "VirtualDisk", "VirtualDiskSnapshot",
	"VirtualMachine", "VirtualMachineClass", "VirtualMachineOperation",
	"VirtualMachineBlockDeviceAttachment", "VirtualMachineIPAddress",
	"VirtualMachineIPAddressLease", "VirtualMachineSnapshot", "VirtualMachineRestore",
}

type apiRefColumn struct {
	Name     string // as written in the reference, e.g. "Need restart"
	JSONPath string
	Priority int
}

type apiRefKind struct {
	Kind       string
	Plural     string
	Singular   string
	ShortNames []string
	Categories []string
	Namespaced bool
	Columns    []apiRefColumn
	// Fields maps a field path (spec.cpu.cores) to the rest of its line (type and attributes).
	Fields map[string]string
}

// Resource is the fully qualified resource name for kubectl.
func (k *apiRefKind) Resource() string { return k.Plural + "." + virtGroup }

// Printed is how kubectl names an object of the kind when it lists several kinds or prints
// what it changed: <singular>.<group>/<name>.
func (k *apiRefKind) Printed(name string) string { return k.Singular + "." + virtGroup + "/" + name }

// ColumnNames are the table columns kubectl prints: NAME, then the printer columns of
// priority 0 (all of them with -o wide), upper-cased as kubectl prints them.
func (k *apiRefKind) ColumnNames(wide bool) []string {
	names := []string{"NAME"}
	for _, c := range k.Columns {
		if c.Priority == 0 || wide {
			names = append(names, strings.ToUpper(c.Name))
		}
	}
	return names
}

// Header is ColumnNames as one line, words separated by single spaces.
func (k *apiRefKind) Header(wide bool) string { return strings.Join(k.ColumnNames(wide), " ") }

var (
	apiRefOnce   sync.Once
	apiRefLoaded map[string]*apiRefKind
	apiRefErr    error
	apiRefMiss   string
)

// apiRefDir is ../shared/api-reference, found beside the seeds.
func apiRefDir() (string, error) {
	d, err := seeds.Dir()
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(d), "api-reference"), nil
}

// apiRef loads the reference of the twelve kinds, by kind. The test is skipped when the
// shared documentation is not next to the repository.
func apiRef(t *testing.T) map[string]*apiRefKind {
	t.Helper()
	apiRefOnce.Do(func() {
		dir, err := apiRefDir()
		if err != nil {
			apiRefMiss = err.Error()
			return
		}
		if _, err := os.Stat(dir); err != nil {
			apiRefMiss = err.Error()
			return
		}
		apiRefLoaded = map[string]*apiRefKind{}
		for _, kind := range apiRefKinds {
			k, err := parseAPIRef(filepath.Join(dir, kind+"-v1alpha2.txt"))
			if err != nil {
				apiRefErr = err
				return
			}
			if k.Kind != kind {
				apiRefErr = fmt.Errorf("%s-v1alpha2.txt describes %q", kind, k.Kind)
				return
			}
			apiRefLoaded[kind] = k
		}
	})
	if apiRefMiss != "" {
		t.Skipf("no API reference: %s", apiRefMiss)
	}
	if apiRefErr != nil {
		t.Fatalf("API reference: %v", apiRefErr)
	}
	return apiRefLoaded
}

// apiRefLookup finds a kind by any name kubectl accepts for it: plural, singular, short name
// or kind, optionally qualified with the group.
func apiRefLookup(t *testing.T, name string) *apiRefKind {
	t.Helper()
	name = strings.ToLower(strings.TrimSuffix(name, "."+virtGroup))
	for _, k := range apiRef(t) {
		if name == k.Plural || name == k.Singular || name == strings.ToLower(k.Kind) {
			return k
		}
		for _, s := range k.ShortNames {
			if name == s {
				return k
			}
		}
	}
	return nil
}

var (
	refHeadRe  = regexp.MustCompile(`^# (\w+) \(` + regexp.QuoteMeta(virtGroup) + `/v1alpha2\)$`)
	refListRe  = regexp.MustCompile(`'([^']*)'`)
	refFieldRe = regexp.MustCompile(`^  ([A-Za-z0-9_.\[\]{}]+): (.*)$`)
)

func parseAPIRef(path string) (*apiRefKind, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k := &apiRefKind{Fields: map[string]string{}}
	section := ""
	for i, line := range strings.Split(string(data), "\n") {
		switch {
		case i == 0:
			m := refHeadRe.FindStringSubmatch(line)
			if m == nil {
				return nil, fmt.Errorf("%s: first line %q", path, line)
			}
			k.Kind = m[1]
		case strings.HasPrefix(line, "scope: "):
			k.Namespaced = strings.TrimPrefix(line, "scope: ") == "Namespaced"
		case strings.HasPrefix(line, "plural: "):
			f := strings.Fields(line)
			if len(f) != 4 || f[2] != "singular:" {
				return nil, fmt.Errorf("%s: %q", path, line)
			}
			k.Plural, k.Singular = f[1], f[3]
		case strings.HasPrefix(line, "shortNames: "):
			short, cats, ok := strings.Cut(line, "categories:")
			if !ok {
				return nil, fmt.Errorf("%s: %q", path, line)
			}
			for _, m := range refListRe.FindAllStringSubmatch(short, -1) {
				k.ShortNames = append(k.ShortNames, m[1])
			}
			for _, m := range refListRe.FindAllStringSubmatch(cats, -1) {
				k.Categories = append(k.Categories, m[1])
			}
		case strings.HasPrefix(line, "printer columns"):
			section = "columns"
		case line == "fields:":
			section = "fields"
		case section == "columns" && strings.HasPrefix(line, "  "):
			parts := strings.Split(strings.TrimSpace(line), " | ")
			if len(parts) != 4 {
				return nil, fmt.Errorf("%s: column %q", path, line)
			}
			prio, err := strconv.Atoi(parts[3])
			if err != nil {
				return nil, fmt.Errorf("%s: column %q: %v", path, line, err)
			}
			k.Columns = append(k.Columns, apiRefColumn{Name: parts[0], JSONPath: parts[1], Priority: prio})
		case section == "fields":
			if m := refFieldRe.FindStringSubmatch(line); m != nil {
				k.Fields[m[1]] = m[2]
			}
		}
	}
	if k.Plural == "" || len(k.Columns) == 0 || len(k.Fields) == 0 {
		return nil, fmt.Errorf("%s: incomplete (plural %q, %d columns, %d fields)", path, k.Plural, len(k.Columns), len(k.Fields))
	}
	return k, nil
}

// ---------------------------------------------------------------------------------------
// kubectl's tables

// kubeTable is one table of kubectl's output: a header line and its rows, as printed.
type kubeTable struct {
	Header string
	Rows   []string
}

// Columns is the header with whitespace collapsed.
func (tb kubeTable) Columns() string { return strings.Join(strings.Fields(tb.Header), " ") }

// kubeTables splits kubectl output into tables: a header is a line whose first word is NAME
// (or NAMESPACE with -A); its rows follow up to a blank line or the next header. Warnings
// printed on stderr are dropped.
func kubeTables(out string) []kubeTable {
	var tables []kubeTable
	in := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
			in = false
		case strings.HasPrefix(line, "Warning:"):
		case f[0] == "NAME" || (f[0] == "NAMESPACE" && len(f) > 1 && f[1] == "NAME"):
			tables = append(tables, kubeTable{Header: line})
			in = true
		case in:
			tables[len(tables)-1].Rows = append(tables[len(tables)-1].Rows, line)
		}
	}
	return tables
}

// Row returns the row whose NAME is name, or resource/name as kubectl prints names when it
// lists several kinds (and, with namespace, the row of that namespace with -A).
func (tb kubeTable) Row(namespace, name string) (string, bool) {
	h := strings.Fields(tb.Header)
	for _, r := range tb.Rows {
		f := strings.Fields(r)
		if len(f) == 0 {
			continue
		}
		n := f[0]
		if len(h) > 0 && h[0] == "NAMESPACE" {
			if len(f) < 2 || (namespace != "" && f[0] != namespace) {
				continue
			}
			n = f[1]
		}
		if n == name || strings.HasSuffix(n, "/"+name) {
			return r, true
		}
	}
	return "", false
}

// Cells cuts a row into the named columns, using where each column name starts in the header
// (kubectl aligns cells under their column name). Names may contain spaces ("NEED RESTART").
func (tb kubeTable) Cells(row string, cols []string) (map[string]string, error) {
	starts := make([]int, len(cols))
	from := 0
	for i, c := range cols {
		p := wordIndex(tb.Header, c, from)
		if p < 0 {
			return nil, fmt.Errorf("column %q not found in header %q", c, tb.Header)
		}
		starts[i] = p
		from = p + len(c)
	}
	cells := map[string]string{}
	for i, c := range cols {
		end := len(row)
		if i+1 < len(cols) && starts[i+1] < end {
			end = starts[i+1]
		}
		if starts[i] >= len(row) {
			cells[c] = ""
			continue
		}
		cells[c] = strings.TrimSpace(row[starts[i]:end])
	}
	return cells, nil
}

// wordIndex finds word in s at or after from, as whole words.
func wordIndex(s, word string, from int) int {
	for from <= len(s) {
		i := strings.Index(s[from:], word)
		if i < 0 {
			return -1
		}
		p := from + i
		before := p == 0 || s[p-1] == ' ' || s[p-1] == '\t'
		after := p+len(word) == len(s) || s[p+len(word)] == ' ' || s[p+len(word)] == '\t'
		if before && after {
			return p
		}
		from = p + 1
	}
	return -1
}

// isSubsequence reports whether every word of sub appears in words in the same order.
func isSubsequence(sub, words []string) bool {
	j := 0
	for _, w := range words {
		if j < len(sub) && sub[j] == w {
			j++
		}
	}
	return j == len(sub)
}

// ---------------------------------------------------------------------------------------
// One object per kind, with a status, and the cells kubectl must print for it.

// colAny stands for a cell that must not be empty (AGE, UPTIME: relative times).
const colAny = "<any>"

type colSample struct {
	Manifest string // NAME and NS are replaced
	Status   string // JSON merge patch of the status subresource; NAME and NS are replaced
	Cells    map[string]string
}

var colSamples = map[string]colSample{
	"ClusterVirtualImage": {
		Manifest: `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: ClusterVirtualImage
metadata:
  name: NAME
spec:
  dataSource:
    type: HTTP
    http:
      url: https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img
`,
		Status: `{"status":{"phase":"Ready","cdrom":true,"progress":"100%","size":{"stored":"285Mi","unpacked":"2.5Gi"},"target":{"registryURL":"dvcr.d8-virtualization.svc/cvi/NAME:latest"}}}`,
		Cells: map[string]string{"PHASE": "Ready", "CDROM": "true", "PROGRESS": "100%", "STOREDSIZE": "285Mi",
			"UNPACKEDSIZE": "2.5Gi", "REGISTRY URL": "dvcr.d8-virtualization.svc/cvi/NAME:latest", "AGE": colAny},
	},
	"VirtualImage": {
		Manifest: `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualImage
metadata:
  name: NAME
  namespace: NS
spec:
  storage: ContainerRegistry
  dataSource:
    type: HTTP
    http:
      url: https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img
`,
		Status: `{"status":{"phase":"Ready","progress":"100%","size":{"stored":"285Mi","unpacked":"2.5Gi"},"target":{"registryURL":"dvcr.d8-virtualization.svc/vi/NS/NAME:latest","persistentVolumeClaimName":"vi-NAME-pvc"}}}`,
		Cells: map[string]string{"PHASE": "Ready", "CDROM": "false", "PROGRESS": "100%", "STOREDSIZE": "285Mi",
			"UNPACKEDSIZE": "2.5Gi", "REGISTRY URL": "dvcr.d8-virtualization.svc/vi/NS/NAME:latest",
			"TARGETPVC": "vi-NAME-pvc", "AGE": colAny},
	},
	"VirtualDisk": {
		Manifest: `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualDisk
metadata:
  name: NAME
  namespace: NS
spec:
  persistentVolumeClaim:
    size: 10Gi
  dataSource:
    type: ObjectRef
    objectRef:
      kind: VirtualImage
      name: ubuntu
`,
		Status: `{"status":{"phase":"Ready","capacity":"10Gi","progress":"100%","storageClassName":"local-thin","target":{"persistentVolumeClaimName":"vd-NAME-pvc"},"attachedToVirtualMachines":[{"name":"linux-vm","mounted":true}],"conditions":[{"type":"InUse","status":"True","reason":"AttachedToVirtualMachine","message":"","lastTransitionTime":"2024-10-04T07:45:05Z"}]}}`,
		Cells: map[string]string{"PHASE": "Ready", "CAPACITY": "10Gi", "INUSE": "True", "VIRTUALMACHINE": "linux-vm",
			"PROGRESS": "100%", "STORAGECLASS": "local-thin", "TARGETPVC": "vd-NAME-pvc", "AGE": colAny},
	},
	"VirtualDiskSnapshot": {
		Manifest: `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualDiskSnapshot
metadata:
  name: NAME
  namespace: NS
spec:
  virtualDiskName: linux-vm-root
  requiredConsistency: true
`,
		Status: `{"status":{"phase":"Ready","consistent":true}}`,
		Cells:  map[string]string{"PHASE": "Ready", "CONSISTENT": "true", "AGE": colAny},
	},
	"VirtualMachine": {
		Manifest: `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachine
metadata:
  name: NAME
  namespace: NS
spec:
  virtualMachineClassName: host
  cpu:
    cores: 2
    coreFraction: 50%
  memory:
    size: 2Gi
  blockDeviceRefs:
    - kind: VirtualDisk
      name: linux-vm-root
`,
		Status: `{"status":{"phase":"Running","nodeName":"virtlab-pt-2","ipAddress":"10.66.10.2","stats":{"lastStartTime":"2024-10-04T07:45:05Z"},"resources":{"cpu":{"cores":2,"coreFraction":"50%"},"memory":{"size":"2Gi"}},"conditions":[{"type":"AwaitingRestartToApplyConfiguration","status":"False","reason":"NoRestartRequired","message":"","lastTransitionTime":"2024-10-04T07:45:05Z"},{"type":"AgentReady","status":"True","reason":"AgentReady","message":"","lastTransitionTime":"2024-10-04T07:45:05Z"},{"type":"Migratable","status":"True","reason":"VirtualMachineMigratable","message":"","lastTransitionTime":"2024-10-04T07:45:05Z"}]}}`,
		Cells: map[string]string{"PHASE": "Running", "UPTIME": colAny, "CORES": "2", "COREFRACTION": "50%", "MEMORY": "2Gi",
			"NEED RESTART": "False", "AGENT": "True", "MIGRATABLE": "True", "NODE": "virtlab-pt-2",
			"IPADDRESS": "10.66.10.2", "AGE": colAny},
	},
	"VirtualMachineClass": {
		Manifest: `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachineClass
metadata:
  name: NAME
  annotations:
    virtualmachineclass.virtualization.deckhouse.io/is-default-class: "true"
spec:
  cpu:
    type: Discovery
`,
		Status: `{"status":{"phase":"Ready"}}`,
		Cells:  map[string]string{"PHASE": "Ready", "ISDEFAULT": "true", "AGE": colAny},
	},
	"VirtualMachineOperation": {
		Manifest: `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachineOperation
metadata:
  name: NAME
  namespace: NS
spec:
  type: Evict
  virtualMachineName: linux-vm
`,
		Status: `{"status":{"phase":"InProgress","progress":"42%"}}`,
		Cells: map[string]string{"PHASE": "InProgress", "PROGRESS": "42%", "TYPE": "Evict",
			"VIRTUALMACHINE": "linux-vm", "AGE": colAny},
	},
	"VirtualMachineBlockDeviceAttachment": {
		Manifest: `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachineBlockDeviceAttachment
metadata:
  name: NAME
  namespace: NS
spec:
  blockDeviceRef:
    kind: VirtualDisk
    name: blank-disk
  virtualMachineName: linux-vm
`,
		Status: `{"status":{"phase":"Attached","virtualMachineName":"linux-vm"}}`,
		Cells: map[string]string{"PHASE": "Attached", "BLOCKDEVICE KIND": "VirtualDisk", "BLOCKDEVICE NAME": "blank-disk",
			"VIRTUALMACHINE": "linux-vm", "AGE": colAny},
	},
	"VirtualMachineIPAddress": {
		Manifest: `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachineIPAddress
metadata:
  name: NAME
  namespace: NS
spec:
  type: Static
  staticIP: 10.66.10.14
`,
		Status: `{"status":{"address":"10.66.10.14","phase":"Attached","virtualMachineName":"linux-vm"}}`,
		Cells:  map[string]string{"ADDRESS": "10.66.10.14", "STATUS": "Attached", "VM": "linux-vm", "AGE": colAny},
	},
	"VirtualMachineIPAddressLease": {
		Manifest: `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachineIPAddressLease
metadata:
  name: NAME
spec:
  virtualMachineIPAddressRef:
    name: linux-vm-7prpx
    namespace: NS
`,
		Status: `{"status":{"phase":"Bound"}}`,
		// The reference is an object printed by a string column: kubectl shows it as JSON,
		// as in the user guide ({"name":"linux-vm-7prpx","namespace":"default"}).
		Cells: map[string]string{"VIRTUALMACHINEIPADDRESS": `{"name":"linux-vm-7prpx","namespace":"NS"}`,
			"STATUS": "Bound", "AGE": colAny},
	},
	"VirtualMachineSnapshot": {
		Manifest: `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachineSnapshot
metadata:
  name: NAME
  namespace: NS
spec:
  virtualMachineName: linux-vm
  requiredConsistency: true
  keepIPAddress: Never
`,
		Status: `{"status":{"phase":"InProgress","consistent":false}}`,
		Cells:  map[string]string{"PHASE": "InProgress", "CONSISTENT": "false", "AGE": colAny},
	},
	"VirtualMachineRestore": {
		Manifest: `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachineRestore
metadata:
  name: NAME
  namespace: NS
spec:
  virtualMachineSnapshotName: linux-vm-snapshot
`,
		Status: `{"status":{"phase":"Pending"}}`,
		Cells:  map[string]string{"PHASE": "Pending", "AGE": colAny},
	},
}

// colDefaultNames name the object of a kind when no get command names one. Cluster-scoped
// names are prefixed so they do not meet other tests' objects.
var colDefaultNames = map[string]string{
	"ClusterVirtualImage":                 "e2e-columns-image",
	"VirtualImage":                        "ubuntu",
	"VirtualDisk":                         "linux-disk",
	"VirtualDiskSnapshot":                 "linux-vm-root-1728027905",
	"VirtualMachine":                      "linux-vm",
	"VirtualMachineClass":                 "e2e-columns-class",
	"VirtualMachineOperation":             "evict-linux-vm",
	"VirtualMachineBlockDeviceAttachment": "attach-blank-disk",
	"VirtualMachineIPAddress":             "linux-vm-7prpx",
	"VirtualMachineIPAddressLease":        "ip-10-66-10-201",
	"VirtualMachineSnapshot":              "linux-vm-snapshot",
	"VirtualMachineRestore":               "linux-vm-restore",
}

func colFill(s, name, ns string) string {
	return strings.NewReplacer("NAME", name, "NS", ns).Replace(s)
}

// colCreate creates one sample object with kubectl apply and sets its status with kubectl
// patch --subresource=status. A cluster-scoped object it created is deleted when the test
// ends (namespaced ones go with the namespace).
func colCreate(t *testing.T, k *apiRefKind, name, ns string) {
	t.Helper()
	s, ok := colSamples[k.Kind]
	if !ok {
		t.Fatalf("no sample for %s", k.Kind)
	}
	out := mustKubectl(t, colFill(s.Manifest, name, ns), "apply", "-f", "-")
	if !k.Namespaced && strings.Contains(out, " created") {
		t.Cleanup(func() { _, _ = kubectl(t, "", "delete", k.Resource(), name, "--ignore-not-found", "--wait=false") })
	}
	args := []string{"patch", k.Resource(), name, "--subresource=status", "--type=merge", "-p", colFill(s.Status, name, ns)}
	if k.Namespaced {
		args = append(args, "-n", ns)
	}
	mustKubectl(t, "", args...)
}

// colCommand is a get command to replay: from a seed (with its example headers) or added here.
type colCommand struct {
	Pos     string // seed position, or "added"
	Args    []string
	Headers []string // the seed's example headers, one per table
}

// colSeedExceptions are the seed headers that predate the API reference: the reference is the
// contract, so our header follows it and cannot contain the seed's words in order.
var colSeedExceptions = map[string]struct {
	SeedHeader string
	Reference  string // the reference's column line that replaces the seed's column
	Reason     string
}{
	"VirtualMachineBlockDeviceAttachment": {
		SeedHeader: "NAME PHASE VIRTUAL MACHINE NAME AGE",
		Reference:  "VIRTUALMACHINE | .status.virtualMachineName | string | 0",
		Reason:     "the user guide (004: get vmbda attach-blank-disk) shows an older column title VIRTUAL MACHINE NAME; the reference names it VIRTUALMACHINE",
	},
}

// colAdded are get commands the seeds do not show: every kind without names, and -o wide.
var colAdded = [][]string{
	{"get", "vi,vd,vm", "-o", "wide"},
	{"get", "cvi"},
	{"get", "cvi", "-o", "wide"},
	{"get", "vmop", "-o", "wide"},
	{"get", "vmip", "-o", "wide"},
	{"get", "vmipl", "-o", "wide"},
	{"get", "vdsnapshot"},
	{"get", "vdsnapshot", "-o", "wide"},
	{"get", "vmbda"},
	{"get", "vmbda", "-o", "wide"},
	{"get", "vmclass", "-o", "wide"},
	{"get", "vd", "-o", "wide"},
	{"get", "vmsnapshot,vmrestore"},
	{"get", "vmsnapshot,vmrestore", "-o", "wide"},
}

// colRequiredSeed are commands the seeds must keep showing, with an example header.
var colRequiredSeed = []string{"get vi,vd,vm", "get vmop", "get vmip", "get vmipl", "get vdsnapshot", "get vm -o wide"}

// colTarget splits a get command into the resource list and the object names; ok is false
// when it is not a get of our group.
func colTarget(t *testing.T, args []string) (kinds []*apiRefKind, names []string, ok bool) {
	t.Helper()
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-o" || a == "--output" || a == "-n" || a == "--namespace" || a == "-l" || a == "--selector":
			i++
		case strings.HasPrefix(a, "-"):
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) < 2 || pos[0] != "get" {
		return nil, nil, false
	}
	for _, r := range strings.Split(pos[1], ",") {
		k := apiRefLookup(t, r)
		if k == nil {
			return nil, nil, false
		}
		kinds = append(kinds, k)
	}
	return kinds, pos[2:], true
}

func colWatch(args []string) bool {
	for _, a := range args {
		if a == "-w" || a == "--watch" {
			return true
		}
	}
	return false
}

func colWide(args []string) bool {
	return (seeds.Command{Args: args}).Output() == "wide"
}

// TestSeedGetHeaders replays the get commands of the user documentation that print a table of
// our group, with objects present, and checks kubectl's table against the API reference: the
// header (NAME, the priority-0 columns, and with -o wide the priority-1 ones too, in the
// reference's order), one row per object, and each cell showing the field its column names.
// The seed's example header must also appear in ours word by word in the same order, except
// where the seed predates the reference (colSeedExceptions).
func TestSeedGetHeaders(t *testing.T) {
	ref := apiRef(t)
	dir, err := seeds.Dir()
	if err != nil {
		t.Skipf("no seeds: %v", err)
	}
	all, err := seeds.Commands(dir)
	if err != nil {
		t.Fatal(err)
	}
	var cmds []colCommand
	seen := map[string]bool{}
	for _, c := range all {
		if c.Verb != "get" || len(c.Headers) == 0 || len(c.Placeholders) > 0 {
			continue
		}
		if _, _, ok := colTarget(t, c.Args); !ok {
			continue
		}
		cmds = append(cmds, colCommand{Pos: c.Pos(), Args: c.Args, Headers: c.Headers})
		seen[strings.Join(c.Args, " ")] = true
	}
	for _, want := range colRequiredSeed {
		if !seen[want] {
			t.Errorf("the seeds no longer show `kubectl %s` with an example header", want)
		}
	}
	if len(cmds) < 30 {
		t.Errorf("only %d get commands of our group with an example header in the seeds", len(cmds))
	}
	for _, a := range colAdded {
		cmds = append(cmds, colCommand{Pos: "added", Args: a})
	}

	// One object per name a command asks for, else one per kind.
	ns := namespace(t, "columns")
	want := map[string][]string{} // kind -> names
	add := func(kind, name string) {
		for _, n := range want[kind] {
			if n == name {
				return
			}
		}
		want[kind] = append(want[kind], name)
	}
	for _, c := range cmds {
		kinds, names, _ := colTarget(t, c.Args)
		for _, k := range kinds {
			if len(names) == 0 {
				add(k.Kind, colDefaultNames[k.Kind])
			}
			for _, n := range names {
				add(k.Kind, n)
			}
		}
	}
	for _, kind := range apiRefKinds {
		for _, n := range want[kind] {
			colCreate(t, ref[kind], n, ns)
		}
	}

	for _, c := range cmds {
		name := c.Pos + " kubectl " + strings.Join(c.Args, " ")
		t.Run(name, func(t *testing.T) {
			kinds, names, _ := colTarget(t, c.Args)
			wide := colWide(c.Args)
			args := append(append([]string{}, c.Args...), "-n", ns)
			var out string
			if colWatch(c.Args) {
				// A watch prints the table of what exists, then waits: read until every
				// object's row is there, then stop kubectl.
				k := kinds[0]
				rowsWanted := names
				if len(rowsWanted) == 0 {
					rowsWanted = want[k.Kind]
				}
				w := startKubectl(t, 30*time.Second, args...)
				out = w.waitFor(t, 30*time.Second, func(text string) bool {
					tables := kubeTables(text)
					if len(tables) == 0 {
						return false
					}
					for _, n := range rowsWanted {
						if _, ok := tables[0].Row("", n); !ok {
							return false
						}
					}
					return true
				})
				w.stop()
			} else {
				out = mustKubectl(t, "", args...)
			}
			tables := kubeTables(out)
			if len(tables) != len(kinds) {
				t.Fatalf("%d tables, want %d (one per kind):\n%s", len(tables), len(kinds), out)
			}
			for i, k := range kinds {
				tb := tables[i]
				if got, want := tb.Columns(), k.Header(wide); got != want {
					t.Errorf("%s: header\n  got  %s\n  want %s (API reference)", k.Kind, got, want)
				}
				if i < len(c.Headers) {
					colCheckSeedHeader(t, k, c.Headers[i], tb.Columns())
				}
				rows := names
				if len(rows) == 0 {
					rows = want[k.Kind]
				}
				for _, n := range rows {
					row, ok := tb.Row("", n)
					if !ok {
						t.Errorf("%s: no row for %s:\n%s", k.Kind, n, out)
						continue
					}
					if len(kinds) > 1 {
						if f := strings.Fields(row); f[0] != k.Printed(n) {
							t.Errorf("%s: with several kinds the name is %q, want %q", k.Kind, f[0], k.Printed(n))
						}
					}
					colCheckCells(t, k, tb, row, n, ns, wide)
				}
			}
		})
	}
}

// colCheckSeedHeader checks that the seed's example header is kept by ours, word by word in
// the same order, unless the seed predates the reference.
func colCheckSeedHeader(t *testing.T, k *apiRefKind, seed, ours string) {
	t.Helper()
	sub := isSubsequence(strings.Fields(seed), strings.Fields(ours))
	if ex, ok := colSeedExceptions[k.Kind]; ok && seed == ex.SeedHeader {
		if sub {
			t.Errorf("%s: exception no longer needed: seed header %q is kept by %q", k.Kind, seed, ours)
		}
		found := false
		for _, c := range k.Columns {
			if line := fmt.Sprintf("%s | %s | string | %d", c.Name, c.JSONPath, c.Priority); line == ex.Reference {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: the exception cites reference line %q, not in the reference", k.Kind, ex.Reference)
		}
		t.Logf("%s: seed header %q differs from the reference on purpose: %s", k.Kind, seed, ex.Reason)
		return
	}
	if !sub {
		t.Errorf("%s: the seed's header %q is not kept in order by ours %q", k.Kind, seed, ours)
	}
}

// colCheckCells checks each cell of an object's row against what its status and spec hold.
func colCheckCells(t *testing.T, k *apiRefKind, tb kubeTable, row, name, ns string, wide bool) {
	t.Helper()
	cols := k.ColumnNames(wide)
	cells, err := tb.Cells(row, cols)
	if err != nil {
		t.Errorf("%s: %v", k.Kind, err)
		return
	}
	if got := cells["NAME"]; got != name && got != k.Printed(name) {
		t.Errorf("%s: NAME cell %q, want %q", k.Kind, got, name)
	}
	for _, c := range cols[1:] {
		want, ok := colSamples[k.Kind].Cells[c]
		if !ok {
			t.Errorf("%s: the sample has no expected value for column %s", k.Kind, c)
			continue
		}
		got := cells[c]
		switch want {
		case colAny:
			if got == "" {
				t.Errorf("%s %s: column %s is empty:\n%s\n%s", k.Kind, name, c, tb.Header, row)
			}
		default:
			if want = colFill(want, name, ns); got != want {
				t.Errorf("%s %s: column %s is %q, want %q:\n%s\n%s", k.Kind, name, c, got, want, tb.Header, row)
			}
		}
	}
}

// colJSON decodes the output of `kubectl get -o json`.
func colJSON(t *testing.T, out string) map[string]interface{} {
	t.Helper()
	var obj map[string]interface{}
	if err := json.Unmarshal([]byte(out), &obj); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	return obj
}
