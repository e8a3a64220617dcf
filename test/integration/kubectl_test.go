package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// kubectl runs the machine's kubectl against the test server and returns its output.
func kubectl(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed")
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{
		Server:                   srv.Config.Host,
		CertificateAuthorityData: srv.Config.CAData,
		TLSServerName:            srv.Config.ServerName,
	}
	cfg.AuthInfos["test"] = &clientcmdapi.AuthInfo{Token: srv.Config.BearerToken}
	cfg.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test", Namespace: "kubectl"}
	cfg.CurrentContext = "test"
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), "KUBECACHEDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

const kubectlVM = `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachine
metadata:
  name: kubectl-vm
spec:
  virtualMachineClassName: host
  cpu:
    cores: 1
    coreFraction: 10%
  memory:
    size: 1Gi
  blockDeviceRefs:
    - kind: VirtualDisk
      name: kubectl-vm-root
`

// TestKubectl drives the server with the real kubectl: explain, server-side apply, tables and
// the validation message a user reads.
func TestKubectl(t *testing.T) {
	out, err := kubectl(t, "", "explain", "virtualmachine.spec.cpu")
	if err != nil || !strings.Contains(out, "cores") || !strings.Contains(out, "coreFraction") || !strings.Contains(out, "248") {
		t.Fatalf("kubectl explain: %v\n%s", err, out)
	}
	out, err = kubectl(t, kubectlVM, "apply", "--server-side", "-f", "-")
	if err != nil || !strings.Contains(out, "serverside-applied") {
		t.Fatalf("kubectl apply --server-side: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		args   []string
		header string
	}{
		{[]string{"get", "vm", "kubectl-vm"}, "NAME PHASE UPTIME NODE IPADDRESS AGE"},
		{[]string{"get", "vm", "kubectl-vm", "-o", "wide"}, "NAME PHASE UPTIME CORES COREFRACTION MEMORY NEED RESTART AGENT MIGRATABLE NODE IPADDRESS AGE"},
	} {
		out, err = kubectl(t, "", tc.args...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if err != nil || len(lines) != 2 || !strings.HasPrefix(lines[1], "kubectl-vm ") {
			t.Fatalf("kubectl %v: %v\n%s", tc.args, err, out)
		}
		if got := strings.Join(strings.Fields(lines[0]), " "); got != tc.header {
			t.Errorf("kubectl %v header = %q, want %q", tc.args, got, tc.header)
		}
	}
	out, err = kubectl(t, strings.Replace(kubectlVM, "cores: 1", "cores: 17", 1), "apply", "--server-side", "-f", "-")
	if err == nil || !strings.Contains(out, "spec.cpu.cores") {
		t.Fatalf("kubectl apply of 17 cores: expected a refusal naming spec.cpu.cores: %v\n%s", err, out)
	}
	if out, err = kubectl(t, "", "delete", "vm", "kubectl-vm"); err != nil {
		t.Fatalf("kubectl delete: %v\n%s", err, out)
	}
}
