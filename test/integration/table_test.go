package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/client-go/util/jsonpath"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

// tableAccept asks the server for kubectl's table format.
const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io"

// refColumn is one printer column of the API reference.
type refColumn struct {
	Name     string
	JSONPath string
	Type     string
	Priority int32
}

// referenceColumns parses the "printer columns" section of
// ../shared/api-reference/<Kind>-v1alpha2.txt beside the repository.
func referenceColumns(t *testing.T, kind string) []refColumn {
	t.Helper()
	// The repository root is two levels up; the shared contract sits beside it.
	dir := filepath.Join("..", "..", "..", "shared", "api-reference")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("API reference not found at %s: %v", dir, err)
	}
	f, err := os.Open(filepath.Join(dir, kind+"-v1alpha2.txt"))
	if err != nil {
		t.Fatalf("reference of %s: %v", kind, err)
	}
	defer f.Close()
	var cols []refColumn
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "printer columns") {
			in = true
			continue
		}
		if !in {
			continue
		}
		if !strings.HasPrefix(line, "  ") {
			break
		}
		parts := strings.Split(strings.TrimSpace(line), " | ")
		if len(parts) != 4 {
			t.Fatalf("reference of %s: bad printer column line %q", kind, line)
		}
		prio, err := strconv.Atoi(parts[3])
		if err != nil {
			t.Fatalf("reference of %s: bad priority in %q", kind, line)
		}
		cols = append(cols, refColumn{Name: parts[0], JSONPath: parts[1], Type: parts[2], Priority: int32(prio)})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(cols) == 0 {
		t.Fatalf("reference of %s has no printer columns", kind)
	}
	return cols
}

// getTable requests a table of one object (name set) or of a collection.
func getTable(t *testing.T, kind, ns, name string, params map[string]string) *metav1.Table {
	t.Helper()
	req := request(t, "GET", kind, ns, name).SetHeader("Accept", tableAccept)
	for k, v := range params {
		req = req.Param(k, v)
	}
	res := req.Do(context.Background())
	raw, err := res.Raw()
	if err != nil {
		t.Fatalf("table of %s %s/%s: %v", kind, ns, name, err)
	}
	var ct string
	res.ContentType(&ct)
	var tbl metav1.Table
	if err := json.Unmarshal(raw, &tbl); err != nil {
		t.Fatalf("decoding the table: %v: %s", err, raw)
	}
	if tbl.Kind != "Table" || tbl.APIVersion != "meta.k8s.io/v1" {
		t.Fatalf("asked for a Table, got kind=%q apiVersion=%q (content type %s)", tbl.Kind, tbl.APIVersion, ct)
	}
	return &tbl
}

// checkColumns compares the table's column definitions with the reference.
func checkColumns(t *testing.T, tbl *metav1.Table, ref []refColumn) {
	t.Helper()
	defs := tbl.ColumnDefinitions
	if len(defs) != len(ref)+1 {
		var got []string
		for _, d := range defs {
			got = append(got, d.Name)
		}
		t.Fatalf("columns %v, want Name and the %d reference columns %v", got, len(ref), ref)
	}
	if defs[0].Name != "Name" || defs[0].Type != "string" || defs[0].Format != "name" || defs[0].Priority != 0 {
		t.Errorf("first column = %+v, want Name (string, format name, priority 0)", defs[0])
	}
	for i, c := range ref {
		d := defs[i+1]
		if d.Name != c.Name || d.Type != c.Type || d.Priority != c.Priority {
			t.Errorf("column %d = %s/%s/priority %d, want %s/%s/priority %d", i+1, d.Name, d.Type, d.Priority, c.Name, c.Type, c.Priority)
		}
	}
}

// rowOf returns the row of the named object.
func rowOf(t *testing.T, tbl *metav1.Table, name string) metav1.TableRow {
	t.Helper()
	for _, r := range tbl.Rows {
		if len(r.Cells) > 0 && r.Cells[0] == name {
			return r
		}
	}
	t.Fatalf("no row for %s in the table (%d rows)", name, len(tbl.Rows))
	return metav1.TableRow{}
}

// cell returns the cell of the named column.
func cell(t *testing.T, tbl *metav1.Table, row metav1.TableRow, column string) interface{} {
	t.Helper()
	for i, d := range tbl.ColumnDefinitions {
		if d.Name == column {
			if i >= len(row.Cells) {
				t.Fatalf("row %v has no cell for column %s", row.Cells, column)
			}
			return row.Cells[i]
		}
	}
	t.Fatalf("no column %s", column)
	return nil
}

// printed evaluates a reference column on the object as a JSONPath printer column would:
// the printed text of every match (joined by spaces), or found=false when nothing matches.
func printed(t *testing.T, col refColumn, obj map[string]interface{}) (text string, first interface{}, found bool) {
	t.Helper()
	jp := jsonpath.New(col.Name)
	jp.AllowMissingKeys(true)
	if err := jp.Parse("{" + col.JSONPath + "}"); err != nil {
		t.Fatalf("column %s: JSONPath %q: %v", col.Name, col.JSONPath, err)
	}
	results, err := jp.FindResults(obj)
	if err != nil || len(results) == 0 || len(results[0]) == 0 {
		return "", nil, false
	}
	var buf bytes.Buffer
	if err := jp.PrintResults(&buf, results[0]); err != nil {
		t.Fatalf("column %s: %v", col.Name, err)
	}
	return buf.String(), results[0][0].Interface(), true
}

// checkCells compares every cell of a row with the reference column evaluated on the object.
// Ages are checked against the time window of the request.
func checkCells(t *testing.T, kind string, tbl *metav1.Table, row metav1.TableRow, ref []refColumn, obj map[string]interface{}, before, after time.Time) {
	t.Helper()
	if len(row.Cells) != len(tbl.ColumnDefinitions) {
		t.Fatalf("row has %d cells for %d columns: %v", len(row.Cells), len(tbl.ColumnDefinitions), row.Cells)
	}
	if name, _ := lookup(obj, "metadata.name"); row.Cells[0] != name {
		t.Errorf("Name cell = %v, want %v", row.Cells[0], name)
	}
	for i, col := range ref {
		got := row.Cells[i+1]
		text, first, found := printed(t, col, obj)
		t.Run(col.Name, func(t *testing.T) {
			switch col.Type {
			case "date":
				if !found {
					if got != nil {
						t.Errorf("column %s: %v for an unset %s", col.Name, got, col.JSONPath)
					}
					return
				}
				ts, err := time.Parse(time.RFC3339, fmt.Sprint(first))
				if err != nil {
					t.Fatalf("column %s: %s is not a time: %v", col.Name, col.JSONPath, err)
				}
				lo, hi := duration.HumanDuration(before.Sub(ts)), duration.HumanDuration(after.Sub(ts))
				if got != lo && got != hi {
					t.Errorf("column %s = %v, want the age %s (or %s)", col.Name, got, lo, hi)
				}
			case "boolean":
				switch {
				case found && got != first:
					t.Errorf("column %s = %v (%T), want %v", col.Name, got, got, first)
				case !found && got != nil && got != false:
					// An omitted boolean is false.
					t.Errorf("column %s = %v for an unset %s", col.Name, got, col.JSONPath)
				}
			default:
				if !found || text == "" {
					if got != nil && got != "" {
						t.Errorf("column %s = %v for an unset %s", col.Name, got, col.JSONPath)
					}
					return
				}
				if got != text {
					t.Errorf("column %s (%s) = %#v, want %q as %s prints it", col.Name, col.Type, got, text, col.JSONPath)
				}
			}
		})
	}
}

// sameJSON reports whether got is JSON text equal in meaning to want.
func sameJSON(got interface{}, want string) bool {
	s, ok := got.(string)
	if !ok {
		return false
	}
	var a, b interface{}
	return json.Unmarshal([]byte(s), &a) == nil && json.Unmarshal([]byte(want), &b) == nil && fmt.Sprint(a) == fmt.Sprint(b)
}

func TestTablesEveryKind(t *testing.T) {
	for _, kind := range allKinds {
		t.Run(kind, func(t *testing.T) {
			ref := referenceColumns(t, kind)
			k := apiFor(t, kind)
			run := uniqueName("table")
			ns := "api-table"

			// One object with the controller's status, one just created.
			full, status := validStatusCase(t, kind)
			fullName := uniqueName("full")
			ns = place(k, full, fullName, ns, map[string]string{"test-run": run})
			if kind == "VirtualMachineClass" {
				full.meta()["annotations"] = map[string]interface{}{v1alpha2.DefaultClassAnnotation: "true"}
			}
			created, err := k.Create(ns, k.Decode(t, full), metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			t.Cleanup(func() { _ = k.Delete(ns, fullName, metav1.DeleteOptions{}) })
			m := toMap(t, created)
			m["status"] = status
			if _, err := k.UpdateStatus(ns, k.Decode(t, m)); err != nil {
				t.Fatalf("status: %v", err)
			}
			bare := validCreateManifest(t, kind)
			bareName := uniqueName("bare")
			place(k, bare, bareName, "api-table", map[string]string{"test-run": run})
			if _, err := k.Create(ns, k.Decode(t, bare), metav1.CreateOptions{}); err != nil {
				t.Fatalf("create: %v", err)
			}
			t.Cleanup(func() { _ = k.Delete(ns, bareName, metav1.DeleteOptions{}) })

			before := time.Now()
			list := getTable(t, kind, ns, "", map[string]string{"labelSelector": "test-run=" + run})
			after := time.Now()
			checkColumns(t, list, ref)
			if len(list.Rows) != 2 {
				t.Fatalf("the table has %d rows, want 2", len(list.Rows))
			}
			if list.ResourceVersion == "" {
				t.Errorf("the list table has no resourceVersion")
			}
			for _, name := range []string{fullName, bareName} {
				obj := get(t, kind, ns, name)
				row := rowOf(t, list, name)
				t.Run(name[:strings.Index(name, "-")], func(t *testing.T) {
					checkCells(t, kind, list, row, ref, obj, before, after)
				})
				// By default each row carries the object's metadata, which kubectl uses.
				var partial metav1.PartialObjectMetadata
				if err := json.Unmarshal(row.Object.Raw, &partial); err != nil {
					t.Fatalf("row object: %v: %s", err, row.Object.Raw)
				}
				if partial.Name != name || partial.Kind != "PartialObjectMetadata" {
					t.Errorf("row object = %s %s, want PartialObjectMetadata of %s", partial.Kind, partial.Name, name)
				}
			}

			// A table of one object has the same columns and its one row.
			one := getTable(t, kind, ns, fullName, nil)
			checkColumns(t, one, ref)
			if len(one.Rows) != 1 || one.Rows[0].Cells[0] != fullName {
				t.Fatalf("table of %s: %d rows", fullName, len(one.Rows))
			}
			if one.ResourceVersion == "" {
				t.Errorf("the object table has no resourceVersion")
			}
			// includeObject=Object embeds the whole object, None nothing; noHeaders drops columns.
			withObject := getTable(t, kind, ns, fullName, map[string]string{"includeObject": "Object"})
			var embedded map[string]interface{}
			if err := json.Unmarshal(withObject.Rows[0].Object.Raw, &embedded); err != nil {
				t.Fatal(err)
			}
			if embedded["kind"] != kind || embedded["spec"] == nil && kind != "VirtualMachineIPAddressLease" {
				t.Errorf("includeObject=Object embedded %v", embedded)
			}
			none := getTable(t, kind, ns, fullName, map[string]string{"includeObject": "None"})
			if len(none.Rows[0].Object.Raw) != 0 {
				t.Errorf("includeObject=None embedded %s", none.Rows[0].Object.Raw)
			}
		})
	}
}

// columnCells returns the cells of one row by column name.
func columnCells(t *testing.T, kind, ns, name string) map[string]interface{} {
	t.Helper()
	tbl := getTable(t, kind, ns, name, nil)
	if len(tbl.Rows) != 1 {
		t.Fatalf("table of %s: %d rows", name, len(tbl.Rows))
	}
	out := map[string]interface{}{}
	for i, d := range tbl.ColumnDefinitions {
		out[d.Name] = tbl.Rows[0].Cells[i]
	}
	return out
}

func TestVirtualMachineTableRow(t *testing.T) {
	ctx := context.Background()
	ns := "api-table-vm"
	vms := srv.Client.VirtualizationV1alpha2().VirtualMachines(ns)
	name := uniqueName("vm")
	vm, err := vms.Create(ctx, newVM(name, ns, "generic", 2, "50%", "2Gi"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = vms.Delete(ctx, name, metav1.DeleteOptions{}) })

	cells := columnCells(t, "VirtualMachine", ns, name)
	for _, col := range []string{"Phase", "Uptime", "Cores", "CoreFraction", "Memory", "Need restart", "Agent", "Migratable", "Node", "IPAddress"} {
		if cells[col] != nil {
			t.Errorf("a VM without status shows %s = %v", col, cells[col])
		}
	}
	if cells["Name"] != name || cells["Age"] == nil {
		t.Errorf("Name/Age cells: %v %v", cells["Name"], cells["Age"])
	}

	started := metav1.NewTime(time.Now().Add(-90 * time.Minute).Truncate(time.Second))
	vm.Status = v1alpha2.VirtualMachineStatus{
		Phase:     v1alpha2.MachineRunning,
		Node:      "node-7",
		IPAddress: "10.66.10.7",
		Stats:     &v1alpha2.VirtualMachineStats{LastStartTime: &started},
		Resources: &v1alpha2.ResourcesStatus{
			CPU:    v1alpha2.CPUStatus{Cores: 2, CoreFraction: "50%"},
			Memory: v1alpha2.MemoryStatus{Size: mustQuantity(t, "2Gi")},
		},
		Conditions: []metav1.Condition{
			{Type: "AgentReady", Status: metav1.ConditionTrue, Reason: "AgentReady", LastTransitionTime: started},
			{Type: "Migratable", Status: metav1.ConditionFalse, Reason: "NonMigratableDisks", LastTransitionTime: started},
			{Type: "AwaitingRestartToApplyConfiguration", Status: metav1.ConditionTrue, Reason: "RestartAwaitingChangesExist", LastTransitionTime: started},
		},
	}
	if _, err := vms.UpdateStatus(ctx, vm, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("status: %v", err)
	}
	before := time.Now()
	cells = columnCells(t, "VirtualMachine", ns, name)
	after := time.Now()
	want := map[string]interface{}{
		"Phase":        "Running",
		"Node":         "node-7",
		"IPAddress":    "10.66.10.7",
		"CoreFraction": "50%",
		"Memory":       "2Gi",
		"Need restart": "True",
		"Agent":        "True",
		"Migratable":   "False",
	}
	for col, w := range want {
		if cells[col] != w {
			t.Errorf("column %s = %#v, want %#v", col, cells[col], w)
		}
	}
	// Cores is a string column in the reference (.status.resources.cpu.cores printed as text).
	t.Run("Cores", func(t *testing.T) {
		if cells["Cores"] != "2" {
			t.Errorf("column Cores = %#v (%T), want the string %q", cells["Cores"], cells["Cores"], "2")
		}
	})
	lo, hi := duration.HumanDuration(before.Sub(started.Time)), duration.HumanDuration(after.Sub(started.Time))
	if cells["Uptime"] != lo && cells["Uptime"] != hi {
		t.Errorf("column Uptime = %v, want %s", cells["Uptime"], lo)
	}

	// Wide columns are hidden by priority, not left out.
	tbl := getTable(t, "VirtualMachine", ns, name, nil)
	var normal []string
	for _, d := range tbl.ColumnDefinitions {
		if d.Priority == 0 {
			normal = append(normal, strings.ToUpper(d.Name))
		}
	}
	// The default "kubectl get vm" header of the reference: NAME PHASE UPTIME NODE IPADDRESS AGE.
	if got := strings.Join(normal, " "); got != "NAME PHASE UPTIME NODE IPADDRESS AGE" {
		t.Errorf("default columns: %s", got)
	}
}

func TestVirtualDiskTableJoinsMountedVMs(t *testing.T) {
	ctx := context.Background()
	ns := "api-table-vd"
	disks := srv.Client.VirtualizationV1alpha2().VirtualDisks(ns)
	name := uniqueName("vd")
	size := mustQuantity(t, "10Gi")
	_, err := disks.Create(ctx, &v1alpha2.VirtualDisk{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       v1alpha2.VirtualDiskSpec{PersistentVolumeClaim: v1alpha2.VirtualDiskPersistentVolumeClaim{Size: &size}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = disks.Delete(ctx, name, metav1.DeleteOptions{}) })

	setStatus := func(st v1alpha2.VirtualDiskStatus) map[string]interface{} {
		t.Helper()
		cur, err := disks.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cur.Status = st
		if _, err := disks.UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("status: %v", err)
		}
		return columnCells(t, "VirtualDisk", ns, name)
	}
	cells := setStatus(v1alpha2.VirtualDiskStatus{
		Phase:            v1alpha2.DiskReady,
		Capacity:         "10Gi",
		Progress:         "100%",
		StorageClassName: "replicated-thin",
		Target:           v1alpha2.DiskTarget{PersistentVolumeClaim: "vd-" + name + "-abc12"},
		AttachedToVirtualMachines: []v1alpha2.AttachedVirtualMachine{
			{Name: "vm-a", Mounted: true},
			{Name: "vm-b", Mounted: false},
			{Name: "vm-c", Mounted: true},
		},
		Conditions: []metav1.Condition{{Type: "InUse", Status: metav1.ConditionTrue, Reason: "AttachedToVirtualMachine", LastTransitionTime: metav1.Now()}},
	})
	want := map[string]interface{}{
		"Phase":          "Ready",
		"Capacity":       "10Gi",
		"VirtualMachine": "vm-a vm-c",
		"InUse":          "True",
		"Progress":       "100%",
		"StorageClass":   "replicated-thin",
		"TargetPVC":      "vd-" + name + "-abc12",
	}
	for col, w := range want {
		if cells[col] != w {
			t.Errorf("column %s = %#v, want %#v", col, cells[col], w)
		}
	}

	cells = setStatus(v1alpha2.VirtualDiskStatus{
		Phase:                     v1alpha2.DiskReady,
		AttachedToVirtualMachines: []v1alpha2.AttachedVirtualMachine{{Name: "vm-b", Mounted: false}},
	})
	if cells["VirtualMachine"] != nil {
		t.Errorf("a disk attached nowhere shows VirtualMachine = %#v", cells["VirtualMachine"])
	}
}

func TestIPAddressLeaseTablePrintsTheReference(t *testing.T) {
	ctx := context.Background()
	leases := srv.Client.VirtualizationV1alpha2().VirtualMachineIPAddressLeases()
	name := uniqueName("ip-10-66-10-14")
	lease, err := leases.Create(ctx, &v1alpha2.VirtualMachineIPAddressLease{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha2.VirtualMachineIPAddressLeaseSpec{
			VirtualMachineIPAddressRef: &v1alpha2.VirtualMachineIPAddressLeaseIPAddressRef{Name: "linux-vm-7prpx", Namespace: "default"},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = leases.Delete(ctx, name, metav1.DeleteOptions{}) })
	lease.Status.Phase = v1alpha2.VirtualMachineIPAddressLeasePhaseBound
	if _, err := leases.UpdateStatus(ctx, lease, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	cells := columnCells(t, "VirtualMachineIPAddressLease", "", name)
	if cells["Status"] != "Bound" {
		t.Errorf("column Status = %#v", cells["Status"])
	}
	// The user guide shows: ip-10-66-10-14   {"name":"linux-vm-7prpx","namespace":"default"}   Bound
	ref, ok := cells["VirtualMachineIPAddress"].(string)
	if !ok {
		t.Fatalf("column VirtualMachineIPAddress = %#v, want JSON text", cells["VirtualMachineIPAddress"])
	}
	var decoded map[string]string
	if err := json.Unmarshal([]byte(ref), &decoded); err != nil || decoded["name"] != "linux-vm-7prpx" || decoded["namespace"] != "default" {
		t.Errorf("column VirtualMachineIPAddress = %s, want the reference as JSON", ref)
	}
	t.Run("as printed in the user guide", func(t *testing.T) {
		want := `{"name":"linux-vm-7prpx","namespace":"default"}`
		if ref != want {
			t.Errorf("column VirtualMachineIPAddress = %s, want {\"name\":\"linux-vm-7prpx\",\"namespace\":\"default\"}", ref)
		}
	})

	// A released lease without a reference prints nothing.
	released := uniqueName("ip-10-66-10-15")
	if _, err := leases.Create(ctx, &v1alpha2.VirtualMachineIPAddressLease{ObjectMeta: metav1.ObjectMeta{Name: released}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = leases.Delete(ctx, released, metav1.DeleteOptions{}) })
	if c := columnCells(t, "VirtualMachineIPAddressLease", "", released)["VirtualMachineIPAddress"]; c != nil {
		t.Errorf("a lease without reference shows %#v", c)
	}
}

func TestClassAndImageTableCells(t *testing.T) {
	ctx := context.Background()
	c := srv.Client.VirtualizationV1alpha2()

	def := newClass(uniqueName("class"))
	def.Annotations = map[string]string{v1alpha2.DefaultClassAnnotation: "true"}
	plain := newClass(uniqueName("class"))
	for _, class := range []*v1alpha2.VirtualMachineClass{def, plain} {
		created, err := c.VirtualMachineClasses().Create(ctx, class, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		name := created.Name
		t.Cleanup(func() { _ = c.VirtualMachineClasses().Delete(ctx, name, metav1.DeleteOptions{}) })
		created.Status.Phase = v1alpha2.ClassPhaseReady
		if _, err := c.VirtualMachineClasses().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if cells := columnCells(t, "VirtualMachineClass", "", def.Name); cells["IsDefault"] != "true" || cells["Phase"] != "Ready" {
		t.Errorf("default class row: %v", cells)
	}
	if cells := columnCells(t, "VirtualMachineClass", "", plain.Name); cells["IsDefault"] != nil || cells["Phase"] != "Ready" {
		t.Errorf("plain class row: %v", cells)
	}

	name := uniqueName("cvi")
	cvi, err := c.ClusterVirtualImages().Create(ctx, &v1alpha2.ClusterVirtualImage{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha2.ClusterVirtualImageSpec{DataSource: v1alpha2.ClusterVirtualImageDataSource{
			Type: v1alpha2.DataSourceTypeHTTP, HTTP: &v1alpha2.DataSourceHTTP{URL: "https://example.com/ubuntu.iso"},
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.ClusterVirtualImages().Delete(ctx, name, metav1.DeleteOptions{}) })
	cvi.Status = v1alpha2.ClusterVirtualImageStatus{
		Phase: v1alpha2.ImageReady, CDROM: true, Progress: "100%",
		Size:   v1alpha2.ImageStatusSize{Stored: "285Mi", Unpacked: "2.5Gi"},
		Target: v1alpha2.ClusterVirtualImageStatusTarget{RegistryURL: "dvcr.d8-virtualization.svc/cvi/" + name + ":latest"},
	}
	if _, err := c.ClusterVirtualImages().UpdateStatus(ctx, cvi, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	cells := columnCells(t, "ClusterVirtualImage", "", name)
	want := map[string]interface{}{
		"Phase": "Ready", "CDROM": true, "Progress": "100%", "StoredSize": "285Mi", "UnpackedSize": "2.5Gi",
		"Registry URL": "dvcr.d8-virtualization.svc/cvi/" + name + ":latest",
	}
	for col, w := range want {
		if cells[col] != w {
			t.Errorf("column %s = %#v, want %#v", col, cells[col], w)
		}
	}
}
