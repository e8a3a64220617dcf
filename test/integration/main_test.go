// Package integration drives a real virtualization-apiserver (in process, on embedded etcd,
// loopback HTTPS) through the generated clientset and raw HTTP, as a client would.
package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"

	"github.com/virtplane/virtplane/pkg/apiserver"
	"github.com/virtplane/virtplane/pkg/apiserver/testserver"
	"github.com/virtplane/virtplane/pkg/config"
)

var (
	srv *testserver.Server
	// auditLog is the server's audit log file.
	auditLog string
	// resources maps a kind to its discovery entry.
	resources = map[string]metav1.APIResource{}
)

// allowedClasses is the platform configuration's allow list for disks and images.
var allowedClasses = []string{"local-thin", "replicated-thin", "i-sds-replicated-thin-r2", "fast"}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "virtualization-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	platform := &config.Config{
		VirtualDisks:  config.StorageClassSettings{AllowedStorageClassNames: allowedClasses},
		VirtualImages: config.StorageClassSettings{AllowedStorageClassNames: allowedClasses},
	}
	// Every request is audited at Metadata level into auditLog (TestAuditLog reads it).
	policy := filepath.Join(dir, "audit-policy.yaml")
	auditLog = filepath.Join(dir, "audit.log")
	if err := os.WriteFile(policy, []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n"), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv, err = testserver.Start(dir, platform, func(o *apiserver.Options) {
		o.Recommended.Audit.PolicyFile = policy
		o.Recommended.Audit.LogOptions.Path = auditLog
		o.Recommended.Audit.LogOptions.BatchOptions.Mode = "blocking"
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the server:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	list, err := srv.Client.Discovery().ServerResourcesForGroupVersion("virtualization.deckhouse.io/v1alpha2")
	if err == nil {
		for _, r := range list.APIResources {
			if !strings.Contains(r.Name, "/") {
				resources[r.Kind] = r
			}
		}
	}
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, "discovery:", err)
	} else {
		code = m.Run()
	}
	srv.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

// object is a manifest as generic JSON.
type object map[string]interface{}

func decodeManifest(t *testing.T, doc []byte) object {
	t.Helper()
	js, err := yaml.ToJSON(doc)
	if err != nil {
		t.Fatal(err)
	}
	var o object
	if err := json.Unmarshal(js, &o); err != nil {
		t.Fatal(err)
	}
	return o
}

func (o object) meta() map[string]interface{} {
	m, _ := o["metadata"].(map[string]interface{})
	if m == nil {
		m = map[string]interface{}{}
		o["metadata"] = m
	}
	return m
}

func (o object) kind() string      { s, _ := o["kind"].(string); return s }
func (o object) name() string      { s, _ := o.meta()["name"].(string); return s }
func (o object) namespace() string { s, _ := o.meta()["namespace"].(string); return s }

// resourceFor returns the discovery entry of the object's kind.
func resourceFor(t *testing.T, kind string) metav1.APIResource {
	t.Helper()
	r, ok := resources[kind]
	if !ok {
		t.Fatalf("kind %s is not served", kind)
	}
	return r
}

// request builds a request on the object's resource (collection when name is empty).
func request(t *testing.T, verb, kind, namespace, name string, subresource ...string) *rest.Request {
	t.Helper()
	r := resourceFor(t, kind)
	req := srv.Client.VirtualizationV1alpha2().RESTClient().Verb(verb).Resource(r.Name)
	if r.Namespaced {
		req = req.Namespace(namespace)
	}
	if name != "" {
		req = req.Name(name)
	}
	if len(subresource) > 0 {
		req = req.SubResource(subresource...)
	}
	return req
}

// send sends the object and decodes the answer into a generic object.
func send(t *testing.T, req *rest.Request, o object) (object, error) {
	t.Helper()
	body, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	// Result.Raw hides the server's Status; Error keeps it, with its causes.
	res := req.SetHeader("Content-Type", "application/json").Body(body).Do(context.Background())
	if err := res.Error(); err != nil {
		return nil, err
	}
	raw, err := res.Raw()
	if err != nil {
		return nil, err
	}
	var out object
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("decoding the answer: %v: %s", err, raw)
	}
	return out, nil
}

func create(t *testing.T, o object) (object, error) {
	return send(t, request(t, "POST", o.kind(), o.namespace(), ""), o)
}

func get(t *testing.T, kind, namespace, name string) object {
	t.Helper()
	raw, err := request(t, "GET", kind, namespace, name).Do(context.Background()).Raw()
	if err != nil {
		t.Fatalf("get %s %s/%s: %v", kind, namespace, name, err)
	}
	var out object
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func remove(t *testing.T, kind, namespace, name string) {
	t.Helper()
	err := request(t, "DELETE", kind, namespace, name).Do(context.Background()).Error()
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("delete %s %s/%s: %v", kind, namespace, name, err)
	}
}

// expectInvalid checks err is a 422 Invalid naming the field path.
func expectInvalid(t *testing.T, err error, path string) {
	t.Helper()
	if err == nil {
		t.Fatalf("expected 422 Invalid at %s, the server accepted it", path)
	}
	status, ok := err.(apierrors.APIStatus)
	if !ok || status.Status().Code != 422 || status.Status().Reason != metav1.StatusReasonInvalid {
		t.Fatalf("expected 422 Invalid at %s, got %v (%+v)", path, err, status.Status())
	}
	if d := status.Status().Details; d != nil {
		for _, c := range d.Causes {
			if c.Field == path {
				return
			}
		}
	}
	t.Fatalf("expected a cause at %s, got %v", path, err)
}
