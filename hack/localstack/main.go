// Command localstack runs the local stack (etcd, kube-apiserver, virtualization-apiserver
// behind an APIService) from the repository root:
//
//	localstack run    foreground; Ctrl-C stops everything
//	localstack up     the same in the background; returns once ready
//	localstack down   stops what up started
//
// State lives in .local/ and is reused: objects survive a restart.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/virtplane/virtplane/internal/localstack"
)

const (
	stateDir = ".local"
	pidFile  = ".local/stack.pid"
	ready    = ".local/stack.ready"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: localstack run|up|down")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = run()
	case "up":
		err = up()
	case "down":
		err = down()
	default:
		err = fmt.Errorf("unknown command %q: use run, up or down", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "localstack:", err)
		os.Exit(1)
	}
}

func options() localstack.Options {
	return localstack.Options{
		Dir:                   stateDir,
		Bin:                   "bin",
		RBAC:                  "artifacts/rbac",
		EtcdPort:              12379,
		KubePort:              6443,
		VirtualizationPort:    8443,
		DVCRPort:              5001,
		UploadPort:            8081,
		ControllerMetricsPort: 8082,
		Log:                   os.Stdout,
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	_ = os.Remove(ready)
	start := time.Now()
	s, err := localstack.Start(ctx, options())
	if err != nil {
		return err
	}
	defer s.Stop()
	kubeconfig, _ := filepath.Abs(s.Kubeconfig)
	guestURL, err := serveGuestImages(ctx)
	if err != nil {
		return err
	}
	fmt.Printf(`
The stack is ready (%s). Logs are in %s/logs.

  export KUBECONFIG=%s
  kubectl get nodes,storageclass
  kubectl api-resources --api-group=virtualization.deckhouse.io

Quick start (the user guide's, with the test guest image served from this machine):

  kubectl apply -f - <<EOF
  apiVersion: virtualization.deckhouse.io/v1alpha2
  kind: VirtualImage
  metadata:
    name: guest
  spec:
    storage: ContainerRegistry
    dataSource:
      type: HTTP
      http:
        url: "%s/guest.qcow2"
  EOF
  kubectl apply -f - <<EOF
  apiVersion: virtualization.deckhouse.io/v1alpha2
  kind: VirtualDisk
  metadata:
    name: linux-disk
  spec:
    dataSource:
      type: ObjectRef
      objectRef:
        kind: VirtualImage
        name: guest
  EOF
  kubectl apply -f - <<"EOF"
  apiVersion: virtualization.deckhouse.io/v1alpha2
  kind: VirtualMachine
  metadata:
    name: linux-vm
  spec:
    virtualMachineClassName: host
    cpu:
      cores: 1
    memory:
      size: 1Gi
    provisioning:
      type: UserData
      userData: |
        #cloud-config
        ssh_pwauth: True
        users:
        - name: cloud
          passwd: '$6$rounds=4096$saltsalt$fPmUsbjAuA7mnQNTajQM6ClhesyG0.yyQhvahas02ejfMAq1ykBo1RquzS0R6GgdIDlvS.kbUwDablGZKZcTP/'
          shell: /bin/bash
          sudo: ALL=(ALL) NOPASSWD:ALL
          lock_passwd: False
    blockDeviceRefs:
      - kind: VirtualDisk
        name: linux-disk
  EOF
  kubectl get vi,vd,vm
  bin/d8 v console linux-vm          # log in as cloud / cloud; ^] leaves
  bin/d8 v ssh cloud@linux-vm --local-ssh --command nproc
  bin/d8 v vnc linux-vm --web        # the guest's screen in a browser (noVNC)
  bin/d8 v restart linux-vm

The guest's user is cloud, password cloud. The image is also there as an ISO: %s/guest.iso

`, time.Since(start).Round(100*time.Millisecond), stateDir, kubeconfig, guestURL, guestURL)
	if err := os.WriteFile(ready, []byte(kubeconfig), 0o600); err != nil {
		return err
	}
	defer os.Remove(ready)
	select {
	case <-ctx.Done():
		fmt.Println("stopping")
		return nil
	case name := <-s.Done():
		return fmt.Errorf("%s exited; see %s/logs/%s.log", name, stateDir, name)
	}
}

// guestPort serves bin/guest (the test guest image built by hack/guest/build.sh) so the
// Quick start has an HTTP source on this machine.
const guestPort = 8090

func serveGuestImages(ctx context.Context) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(guestPort))
	if err != nil {
		return "", fmt.Errorf("serve the guest image: %w", err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(filepath.Join("bin", "guest"))), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	return "http://" + ln.Addr().String(), nil
}

func up() error {
	if pid, ok := running(); ok {
		return fmt.Errorf("already running (pid %d); make down first", pid)
	}
	if err := os.MkdirAll(filepath.Join(stateDir, "logs"), 0o700); err != nil {
		return err
	}
	_ = os.Remove(ready)
	logFile, err := os.Create(filepath.Join(stateDir, "logs", "stack.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "run")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(5 * time.Minute)
	for {
		if _, err := os.Stat(ready); err == nil {
			out, _ := os.ReadFile(filepath.Join(stateDir, "logs", "stack.log"))
			fmt.Print(string(out))
			return nil
		}
		select {
		case err := <-exited:
			out, _ := os.ReadFile(filepath.Join(stateDir, "logs", "stack.log"))
			os.Remove(pidFile)
			return fmt.Errorf("the stack stopped while starting (%v):\n%s", err, out)
		case <-deadline:
			return errors.New("the stack is not ready after 5 minutes; see .local/logs")
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func down() error {
	pid, ok := running()
	if !ok {
		fmt.Println("not running")
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return err
	}
	for i := 0; i < 600; i++ {
		if syscall.Kill(pid, 0) != nil {
			os.Remove(pidFile)
			fmt.Println("stopped")
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("pid %d did not stop within a minute", pid)
}

func running() (int, bool) {
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || syscall.Kill(pid, 0) != nil {
		return 0, false
	}
	return pid, true
}
