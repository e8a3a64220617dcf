package e2e

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/virtplane/virtplane/test/seeds"
)

// seedException is a manifest of the user documentation that cannot be applied as written,
// with the refusal a user gets, and (when the document has placeholders a reader fills in)
// what happens once they are filled in.
type seedException struct {
	Kind, Name string // the document, so a stale entry is noticed
	Reason     string
	Refusal    []string // all appear in kubectl's output for the document as written
	// Skip marks a document that has nothing to replay here once its refusal is checked.
	Skip bool
	// Fill replaces placeholders ("NS" in a value is the seed file's namespace); DropEllipsis
	// removes the keys whose value is elided with "...". The filled document is then applied.
	Fill         map[string]string
	DropEllipsis bool
	// FilledRefusal: the filled document is still refused, with all of these; nil: accepted.
	FilledRefusal []string
	// FilledCheck: fields of the stored filled object (dotted path -> value).
	FilledCheck map[string]string
}

var (
	seedCloudInit = base64.StdEncoding.EncodeToString([]byte("#cloud-config\npackage_update: true\npackages:\n  - qemu-guest-agent\n"))
	seedUnattend  = base64.StdEncoding.EncodeToString([]byte("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<unattend xmlns=\"urn:schemas-microsoft-com:unattend\"/>\n"))
)

// seedExceptions are keyed by "<file number>:<line>" of the document's apiVersion line.
var seedExceptions = map[string]seedException{
	"000:238": {
		Kind: "ClusterVirtualImage", Name: "ubuntu-2204",
		Reason:  "the image reference docker.io/<username>/ubuntu2204:latest has a placeholder a reader replaces",
		Refusal: []string{`The ClusterVirtualImage "ubuntu-2204" is invalid`, "spec.dataSource.containerImage.image", "docker.io/<username>/ubuntu2204:latest"},
		Fill:    map[string]string{"<username>": "deckhouse"},
		FilledCheck: map[string]string{
			"spec.dataSource.type":                 "ContainerImage",
			"spec.dataSource.containerImage.image": "docker.io/deckhouse/ubuntu2204:latest",
		},
	},
	"000:343": {
		Kind: "ModuleConfig", Name: "virtualization",
		Reason:  "platform settings are our --config file, not a ModuleConfig object: the kind does not exist here",
		Refusal: []string{`no matches for kind "ModuleConfig" in version "deckhouse.io/v1alpha1"`},
		Skip:    true,
	},
	"001:280": {
		Kind: "VirtualImage", Name: "<image-name>",
		Reason:  "name, namespace and source disk are placeholders; the namespace <namespace> cannot exist",
		Refusal: []string{`namespaces "<namespace>" not found`},
		Fill:    map[string]string{"<image-name>": "linux-vm-root-image", "<namespace>": "NS", "<source-disk-name>": "linux-vm-root"},
		// The document has no spec.storage: the API default applies.
		FilledCheck: map[string]string{"spec.storage": "ContainerRegistry", "spec.dataSource.objectRef.kind": "VirtualDisk", "spec.dataSource.objectRef.name": "linux-vm-root"},
	},
	"001:298": {
		Kind: "ClusterVirtualImage", Name: "<image-name>",
		Reason:      "name, source disk and its namespace are placeholders",
		Refusal:     []string{`The ClusterVirtualImage "<image-name>" is invalid`, `metadata.name: Invalid value: "<image-name>"`, "RFC 1123"},
		Fill:        map[string]string{"<image-name>": "e2e-seeds-image-from-disk", "<namespace>": "NS", "<source-disk-name>": "linux-vm-root"},
		FilledCheck: map[string]string{"spec.dataSource.objectRef.kind": "VirtualDisk", "spec.dataSource.objectRef.namespace": "NS"},
	},
	"001:316": {
		Kind: "VirtualDisk", Name: "<vm-disk-name>",
		Reason:      "name, namespace and image are placeholders; the namespace <namespace> cannot exist",
		Refusal:     []string{`namespaces "<namespace>" not found`},
		Fill:        map[string]string{"<vm-disk-name>": "linux-vm-disk", "<namespace>": "NS", "<image-name>": "linux-vm-root-image"},
		FilledCheck: map[string]string{"spec.dataSource.objectRef.kind": "VirtualImage", "spec.dataSource.objectRef.name": "linux-vm-root-image"},
	},
	"003:206": {
		Kind: "VirtualMachineClass", Name: "<vmclass-name>",
		Reason:  "a skeleton: cpu, nodeSelector and sizingPolicies are elided with ... and the name is a placeholder",
		Refusal: []string{"cannot be handled as a VirtualMachineClass", "spec.cpu"},
	},
	"003:279": {
		Kind: "VirtualMachineClass", Name: "universal",
		Reason:       "sizingPolicies: { ... } elides the policies",
		Refusal:      []string{"cannot be handled as a VirtualMachineClass", "spec.sizingPolicies"},
		DropEllipsis: true,
		FilledCheck:  map[string]string{"spec.cpu.type": "Discovery"},
	},
	"003:289": {
		Kind: "VirtualMachineClass", Name: "cpuX",
		Reason:        "sizingPolicies: { ... } elides the policies; the name cpuX has upper-case letters, invalid for an object name",
		Refusal:       []string{"cannot be handled as a VirtualMachineClass", "spec.sizingPolicies"},
		DropEllipsis:  true,
		FilledRefusal: []string{`The VirtualMachineClass "cpuX" is invalid`, `metadata.name: Invalid value: "cpuX"`, "lowercase RFC 1123"},
	},
	"003:304": {
		Kind: "VirtualMachineClass", Name: "cpuY",
		Reason:        "sizingPolicies: { ... } elides the policies; the name cpuY has upper-case letters, invalid for an object name",
		Refusal:       []string{"cannot be handled as a VirtualMachineClass", "spec.sizingPolicies"},
		DropEllipsis:  true,
		FilledRefusal: []string{`The VirtualMachineClass "cpuY" is invalid`, `metadata.name: Invalid value: "cpuY"`, "lowercase RFC 1123"},
	},
	"004:351": {
		Kind: "VirtualImage", Name: "ubuntu-2204",
		Reason:      "the image reference docker.io/<username>/ubuntu2204:latest has a placeholder a reader replaces",
		Refusal:     []string{`The VirtualImage "ubuntu-2204" is invalid`, "spec.dataSource.containerImage.image", "docker.io/<username>/ubuntu2204:latest"},
		Fill:        map[string]string{"<username>": "deckhouse"},
		FilledCheck: map[string]string{"spec.dataSource.containerImage.image": "docker.io/deckhouse/ubuntu2204:latest"},
	},
	"004:1201": {
		Kind: "Secret", Name: "cloud-init-example",
		Reason:      "<base64 data> stands for the user's encoded cloud-init; kube-apiserver refuses it as base64",
		Refusal:     []string{"illegal base64 data"},
		Fill:        map[string]string{"<base64 data>": seedCloudInit},
		FilledCheck: map[string]string{"type": "provisioning.virtualization.deckhouse.io/cloud-init", "data.userData": seedCloudInit},
	},
	"004:1228": {
		Kind: "Secret", Name: "sysprep-example",
		Reason:      "<base64 data> stands for the user's encoded unattend.xml; kube-apiserver refuses it as base64",
		Refusal:     []string{"illegal base64 data"},
		Fill:        map[string]string{"<base64 data>": seedUnattend},
		FilledCheck: map[string]string{"type": "provisioning.virtualization.deckhouse.io/sysprep", "data.unattend.xml": seedUnattend},
	},
}

// seedCoreKinds are the kinds of other groups the seeds use, all namespaced; they go to
// kube-apiserver itself.
var seedCoreKinds = map[string]bool{"Secret": true, "Service": true, "Ingress": true}

func seedKey(m seeds.Manifest) string {
	return strings.SplitN(m.File, "_", 2)[0] + ":" + strconv.Itoa(m.Line)
}

// seedDropEllipsis removes the keys whose value is elided ("..." or { ... }).
func seedDropEllipsis(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		for k, x := range t {
			s, isString := x.(string)
			m, isMap := x.(map[string]interface{})
			_, elided := m["..."]
			if (isString && strings.TrimSpace(s) == "...") || (isMap && elided) {
				delete(t, k)
				continue
			}
			t[k] = seedDropEllipsis(x)
		}
	case []interface{}:
		for i, x := range t {
			t[i] = seedDropEllipsis(x)
		}
	}
	return v
}

// seedSubset reports where got does not hold everything want holds (lists element by
// element, numbers as written).
func seedSubset(want, got interface{}, path string) []string {
	switch w := want.(type) {
	case map[string]interface{}:
		g, ok := got.(map[string]interface{})
		if !ok {
			return []string{fmt.Sprintf("%s: stored %v, want an object", path, got)}
		}
		var diffs []string
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			gv, ok := g[k]
			if !ok {
				if m, isMap := w[k].(map[string]interface{}); isMap && len(m) == 0 {
					continue // an empty object may be dropped
				}
				diffs = append(diffs, fmt.Sprintf("%s.%s: missing in the stored object", path, k))
				continue
			}
			diffs = append(diffs, seedSubset(w[k], gv, path+"."+k)...)
		}
		return diffs
	case []interface{}:
		g, ok := got.([]interface{})
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: stored %v, want %v", path, got, want)}
		}
		var diffs []string
		for i := range w {
			diffs = append(diffs, seedSubset(w[i], g[i], fmt.Sprintf("%s[%d]", path, i))...)
		}
		return diffs
	default:
		if !reflect.DeepEqual(want, got) && fmt.Sprint(want) != fmt.Sprint(got) {
			return []string{fmt.Sprintf("%s: stored %v, want %v", path, got, want)}
		}
	}
	return nil
}

// seedApplied is an object a seed document created or changed.
type seedApplied struct {
	Ref       string // resource/name as kubectl printed it
	Namespace string
	Doc       []byte // the last document applied to it
	Pos       string
}

var seedResultRe = regexp.MustCompile(`(?m)^(\S+)/(\S+) (created|configured|unchanged)$`)

// TestSeedManifests applies every manifest of the user documentation (seeds.Load, repeats
// removed by seeds.Unique), file by file in document order, so that what a document refers to
// was applied before it. Namespaced documents without a namespace go to a fresh namespace per
// seed file. Each document must be accepted, except the documented exceptions
// (seedExceptions), which must be refused with the stated message; where the exception is a
// placeholder, the document with the placeholder filled in is applied too. Afterwards every
// object the documents created is read back with kubectl get and holds what was applied.
func TestSeedManifests(t *testing.T) {
	ref := apiRef(t)
	dir, err := seeds.Dir()
	if err != nil {
		t.Skipf("no seeds: %v", err)
	}
	all, _, err := seeds.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ms := seeds.Unique(all)
	if len(ms) < 40 {
		t.Fatalf("only %d unique manifests in the seeds", len(ms))
	}
	used := map[string]bool{}
	var files []string
	byFile := map[string][]seeds.Manifest{}
	for _, m := range ms {
		if _, ok := byFile[m.File]; !ok {
			files = append(files, m.File)
		}
		byFile[m.File] = append(byFile[m.File], m)
	}

	namespaced := func(kind string) (bool, bool) {
		if k, ok := ref[kind]; ok {
			return k.Namespaced, true
		}
		return seedCoreKinds[kind], seedCoreKinds[kind]
	}

	for _, file := range files {
		num := strings.SplitN(file, "_", 2)[0]
		t.Run(file, func(t *testing.T) {
			fileT := t // cleanups outlive the document's subtest: the objects are read back last
			ns := namespace(t, "seeds-"+num)
			created := map[string]bool{} // namespaces made for documents that name one
			applied := map[string]*seedApplied{}
			var order []string
			accept := func(t *testing.T, m seeds.Manifest, doc []byte, out, objNS string, first bool) *seedApplied {
				t.Helper()
				res := seedResultRe.FindStringSubmatch(out)
				if res == nil {
					t.Fatalf("unexpected kubectl output:\n%s", out)
				}
				wantRes := strings.ToLower(m.Kind)
				if g := m.Group(); g != "" {
					wantRes += "." + g
				}
				if res[1] != wantRes {
					t.Errorf("applied as %s, want %s", res[1], wantRes)
				}
				name := res[2]
				var doc0 map[string]interface{}
				_ = yaml.Unmarshal(doc, &doc0)
				if n, _ := jsonAt(doc0, "metadata", "name").(string); n != "" && name != n {
					t.Errorf("kubectl reports %s, the document names %s", name, n)
				}
				key := res[1] + "/" + name + "@" + objNS
				prev := applied[key]
				switch {
				case prev == nil && first && res[3] != "created":
					t.Errorf("kubectl says %q, want created for a new object:\n%s", res[3], out)
				case prev != nil && res[3] == "created":
					t.Errorf("created again: the object applied at %s is gone:\n%s", prev.Pos, out)
				}
				if prev == nil {
					order = append(order, key)
				}
				a := &seedApplied{Ref: res[1] + "/" + name, Namespace: objNS, Doc: doc, Pos: m.Pos()}
				applied[key] = a
				return a
			}
			for _, m := range byFile[file] {
				key := seedKey(m)
				t.Run(fmt.Sprintf("%s %s %s", key, m.Kind, m.Name+m.GenerateName), func(t *testing.T) {
					isNS, known := namespaced(m.Kind)
					verb := "apply"
					if strings.Contains(" "+m.Shell+" ", " create ") {
						verb = "create" // generateName: the documentation creates, as apply cannot
					}
					args := []string{verb, "-f", "-"}
					objNS := ""
					if isNS {
						objNS = ns
						if m.Namespace != "" {
							objNS = m.Namespace
							if !strings.ContainsAny(objNS, "<>") && !created[objNS] {
								namespace(fileT, objNS)
								created[objNS] = true
							}
						} else {
							args = append(args, "-n", ns)
						}
					}
					// A cluster object that exists already (another test's) is updated, not created.
					existed := false
					if !isNS && known && m.Name != "" && !strings.ContainsAny(m.Name, "<>") {
						_, err := kubectl(t, "", "get", ref[m.Kind].Resource(), m.Name)
						existed = err == nil
					}
					out, err := kubectl(t, string(m.YAML), args...)

					ex, isException := seedExceptions[key]
					if !isException {
						if err != nil {
							t.Fatalf("refused (kubectl %s):\n%s\n%s", strings.Join(args, " "), out, m.YAML)
						}
						a := accept(t, m, m.YAML, out, objNS, !existed)
						if !isNS && !existed && strings.Contains(out, " created") {
							fileT.Cleanup(func() { _, _ = kubectl(fileT, "", "delete", a.Ref, "--ignore-not-found", "--wait=false") })
						}
						return
					}
					used[key] = true
					if ex.Kind != m.Kind || ex.Name != m.Name {
						t.Fatalf("exception %s is for %s %s, the document is %s %s", key, ex.Kind, ex.Name, m.Kind, m.Name)
					}
					if err == nil {
						t.Fatalf("accepted, but documented as refused (%s):\n%s", ex.Reason, out)
					}
					for _, s := range ex.Refusal {
						if !strings.Contains(out, s) {
							t.Errorf("refusal does not say %q (%s):\n%s", s, ex.Reason, out)
						}
					}
					if ex.Fill != nil || ex.DropEllipsis {
						doc := string(m.YAML)
						for from, to := range ex.Fill {
							doc = strings.ReplaceAll(doc, from, strings.ReplaceAll(to, "NS", ns))
						}
						if ex.DropEllipsis {
							var v interface{}
							if err := yaml.Unmarshal([]byte(doc), &v); err != nil {
								t.Fatal(err)
							}
							b, err := yaml.Marshal(seedDropEllipsis(v))
							if err != nil {
								t.Fatal(err)
							}
							doc = string(b)
						}
						if strings.Contains(doc, "...") || regexp.MustCompile(`<[a-z0-9 -]+>`).MatchString(doc) {
							t.Fatalf("placeholders left after filling:\n%s", doc)
						}
						fargs := []string{verb, "-f", "-"}
						if isNS && m.Namespace == "" {
							fargs = append(fargs, "-n", ns)
						}
						filledNS := objNS
						for from, to := range ex.Fill {
							filledNS = strings.ReplaceAll(filledNS, from, strings.ReplaceAll(to, "NS", ns))
						}
						out, err := kubectl(t, doc, fargs...)
						switch {
						case ex.FilledRefusal != nil:
							if err == nil {
								t.Errorf("filled in, accepted; want refused (%s):\n%s", ex.Reason, out)
							}
							for _, s := range ex.FilledRefusal {
								if !strings.Contains(out, s) {
									t.Errorf("filled in, the refusal does not say %q:\n%s", s, out)
								}
							}
						case err != nil:
							t.Errorf("filled in, refused:\n%s\n%s", out, doc)
						default:
							a := accept(t, m, []byte(doc), out, filledNS, true)
							if !isNS {
								fileT.Cleanup(func() { _, _ = kubectl(fileT, "", "delete", a.Ref, "--ignore-not-found", "--wait=false") })
							}
							gargs := []string{"get", a.Ref, "-o", "json"}
							if isNS {
								gargs = append(gargs, "-n", filledNS)
							}
							obj := colJSON(t, mustKubectl(t, "", gargs...))
							for path, want := range ex.FilledCheck {
								want = strings.ReplaceAll(want, "NS", ns)
								if got := seedPath(obj, path); got != want {
									t.Errorf("filled in, stored %s is %v, want %q", path, got, want)
								}
							}
						}
					}
					if ex.Skip {
						t.Skipf("%s: %s", key, ex.Reason)
					}
				})
			}

			// Everything the file created can be read back and holds what was applied last.
			for _, key := range order {
				a := applied[key]
				t.Run("get "+a.Ref, func(t *testing.T) {
					args := []string{"get", a.Ref, "-o", "json"}
					if a.Namespace != "" {
						args = append(args, "-n", a.Namespace)
					}
					out, err := kubectl(t, "", args...)
					if err != nil {
						t.Fatalf("kubectl get %s (applied at %s): %v\n%s", a.Ref, a.Pos, err, out)
					}
					obj := colJSON(t, out)
					var doc map[string]interface{}
					if err := yaml.Unmarshal(a.Doc, &doc); err != nil {
						t.Fatal(err)
					}
					if obj["kind"] != doc["kind"] || obj["apiVersion"] != doc["apiVersion"] {
						t.Errorf("stored %v %v, applied %v %v", obj["apiVersion"], obj["kind"], doc["apiVersion"], doc["kind"])
					}
					if a.Namespace != "" && jsonAt(obj, "metadata", "namespace") != a.Namespace {
						t.Errorf("stored in namespace %v, want %s", jsonAt(obj, "metadata", "namespace"), a.Namespace)
					}
					for k, v := range doc {
						switch k {
						case "apiVersion", "kind":
						case "metadata":
							if labels := jsonAt(v, "labels"); labels != nil {
								for _, d := range seedSubset(labels, jsonAt(obj, "metadata", "labels"), "metadata.labels") {
									t.Errorf("%s: %s", a.Pos, d)
								}
							}
						default:
							for _, d := range seedSubset(v, obj[k], k) {
								t.Errorf("%s: %s", a.Pos, d)
							}
						}
					}
				})
			}
		})
	}

	// A stale exception (the document changed or is gone) must be noticed.
	var stale []string
	for key := range seedExceptions {
		if !used[key] {
			stale = append(stale, key)
		}
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		t.Errorf("exceptions that match no seed document: %v", stale)
	}

	// The documents that are not YAML at all (a bare "..." line) are refused by kubectl.
	t.Run("unparsable", func(t *testing.T) {
		r, err := seeds.Scan(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Unparsable) == 0 {
			t.Skip("no unparsable documents")
		}
		for _, m := range r.Unparsable {
			out, err := kubectl(t, string(m.YAML), "apply", "--dry-run=server", "-n", "default", "-f", "-")
			if err == nil || !strings.Contains(out, "yaml") {
				t.Errorf("%s %s %s: want a YAML error from kubectl, got %v:\n%s", m.Pos(), m.Kind, m.Name, err, out)
			}
		}
	})
}

// seedPath reads a dotted path; a key may itself hold a dot when the rest matches it whole
// ("data.unattend.xml").
func seedPath(obj map[string]interface{}, path string) interface{} {
	if v, ok := obj[path]; ok {
		return v
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		if next, ok := obj[path[:i]].(map[string]interface{}); ok {
			if v := seedPath(next, path[i+1:]); v != nil {
				return v
			}
		}
	}
	return nil
}
