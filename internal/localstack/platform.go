package localstack

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/virtplane/virtplane/pkg/config"
	"github.com/virtplane/virtplane/pkg/localnode/virt"
)

// The platform is what turns objects into data (and, later, VMs): kube-scheduler, DVCR,
// virtualization-controller and the local nodes. The local nodes are the single-machine
// stand-in for the kubelet, a CSI driver and KubeVirt; nothing else knows they are not real.

// Names shared with artifacts/ and the programs' defaults.
const (
	platformNamespace = "d8-virtualization"
	// ImporterImage is the importer's container image in the platform configuration; the local
	// nodes run it as bin/virtualization-importer.
	ImporterImage = "virtplane/virtualization-importer:dev"
	// StorageClassImmediate and StorageClassWFFC are the local nodes' classes, like the pairs
	// of the user guide (i-sds-replicated-thin-r1 / sds-replicated-thin-r1).
	StorageClassImmediate = "local"
	StorageClassWFFC      = "local-wffc"
	localProvisioner      = "local.virtplane.io"
	// DefaultVirtualMachineCIDR is the VM subnet of the guides' examples.
	DefaultVirtualMachineCIDR = "10.66.10.0/24"
)

// platformUsers are the client identities of the platform's programs. The controller and DVCR
// act as their ServiceAccounts, so artifacts/rbac decides what they may do here as on a
// cluster; the scheduler has its bootstrap identity. The local nodes stand in for kubelet,
// CSI and KubeVirt together and act as cluster admins.
var platformUsers = []struct {
	file, cn string
	orgs     []string
}{
	{"kube-scheduler", "system:kube-scheduler", nil},
	{"virtualization-controller", "system:serviceaccount:" + platformNamespace + ":virtualization-controller",
		[]string{"system:serviceaccounts", "system:serviceaccounts:" + platformNamespace}},
	{"dvcr", "system:serviceaccount:" + platformNamespace + ":dvcr",
		[]string{"system:serviceaccounts", "system:serviceaccounts:" + platformNamespace}},
	{"local-node", "system:local-node", []string{"system:masters"}},
}

// writeConfig writes the platform configuration every program reads (--config).
func (s *Stack) writeConfig(certs pki) (string, error) {
	cfg := config.Config{
		DVCR: config.DVCR{
			Address:          "127.0.0.1:" + strconv.Itoa(s.opts.DVCRPort),
			Insecure:         true,
			TokenKeyFile:     certs.path(dvcrToken + ".key"),
			TokenCertFile:    certs.path(dvcrToken + ".crt"),
			StorageDirectory: filepath.Join(s.opts.Dir, "dvcr"),
		},
		Uploads: config.Uploads{
			ExternalURL: "http://127.0.0.1:" + strconv.Itoa(s.opts.UploadPort),
			WaitTimeout: s.opts.UploadWaitTimeout,
		},
		Importer:                config.Importer{Image: ImporterImage, Namespace: platformNamespace},
		VirtualMachineCIDRs:     s.opts.VirtualMachineCIDRs,
		IPAddressLeaseRetention: s.opts.IPAddressLeaseRetention,
	}
	if len(cfg.VirtualMachineCIDRs) == 0 {
		cfg.VirtualMachineCIDRs = []string{DefaultVirtualMachineCIDR}
	}
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return "", err
	}
	path := filepath.Join(s.opts.Dir, "config.yaml")
	return path, os.WriteFile(path, data, 0o600)
}

// startScheduler starts kube-scheduler: the real one places importer Pods and binds
// WaitForFirstConsumer volumes.
func (s *Stack) startScheduler() error {
	kc := filepath.Join(s.opts.Dir, "kube-scheduler.kubeconfig")
	if err := s.writeKubeconfig(kc, s.KubeURL, "kube-scheduler"); err != nil {
		return err
	}
	return s.run("kube-scheduler", filepath.Join(s.opts.Bin, "kube-scheduler"),
		"--kubeconfig="+kc, "--authentication-kubeconfig="+kc, "--authorization-kubeconfig="+kc,
		"--bind-address=127.0.0.1", "--secure-port=0", "--leader-elect=false")
}

// startPlatform starts DVCR, the local nodes and the controller once the API is served, and
// registers KubeVirt's subresource API, which node-1 serves.
func (s *Stack) startPlatform(ctx context.Context, configPath string) error {
	if out, err := s.Kubectl(ctx, strings.NewReader(storageClasses), "apply", "-f", "-"); err != nil {
		return fmt.Errorf("storage classes: %v\n%s", err, out)
	}
	// KubeVirt's VMI and migration kinds, as a cluster with KubeVirt has them; the local
	// nodes answer for them.
	if out, err := s.Kubectl(ctx, bytes.NewReader(virt.CRDs), "apply", "-f", "-"); err != nil {
		return fmt.Errorf("KubeVirt CRDs: %v\n%s", err, out)
	}
	if out, err := s.Kubectl(ctx, nil, "wait", "--for=condition=Established", "--timeout=60s",
		"crd/virtualmachineinstances.kubevirt.io", "crd/virtualmachineinstancemigrations.kubevirt.io"); err != nil {
		return fmt.Errorf("KubeVirt CRDs: %v\n%s", err, out)
	}

	dvcrKC := filepath.Join(s.opts.Dir, "dvcr.kubeconfig")
	if err := s.writeKubeconfig(dvcrKC, s.KubeURL, "dvcr"); err != nil {
		return err
	}
	dvcrAddr := "127.0.0.1:" + strconv.Itoa(s.opts.DVCRPort)
	if err := s.run("dvcr", filepath.Join(s.opts.Bin, "dvcr"), "serve",
		"--config="+configPath, "--listen="+dvcrAddr, "--kubeconfig="+dvcrKC); err != nil {
		return err
	}

	nodeKC := filepath.Join(s.opts.Dir, "local-node.kubeconfig")
	if err := s.writeKubeconfig(nodeKC, s.KubeURL, "local-node"); err != nil {
		return err
	}
	// node-1 plays virt-api besides its handler endpoint; every node serves its VMs' streams.
	virtAPIPort, err := freePort()
	if err != nil {
		return err
	}
	kubevirtCerts := s.KubeVirtCerts()
	for i := 1; i <= s.opts.Nodes; i++ {
		name := "node-" + strconv.Itoa(i)
		args := []string{
			"--kubeconfig=" + nodeKC, "--node-name=" + name,
			"--state-dir=" + filepath.Join(s.opts.Dir, "nodes"),
			"--volumes-dir=" + filepath.Join(s.opts.Dir, "volumes"),
			"--bin-dir=" + s.opts.Bin,
			"--provisioner",
			// DVCR serves plain HTTP on loopback here (containerDisk pulls).
			"--registry-insecure",
		}
		for flag, v := range map[string]string{"--runtime": s.opts.NodeRuntime, "--cpu": s.opts.NodeCPU, "--memory": s.opts.NodeMemory,
			"--migration-target-timeout": s.opts.MigrationTargetTimeout} {
			if v != "" {
				args = append(args, flag+"="+v)
			}
		}
		if s.opts.NodeMaxPods > 0 {
			args = append(args, "--max-pods="+strconv.Itoa(s.opts.NodeMaxPods))
		}
		port := 0
		if i == 1 {
			port = virtAPIPort
		}
		args = append(args, kubevirtCerts.nodeArgs(port)...)
		if err := s.run("local-"+name, filepath.Join(s.opts.Bin, "local-node"), args...); err != nil {
			return err
		}
	}

	ctrlKC := filepath.Join(s.opts.Dir, "virtualization-controller.kubeconfig")
	if err := s.writeKubeconfig(ctrlKC, s.KubeURL, "virtualization-controller"); err != nil {
		return err
	}
	ctrlArgs := append([]string{"--kubeconfig=" + ctrlKC, "--config=" + configPath, "--namespace=" + platformNamespace,
		"--metrics-bind-address=127.0.0.1:" + strconv.Itoa(s.opts.ControllerMetricsPort)}, s.opts.ExtraControllerArgs...)
	if err := s.run("virtualization-controller", filepath.Join(s.opts.Bin, "virtualization-controller"), ctrlArgs...); err != nil {
		return err
	}

	if err := waitHTTP(ctx, "http://"+dvcrAddr+"/healthz", nil, time.Minute); err != nil {
		return fmt.Errorf("dvcr: %w (see %s)", err, s.logPath("dvcr"))
	}
	if err := waitHTTP(ctx, "http://127.0.0.1:"+strconv.Itoa(s.opts.ControllerMetricsPort)+"/healthz", nil, time.Minute); err != nil {
		return fmt.Errorf("virtualization-controller: %w (see %s)", err, s.logPath("virtualization-controller"))
	}
	if err := s.waitNodes(ctx, time.Minute); err != nil {
		return err
	}
	if err := s.RegisterKubeVirtAPI(ctx, virtAPIPort); err != nil {
		return fmt.Errorf("%w (see %s)", err, s.logPath("local-node-1"))
	}
	return nil
}

// waitNodes waits until every local node reports Ready.
func (s *Stack) waitNodes(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var out []byte
	for time.Now().Before(deadline) {
		if name, ok := s.exited(); ok {
			return fmt.Errorf("%s exited (see %s)", name, s.logPath(name))
		}
		var err error
		out, err = s.Kubectl(ctx, nil, "get", "nodes", "-o",
			`jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
		if err == nil && strings.Count(string(out), "=True") >= s.opts.Nodes {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
	return fmt.Errorf("local nodes not Ready after %s: %s", timeout, strings.TrimSpace(string(out)))
}

// storageClasses are the local nodes' classes: volumes are files on this machine that every
// node reaches, so both access modes and both volume modes work (the annotations tell the
// controller, as CDI's StorageProfiles do on a cluster).
var storageClasses = `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: ` + StorageClassImmediate + `
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
    virtualization.deckhouse.io/access-modes: ReadWriteMany,ReadWriteOnce
    virtualization.deckhouse.io/volume-modes: Block,Filesystem
provisioner: ` + localProvisioner + `
reclaimPolicy: Delete
volumeBindingMode: Immediate
allowVolumeExpansion: true
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: ` + StorageClassWFFC + `
  annotations:
    virtualization.deckhouse.io/access-modes: ReadWriteMany,ReadWriteOnce
    virtualization.deckhouse.io/volume-modes: Block,Filesystem
provisioner: ` + localProvisioner + `
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
allowVolumeExpansion: true
`
