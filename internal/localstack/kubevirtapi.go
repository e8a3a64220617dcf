package localstack

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// KubeVirt's subresource API on one machine, as on a cluster with KubeVirt: every local node
// serves the console, VNC and port-forward streams of its VMs on a handler endpoint (mutual
// TLS under the stack's KubeVirt CA, virt-handler's part), and node-1 also plays virt-api
// behind the APIService v1.subresources.kubevirt.io, so clients reach the streams through
// kube-apiserver.

// Names of KubeVirt's API registration, as a KubeVirt install has them.
const (
	kubeVirtNamespace  = "kubevirt"
	kubeVirtAPIService = "virt-api"
	// KubeVirtAPIService is the APIService of subresources.kubevirt.io/v1.
	KubeVirtAPIService = "v1.subresources.kubevirt.io"
)

// KubeVirtCerts are the files of the KubeVirt stand-in's TLS, made with the stack's other
// certificates.
type KubeVirtCerts struct {
	// CAFile signs the handler and virt-api certificates; it is the APIService's caBundle.
	CAFile string
	// HandlerCertFile and HandlerKeyFile are the handler certificate every local node
	// serves and presents to the other nodes' handlers (server and client usage).
	HandlerCertFile, HandlerKeyFile string
	// VirtAPICertFile and VirtAPIKeyFile are virt-api's serving certificate (localhost,
	// 127.0.0.1, virt-api.kubevirt.svc).
	VirtAPICertFile, VirtAPIKeyFile string
}

// KubeVirtCerts returns the stack's KubeVirt certificates.
func (s *Stack) KubeVirtCerts() KubeVirtCerts {
	p := pki{dir: filepath.Join(s.opts.Dir, "pki")}
	return KubeVirtCerts{
		CAFile:          p.path(kubevirtCA + ".crt"),
		HandlerCertFile: p.path(kubevirtHandler + ".crt"), HandlerKeyFile: p.path(kubevirtHandler + ".key"),
		VirtAPICertFile: p.path(kubevirtVirtAPI + ".crt"), VirtAPIKeyFile: p.path(kubevirtVirtAPI + ".key"),
	}
}

// nodeArgs are the local-node flags of the handler endpoint and, with virtAPIPort > 0, of
// virt-api on that port of 127.0.0.1.
func (c KubeVirtCerts) nodeArgs(virtAPIPort int) []string {
	args := []string{
		"--handler-bind-address=127.0.0.1:0",
		"--handler-tls-cert-file=" + c.HandlerCertFile, "--handler-tls-private-key-file=" + c.HandlerKeyFile,
		"--handler-client-ca-file=" + c.CAFile,
	}
	if virtAPIPort > 0 {
		args = append(args, "--virt-api-bind-address=127.0.0.1:"+strconv.Itoa(virtAPIPort),
			"--virt-api-tls-cert-file="+c.VirtAPICertFile, "--virt-api-tls-private-key-file="+c.VirtAPIKeyFile)
	}
	return args
}

// RegisterKubeVirtAPI routes subresources.kubevirt.io/v1 to the virt-api on 127.0.0.1:port
// (the namespace kubevirt, its ExternalName Service virt-api and the APIService) and returns
// once kube-apiserver reports the APIService Available, i.e. virt-api answered its discovery.
func (s *Stack) RegisterKubeVirtAPI(ctx context.Context, port int) error {
	ca, err := os.ReadFile(s.KubeVirtCerts().CAFile)
	if err != nil {
		return err
	}
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: %[1]s
---
# kube-apiserver reaches an ExternalName Service as https://<externalName>:<port> and checks
# the serving certificate for <name>.<namespace>.svc.
apiVersion: v1
kind: Service
metadata:
  name: %[2]s
  namespace: %[1]s
spec:
  type: ExternalName
  externalName: localhost
  ports:
  - name: https
    port: %[3]d
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: %[4]s
spec:
  group: subresources.kubevirt.io
  version: v1
  groupPriorityMinimum: 1000
  versionPriority: 15
  caBundle: %[5]s
  service:
    namespace: %[1]s
    name: %[2]s
    port: %[3]d
`, kubeVirtNamespace, kubeVirtAPIService, port, KubeVirtAPIService, base64.StdEncoding.EncodeToString(ca))
	if out, err := s.Kubectl(ctx, strings.NewReader(manifest), "apply", "-f", "-"); err != nil {
		return fmt.Errorf("registering KubeVirt's subresource API: %v\n%s", err, out)
	}
	if out, err := s.Kubectl(ctx, nil, "wait", "--for=condition=Available", "--timeout=2m", "apiservice/"+KubeVirtAPIService); err != nil {
		status, _ := s.Kubectl(ctx, nil, "get", "apiservice", KubeVirtAPIService, "-o",
			`jsonpath={.status.conditions[?(@.type=="Available")].message}`)
		return fmt.Errorf("the APIService %s is not Available: %v\n%s%s", KubeVirtAPIService, err, out, status)
	}
	return nil
}
