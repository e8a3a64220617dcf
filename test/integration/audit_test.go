package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/apiserver"
	"github.com/virtplane/virtplane/pkg/apiserver/testserver"
)

// TestAuditLog starts a server with --audit-log-path and --audit-policy-file and checks that a
// VM create is recorded with its verb, resource, name and response code.
func TestAuditLog(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policy, []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "audit.log")
	s, err := testserver.Start(dir, nil, func(o *apiserver.Options) {
		o.Recommended.Audit.PolicyFile = policy
		o.Recommended.Audit.LogOptions.Path = logPath
		o.Recommended.Audit.LogOptions.BatchOptions.Mode = "blocking"
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()

	vm := &v1alpha2.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Name: "audited", Namespace: "audit"},
		Spec: v1alpha2.VirtualMachineSpec{
			VirtualMachineClassName: "host",
			CPU:                     v1alpha2.CPUSpec{Cores: 1},
			Memory:                  v1alpha2.MemorySpec{Size: "1Gi"},
			BlockDeviceRefs:         []v1alpha2.BlockDeviceSpecRef{{Kind: v1alpha2.DiskDevice, Name: "root"}},
		},
	}
	if _, err := s.Client.VirtualizationV1alpha2().VirtualMachines("audit").Create(context.Background(), vm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		var ev struct {
			Verb      string `json:"verb"`
			Stage     string `json:"stage"`
			ObjectRef struct {
				Resource, Namespace, Name, APIGroup string
			} `json:"objectRef"`
			ResponseStatus struct {
				Code int `json:"code"`
			} `json:"responseStatus"`
		}
		if err := json.Unmarshal(scanner.Bytes(), &ev); err != nil {
			t.Fatalf("audit line is not JSON: %v", err)
		}
		r := ev.ObjectRef
		if ev.Verb == "create" && ev.Stage == "ResponseComplete" && r.Resource == "virtualmachines" &&
			r.APIGroup == "virtualization.deckhouse.io" && r.Namespace == "audit" && r.Name == "audited" &&
			ev.ResponseStatus.Code == 201 {
			return
		}
	}
	t.Fatalf("no audit event for the VM create in %s", logPath)
}
