// Package virtualization_test checks every registry of the group against the API reference
// without a server: printer columns, discovery names and selectable fields.
package virtualization_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/apiserver/pkg/storage/storagebackend/factory"
	"k8s.io/client-go/tools/cache"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/install"
	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/registry/resource"
	"github.com/virtplane/virtplane/pkg/registry/virtualization/clustervirtualimage"
	"github.com/virtplane/virtplane/pkg/registry/virtualization/virtualdisk"
	"github.com/virtplane/virtplane/pkg/registry/virtualization/virtualdisksnapshot"
	"github.com/virtplane/virtplane/pkg/registry/virtualization/virtualimage"
	"github.com/virtplane/virtplane/pkg/registry/virtualization/virtualmachine"
	"github.com/virtplane/virtplane/pkg/registry/virtualization/virtualmachineblockdeviceattachment"
	"github.com/virtplane/virtplane/pkg/registry/virtualization/virtualmachineclass"
	"github.com/virtplane/virtplane/pkg/registry/virtualization/virtualmachineipaddress"
	"github.com/virtplane/virtplane/pkg/registry/virtualization/virtualmachineipaddresslease"
	"github.com/virtplane/virtplane/pkg/registry/virtualization/virtualmachineoperation"
	"github.com/virtplane/virtplane/pkg/registry/virtualization/virtualmachinerestore"
	"github.com/virtplane/virtplane/pkg/registry/virtualization/virtualmachinesnapshot"
)

type newREST func(*runtime.Scheme, generic.RESTOptionsGetter) (*resource.REST, *resource.StatusREST, error)

type registry struct {
	kind    string
	names   resource.Names
	columns []metav1.TableColumnDefinition
	newREST newREST
	// sample is a v1alpha2 object with every selectable field of the kind set.
	sample string
}

var registries = []registry{
	{"ClusterVirtualImage", clustervirtualimage.Names, clustervirtualimage.Table.Columns(), clustervirtualimage.NewREST,
		`{"metadata":{"name":"cvi-1"},"spec":{"dataSource":{"type":"HTTP","http":{"url":"https://example.com/a.img"}}},"status":{"phase":"Ready"}}`},
	{"VirtualImage", virtualimage.Names, virtualimage.Table.Columns(), virtualimage.NewREST,
		`{"metadata":{"name":"vi-1","namespace":"ns-1"},"spec":{"storage":"PersistentVolumeClaim","dataSource":{"type":"ContainerImage","containerImage":{"image":"registry.example.com/a:1"}}},"status":{"phase":"Provisioning"}}`},
	{"VirtualDisk", virtualdisk.Names, virtualdisk.Table.Columns(), virtualdisk.NewREST,
		`{"metadata":{"name":"vd-1","namespace":"ns-1"},"spec":{},"status":{"phase":"Ready","storageClassName":"fast"}}`},
	{"VirtualDiskSnapshot", virtualdisksnapshot.Names, virtualdisksnapshot.Table.Columns(), virtualdisksnapshot.NewREST,
		`{"metadata":{"name":"vds-1","namespace":"ns-1"},"spec":{"virtualDiskName":"disk-1"},"status":{"phase":"InProgress"}}`},
	{"VirtualMachine", virtualmachine.Names, virtualmachine.Table.Columns(), virtualmachine.NewREST,
		`{"metadata":{"name":"vm-1","namespace":"ns-1"},"spec":{"virtualMachineClassName":"class-1","cpu":{"cores":1},"memory":{"size":"1Gi"}},"status":{"phase":"Running","nodeName":"node-1"}}`},
	{"VirtualMachineClass", virtualmachineclass.Names, virtualmachineclass.Table.Columns(), virtualmachineclass.NewREST,
		`{"metadata":{"name":"class-1"},"spec":{"cpu":{"type":"Host"}},"status":{"phase":"Pending"}}`},
	{"VirtualMachineOperation", virtualmachineoperation.Names, virtualmachineoperation.Table.Columns(), virtualmachineoperation.NewREST,
		`{"metadata":{"name":"vmop-1","namespace":"ns-1"},"spec":{"type":"Evict","virtualMachineName":"vm-1"},"status":{"phase":"Completed"}}`},
	{"VirtualMachineBlockDeviceAttachment", virtualmachineblockdeviceattachment.Names, virtualmachineblockdeviceattachment.Table.Columns(), virtualmachineblockdeviceattachment.NewREST,
		`{"metadata":{"name":"vmbda-1","namespace":"ns-1"},"spec":{"virtualMachineName":"vm-1","blockDeviceRef":{"kind":"VirtualImage","name":"image-1"}},"status":{"phase":"Attached","virtualMachineName":"vm-other"}}`},
	{"VirtualMachineIPAddress", virtualmachineipaddress.Names, virtualmachineipaddress.Table.Columns(), virtualmachineipaddress.NewREST,
		`{"metadata":{"name":"vmip-1","namespace":"ns-1"},"spec":{"type":"Static","staticIP":"10.66.10.2"},"status":{"phase":"Attached","address":"10.66.10.2","virtualMachineName":"vm-1"}}`},
	{"VirtualMachineIPAddressLease", virtualmachineipaddresslease.Names, virtualmachineipaddresslease.Table.Columns(), virtualmachineipaddresslease.NewREST,
		`{"metadata":{"name":"ip-10-66-10-2"},"spec":{"virtualMachineIPAddressRef":{"name":"vmip-1","namespace":"ns-1"}},"status":{"phase":"Bound"}}`},
	{"VirtualMachineSnapshot", virtualmachinesnapshot.Names, virtualmachinesnapshot.Table.Columns(), virtualmachinesnapshot.NewREST,
		`{"metadata":{"name":"vms-1","namespace":"ns-1"},"spec":{"virtualMachineName":"vm-1","keepIPAddress":"Never","requiredConsistency":true},"status":{"phase":"Ready"}}`},
	{"VirtualMachineRestore", virtualmachinerestore.Names, virtualmachinerestore.Table.Columns(), virtualmachinerestore.NewREST,
		`{"metadata":{"name":"vmrestore-1","namespace":"ns-1"},"spec":{"virtualMachineSnapshotName":"snap-1"},"status":{"phase":"InProgress"}}`},
}

// reference is what the API reference file says about a kind.
type reference struct {
	namespaced bool
	plural     string
	singular   string
	shortNames []string
	categories []string
	columns    []refColumn
}

type refColumn struct {
	name, jsonPath, typ string
	priority            int32
}

var (
	namesLine = regexp.MustCompile(`^plural:\s*(\S+)\s+singular:\s*(\S+)\s*$`)
	listsLine = regexp.MustCompile(`^shortNames:\s*\[(.*?)\]\s+categories:\s*\[(.*?)\]\s*$`)
)

func parseList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		item = strings.Trim(strings.TrimSpace(item), `'"`)
		if item != "" {
			out = append(out, item)
		}
	}
	return out
}

// loadReference parses the header and printer columns of
// ../shared/api-reference/<Kind>-v1alpha2.txt beside the repository.
func loadReference(t *testing.T, kind string) reference {
	t.Helper()
	// This directory is three levels below the repository root; the shared contract sits
	// beside the root.
	dir := filepath.Join("..", "..", "..", "..", "shared", "api-reference")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("API reference not found at %s: %v", dir, err)
	}
	f, err := os.Open(filepath.Join(dir, kind+"-v1alpha2.txt"))
	if err != nil {
		t.Fatalf("reference of %s: %v", kind, err)
	}
	defer f.Close()
	var ref reference
	var scope string
	inColumns := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "scope:"):
			scope = strings.TrimSpace(strings.TrimPrefix(line, "scope:"))
		case namesLine.MatchString(line):
			m := namesLine.FindStringSubmatch(line)
			ref.plural, ref.singular = m[1], m[2]
		case listsLine.MatchString(line):
			m := listsLine.FindStringSubmatch(line)
			ref.shortNames, ref.categories = parseList(m[1]), parseList(m[2])
		case strings.HasPrefix(line, "printer columns"):
			inColumns = true
		case inColumns && strings.HasPrefix(line, "  "):
			parts := strings.Split(strings.TrimSpace(line), " | ")
			if len(parts) != 4 {
				t.Fatalf("reference of %s: bad printer column %q", kind, line)
			}
			prio, err := strconv.Atoi(parts[3])
			if err != nil {
				t.Fatalf("reference of %s: bad priority in %q", kind, line)
			}
			ref.columns = append(ref.columns, refColumn{parts[0], parts[1], parts[2], int32(prio)})
		case inColumns:
			inColumns = false
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	switch scope {
	case "Namespaced":
		ref.namespaced = true
	case "Cluster":
	default:
		t.Fatalf("reference of %s: scope %q", kind, scope)
	}
	if ref.plural == "" || ref.singular == "" || len(ref.columns) == 0 {
		t.Fatalf("reference of %s: incomplete header %+v", kind, ref)
	}
	return ref
}

func TestRegistriesCoverTheGroup(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range registries {
		seen[r.kind] = true
		if len(v1alpha2.SelectableFields(r.kind)) == 0 {
			t.Errorf("%s has no selectable fields in v1alpha2", r.kind)
		}
	}
	if len(seen) != 12 {
		t.Errorf("%d registries, want the 12 kinds of the contract", len(seen))
	}
}

func TestPrinterColumnsMatchReference(t *testing.T) {
	for _, r := range registries {
		t.Run(r.kind, func(t *testing.T) {
			ref := loadReference(t, r.kind)
			cols := r.columns
			if len(cols) != len(ref.columns)+1 {
				var got []string
				for _, c := range cols {
					got = append(got, c.Name)
				}
				t.Fatalf("columns %v, want Name and %d reference columns", got, len(ref.columns))
			}
			if c := cols[0]; c.Name != "Name" || c.Type != "string" || c.Format != "name" || c.Priority != 0 {
				t.Errorf("first column %+v, want Name (string, format name, priority 0)", c)
			}
			for i, want := range ref.columns {
				got := cols[i+1]
				if got.Name != want.name || got.Type != want.typ || got.Priority != want.priority {
					t.Errorf("column %d = %q %s priority %d, want %q %s priority %d (%s)",
						i+1, got.Name, got.Type, got.Priority, want.name, want.typ, want.priority, want.jsonPath)
				}
			}
		})
	}
}

func TestNamesMatchReference(t *testing.T) {
	for _, r := range registries {
		t.Run(r.kind, func(t *testing.T) {
			ref := loadReference(t, r.kind)
			if r.names.Plural != ref.plural || r.names.Singular != ref.singular {
				t.Errorf("plural/singular = %s/%s, want %s/%s", r.names.Plural, r.names.Singular, ref.plural, ref.singular)
			}
			if !reflect.DeepEqual(r.names.ShortNames, ref.shortNames) {
				t.Errorf("shortNames = %v, want %v", r.names.ShortNames, ref.shortNames)
			}
			if !reflect.DeepEqual(r.names.Categories, ref.categories) {
				t.Errorf("categories = %v, want %v", r.names.Categories, ref.categories)
			}
			store := buildStore(t, r)
			if store.rest.NamespaceScoped() != ref.namespaced {
				t.Errorf("namespaced = %v, want %v", store.rest.NamespaceScoped(), ref.namespaced)
			}
			if !reflect.DeepEqual(store.rest.ShortNames(), ref.shortNames) || !reflect.DeepEqual(store.rest.Categories(), ref.categories) {
				t.Errorf("the storage publishes shortNames %v and categories %v", store.rest.ShortNames(), store.rest.Categories())
			}
		})
	}
}

// builtStore is a registry's storage built without etcd; attrs is the function the store
// handed to its storage (the watch cache filters with it).
type builtStore struct {
	rest  *resource.REST
	attrs storage.AttrFunc
}

func buildStore(t *testing.T, r registry) builtStore {
	t.Helper()
	scheme := runtime.NewScheme()
	install.Install(scheme)
	var attrs storage.AttrFunc
	opts := generic.RESTOptions{
		StorageConfig:  &storagebackend.ConfigForResource{GroupResource: schema.GroupResource{Group: v1alpha2.SchemeGroupVersion.Group, Resource: r.names.Plural}},
		ResourcePrefix: "/" + r.names.Plural,
		Decorator: func(_ *storagebackend.ConfigForResource, _ string, _ func(runtime.Object) (string, error),
			_ func() runtime.Object, _ func() runtime.Object, getAttrs storage.AttrFunc,
			_ storage.IndexerFuncs, _ *cache.Indexers) (storage.Interface, factory.DestroyFunc, error) {
			attrs = getAttrs
			return nil, func() {}, nil
		},
	}
	rest, _, err := r.newREST(scheme, opts)
	if err != nil {
		t.Fatalf("building the %s storage: %v", r.kind, err)
	}
	return builtStore{rest: rest, attrs: attrs}
}

func TestSelectableFieldsMatchFieldLabels(t *testing.T) {
	for _, r := range registries {
		t.Run(r.kind, func(t *testing.T) {
			store := buildStore(t, r)
			scheme := runtime.NewScheme()
			install.Install(scheme)

			gvk := v1alpha2.SchemeGroupVersion.WithKind(r.kind)
			external, err := scheme.New(gvk)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(r.sample), external); err != nil {
				t.Fatalf("sample: %v", err)
			}
			internal := store.rest.New()
			if err := scheme.Convert(external, internal, nil); err != nil {
				t.Fatalf("converting the sample: %v", err)
			}
			var sample map[string]interface{}
			if err := json.Unmarshal([]byte(r.sample), &sample); err != nil {
				t.Fatal(err)
			}

			want := append(v1alpha2.SelectableFields(r.kind), "metadata.name")
			if store.rest.NamespaceScoped() {
				want = append(want, "metadata.namespace")
			}
			sort.Strings(want)

			predicate := store.rest.PredicateFunc(labels.Everything(), fields.Everything())
			for what, getAttrs := range map[string]storage.AttrFunc{"the store's predicate": predicate.GetAttrs, "the storage": store.attrs} {
				if getAttrs == nil {
					t.Errorf("%s has no attribute function", what)
					continue
				}
				_, set, err := getAttrs(internal)
				if err != nil {
					t.Fatalf("%s: GetAttrs: %v", what, err)
				}
				var got []string
				for k := range set {
					got = append(got, k)
				}
				sort.Strings(got)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s publishes fields %v, want %v (v1alpha2.SelectableFields plus metadata)", what, got, want)
				}
				// Every field label is the JSON path of the field it selects on.
				for _, label := range want {
					value, ok := lookup(sample, label)
					if !ok || value == "" {
						t.Fatalf("the %s sample does not set %s", r.kind, label)
					}
					if set[label] != value {
						t.Errorf("%s: %s = %q, want %q from the object", what, label, set[label], value)
					}
				}
			}
		})
	}
}

func lookup(o map[string]interface{}, path string) (string, bool) {
	var cur interface{} = o
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]interface{})
		if !ok {
			return "", false
		}
		if cur, ok = m[part]; !ok {
			return "", false
		}
	}
	s, ok := cur.(string)
	return s, ok
}
