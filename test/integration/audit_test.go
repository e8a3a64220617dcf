package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

// TestAuditLog checks that the server started with --audit-policy-file and --audit-log-path
// (see TestMain) records a VM create with its verb, resource, name and response code.
func TestAuditLog(t *testing.T) {
	vm := &v1alpha2.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("audited-%d", time.Now().UnixNano()), Namespace: "audit"},
		Spec: v1alpha2.VirtualMachineSpec{
			VirtualMachineClassName: "host",
			CPU:                     v1alpha2.CPUSpec{Cores: 1},
			Memory:                  v1alpha2.MemorySpec{Size: "1Gi"},
			BlockDeviceRefs:         []v1alpha2.BlockDeviceSpecRef{{Kind: v1alpha2.DiskDevice, Name: "root"}},
		},
	}
	created, err := srv.Client.VirtualizationV1alpha2().VirtualMachines("audit").Create(context.Background(), vm, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	f, err := os.Open(auditLog)
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
			r.APIGroup == "virtualization.deckhouse.io" && r.Namespace == "audit" && r.Name == created.Name &&
			ev.ResponseStatus.Code == 201 {
			return
		}
	}
	t.Fatalf("no audit event for the VM create in %s", auditLog)
}
