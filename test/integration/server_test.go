package integration

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func rawGet(t *testing.T, path string, flags ...string) []byte {
	t.Helper()
	req := srv.Client.Discovery().RESTClient().Get().AbsPath(path)
	for _, f := range flags {
		req = req.Param(f, "true")
	}
	body, err := req.DoRaw(context.Background())
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return body
}

// TestHealthAndMetrics checks the endpoints that probes and monitoring scrape.
func TestHealthAndMetrics(t *testing.T) {
	for _, path := range []string{"/healthz", "/livez", "/readyz"} {
		if got := string(rawGet(t, path)); got != "ok" {
			t.Errorf("%s = %q, want ok", path, got)
		}
	}
	if !strings.Contains(string(rawGet(t, "/readyz", "verbose")), "etcd ok") {
		t.Error("/readyz does not check etcd")
	}
	metrics := string(rawGet(t, "/metrics"))
	for _, m := range []string{"apiserver_request_total", "etcd_request_duration_seconds", "apiserver_storage_objects"} {
		if !strings.Contains(metrics, m) {
			t.Errorf("/metrics has no %s", m)
		}
	}
}

// TestOpenAPI checks both OpenAPI documents describe the kinds with their group, version and
// kind, which kubectl explain and server-side apply rely on.
func TestOpenAPI(t *testing.T) {
	var v2 struct {
		Definitions map[string]struct {
			Description string                   `json:"description"`
			GVK         []map[string]interface{} `json:"x-kubernetes-group-version-kind"`
		} `json:"definitions"`
	}
	if err := json.Unmarshal(rawGet(t, "/openapi/v2"), &v2); err != nil {
		t.Fatal(err)
	}
	var v3 struct {
		Components struct {
			Schemas map[string]struct {
				GVK []map[string]interface{} `json:"x-kubernetes-group-version-kind"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(rawGet(t, "/openapi/v3/apis/virtualization.deckhouse.io/v1alpha2"), &v3); err != nil {
		t.Fatal(err)
	}
	for kind := range resources {
		name := "io.deckhouse.virtualization.v1alpha2." + kind
		d, ok := v2.Definitions[name]
		if !ok || len(d.GVK) != 1 || d.GVK[0]["kind"] != kind || d.Description == "" {
			t.Errorf("OpenAPI v2 definition %s: %+v", name, d)
		}
		s, ok := v3.Components.Schemas[name]
		if !ok || len(s.GVK) != 1 || s.GVK[0]["kind"] != kind {
			t.Errorf("OpenAPI v3 schema %s: %+v", name, s)
		}
	}
}

// TestProtobufAcceptFallsBackToJSON: clients that prefer protobuf (the namespace controller's
// metadata client, kube's informers) must get JSON, since the group's types have no protobuf
// form; a failed protobuf encode would be a 500 and block namespace deletion.
func TestProtobufAcceptFallsBackToJSON(t *testing.T) {
	ctx := context.Background()
	ns := "protobuf-accept"
	vm := decodeManifest(t, []byte(kubectlVM))
	vm.meta()["namespace"] = ns
	if _, err := create(t, vm); err != nil {
		t.Fatal(err)
	}
	rc := srv.Client.VirtualizationV1alpha2().RESTClient()
	for _, verb := range []string{"GET", "DELETE"} {
		res := rc.Verb(verb).Namespace(ns).Resource("virtualmachines").
			SetHeader("Accept", "application/vnd.kubernetes.protobuf, application/json").Do(ctx)
		var code int
		res.StatusCode(&code)
		var contentType string
		res.ContentType(&contentType)
		if err := res.Error(); err != nil || code != 200 || !strings.HasPrefix(contentType, "application/json") {
			t.Errorf("%s collection with protobuf preferred: code %d, content type %q, error %v", verb, code, contentType, err)
		}
	}
	list := get(t, "VirtualMachine", ns, "")
	if items, _ := list["items"].([]interface{}); len(items) != 0 {
		t.Errorf("deletecollection left %d VMs", len(items))
	}
}

// TestEveryPatchOfAKindTakesFieldValidation: kubectl decides whether a kind supports
// server-side field validation from the first PATCH operation it finds for that kind in
// OpenAPI v3 (in map order). A subresource whose PATCH is tagged with its parent's kind and
// lacks the parameter (a Connecter such as upload) would make kubectl fall back, at random,
// to client-side validation, which refuses manifests that leave defaulted fields out.
func TestEveryPatchOfAKindTakesFieldValidation(t *testing.T) {
	type op struct {
		GVK        map[string]string `json:"x-kubernetes-group-version-kind"`
		Parameters []struct {
			Name string `json:"name"`
		} `json:"parameters"`
	}
	var v3 struct {
		Paths map[string]struct {
			Patch *op `json:"patch"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(rawGet(t, "/openapi/v3/apis/virtualization.deckhouse.io/v1alpha2"), &v3); err != nil {
		t.Fatal(err)
	}
	patched := map[string]bool{}
	for path, item := range v3.Paths {
		if item.Patch == nil {
			continue
		}
		kind := item.Patch.GVK["kind"]
		if _, ours := resources[kind]; !ours {
			continue
		}
		patched[kind] = true
		found := false
		for _, p := range item.Patch.Parameters {
			found = found || p.Name == "fieldValidation"
		}
		if !found {
			t.Errorf("PATCH %s is tagged %s but takes no fieldValidation", path, kind)
		}
	}
	for kind := range resources {
		if !patched[kind] {
			t.Errorf("no PATCH operation for %s", kind)
		}
	}
}
