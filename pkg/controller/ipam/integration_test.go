package ipam_test

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/apiserver/testserver"
	"github.com/virtplane/virtplane/pkg/controller/ipam"
	"github.com/virtplane/virtplane/pkg/generated/clientset/versioned"
	virtinformers "github.com/virtplane/virtplane/pkg/generated/informers/externalversions"
)

// The integration test runs two controllers at once against virtualization-apiserver on
// embedded etcd, as two replicas without leader election would.

const (
	cidr      = "10.66.10.0/24"
	vmsPerNS  = 100
	nsA, nsB  = "ipam-a", "ipam-b"
	waitLimit = 3 * time.Minute
)

// controller is one running controller instance with its own clients and caches.
type controller struct {
	stop func()
}

func startController(t *testing.T, cfg *rest.Config, retention time.Duration) *controller {
	t.Helper()
	client, err := versioned.NewForConfig(rest.CopyConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	prefixes, err := ipam.ParseCIDRs([]string{cidr})
	if err != nil {
		t.Fatal(err)
	}
	factory := virtinformers.NewSharedInformerFactory(client, 0)
	v := factory.Virtualization().V1alpha2()
	c, err := ipam.New(client, ipam.Informers{
		VirtualMachines: v.VirtualMachines(), VirtualMachineIPAddresses: v.VirtualMachineIPAddresses(), Leases: v.VirtualMachineIPAddressLeases(),
	}, ipam.Settings{CIDRs: prefixes, Retention: retention}, &record.FakeRecorder{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Run(ctx, 4); err != nil && ctx.Err() == nil {
			t.Errorf("controller: %v", err)
		}
	}()
	var once sync.Once
	ctrl := &controller{stop: func() {
		once.Do(func() {
			cancel()
			<-done
			factory.Shutdown()
		})
	}}
	t.Cleanup(ctrl.stop)
	return ctrl
}

func newVM(ns, name string) *v1alpha2.VirtualMachine {
	return &v1alpha2.VirtualMachine{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha2.VirtualMachineSpec{
			VirtualMachineClassName: "generic",
			CPU:                     v1alpha2.CPUSpec{Cores: 1, CoreFraction: "10%"},
			Memory:                  v1alpha2.MemorySpec{Size: "256Mi"},
			BlockDeviceRefs:         []v1alpha2.BlockDeviceSpecRef{{Kind: v1alpha2.DiskDevice, Name: name + "-root"}},
		},
	}
}

func staticIP(ns, name, addr string) *v1alpha2.VirtualMachineIPAddress {
	return &v1alpha2.VirtualMachineIPAddress{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       v1alpha2.VirtualMachineIPAddressSpec{Type: v1alpha2.VirtualMachineIPAddressTypeStatic, StaticIP: addr},
	}
}

// eventually polls check until it returns nil, or fails with its last error.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(waitLimit)
	for {
		err := check()
		if err == nil {
			t.Logf("%s: after %s", what, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func boundCondition(ip *v1alpha2.VirtualMachineIPAddress) metav1.Condition {
	if c := meta.FindStatusCondition(ip.Status.Conditions, string(ipam.BoundType)); c != nil {
		return *c
	}
	return metav1.Condition{}
}

// checkAddresses checks what a user would: every VM has exactly its automatic address,
// bound, in range, not a network or broadcast address, no address twice, and the leases
// are exactly the bound addresses. It returns the address of each VM (namespace/name).
func checkAddresses(ctx context.Context, client versioned.Interface, pool *ipam.Pool) (map[string]string, error) {
	byVM := map[string]string{}
	owner := map[string]string{}
	for _, ns := range []string{nsA, nsB} {
		vms, err := client.VirtualizationV1alpha2().VirtualMachines(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		ips, err := client.VirtualizationV1alpha2().VirtualMachineIPAddresses(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		if len(ips.Items) != len(vms.Items) {
			return nil, fmt.Errorf("%s: %d addresses for %d VMs", ns, len(ips.Items), len(vms.Items))
		}
		byName := map[string]*v1alpha2.VirtualMachineIPAddress{}
		for i := range ips.Items {
			byName[ips.Items[i].Name] = &ips.Items[i]
		}
		for i := range vms.Items {
			vm := &vms.Items[i]
			ip := byName[ipam.AutoName(vm)]
			if ip == nil {
				return nil, fmt.Errorf("VM %s/%s has no address %s", ns, vm.Name, ipam.AutoName(vm))
			}
			if c := boundCondition(ip); c.Status != metav1.ConditionTrue || ip.Status.Phase != v1alpha2.VirtualMachineIPAddressPhaseAttached || ip.Status.VirtualMachine != vm.Name {
				return nil, fmt.Errorf("address %s/%s: phase %q, VM %q, Bound %s/%s", ns, ip.Name, ip.Status.Phase, ip.Status.VirtualMachine, c.Status, c.Reason)
			}
			addr, err := netip.ParseAddr(ip.Status.Address)
			if err != nil || !pool.Contains(addr) || addr.As4()[3] == 0 || addr.As4()[3] == 255 {
				return nil, fmt.Errorf("address %s/%s holds %q, not a usable address of %s", ns, ip.Name, ip.Status.Address, cidr)
			}
			if prev, dup := owner[addr.String()]; dup {
				return nil, fmt.Errorf("%s is held by both %s and %s/%s", addr, prev, ns, ip.Name)
			}
			owner[addr.String()] = ns + "/" + ip.Name
			byVM[ns+"/"+vm.Name] = addr.String()
		}
	}
	leases, err := client.VirtualizationV1alpha2().VirtualMachineIPAddressLeases().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, l := range leases.Items {
		addr, ok := ipam.AddressOfLease(l.Name)
		ref := l.Spec.VirtualMachineIPAddressRef
		if !ok || ref == nil || owner[addr.String()] != ref.Namespace+"/"+ref.Name || l.Status.Phase != v1alpha2.VirtualMachineIPAddressLeasePhaseBound {
			return nil, fmt.Errorf("lease %s (ref %+v, phase %q) is not the bound lease of an address in use", l.Name, ref, l.Status.Phase)
		}
	}
	if len(leases.Items) != len(owner) {
		return nil, fmt.Errorf("%d leases for %d addresses", len(leases.Items), len(owner))
	}
	return byVM, nil
}

func TestTwoControllersShareTheAddressPool(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an API server and 200 VMs")
	}
	srv, err := testserver.Start(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last-in first-out: the controllers (and their watches) stop first.
	t.Cleanup(srv.Stop)
	ctx := context.Background()
	client := srv.Client
	prefixes, _ := ipam.ParseCIDRs([]string{cidr})
	pool := ipam.NewPool(prefixes)
	const retention = 2 * time.Second

	a := startController(t, srv.Config, retention)
	b := startController(t, srv.Config, retention)

	// 200 VMs in two namespaces, created concurrently; controller a restarts half-way,
	// while it is handing out addresses and more VMs arrive.
	var wg sync.WaitGroup
	errs := make(chan error, 2*vmsPerNS)
	createVMs := func(half int) {
		for _, ns := range []string{nsA, nsB} {
			for w := range 4 {
				from := half*vmsPerNS/2 + w*vmsPerNS/8
				wg.Go(func() {
					for i := from; i < from+vmsPerNS/8; i++ {
						if _, err := client.VirtualizationV1alpha2().VirtualMachines(ns).Create(ctx, newVM(ns, fmt.Sprintf("vm-%03d", i)), metav1.CreateOptions{}); err != nil {
							errs <- err
						}
					}
				})
			}
		}
	}
	createVMs(0)
	wg.Wait()
	eventually(t, "a quarter of the VMs have addresses", func() error {
		n := 0
		for _, ns := range []string{nsA, nsB} {
			ips, err := client.VirtualizationV1alpha2().VirtualMachineIPAddresses(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			for i := range ips.Items {
				if boundCondition(&ips.Items[i]).Status == metav1.ConditionTrue {
					n++
				}
			}
		}
		if n < vmsPerNS/2 {
			return fmt.Errorf("%d bound", n)
		}
		return nil
	})
	createVMs(1)
	a.stop()
	a = startController(t, srv.Config, retention)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("create VM: %v", err)
	}
	var addrs map[string]string
	eventually(t, "every VM gets one unique address", func() error {
		var err error
		addrs, err = checkAddresses(ctx, client, pool)
		return err
	})

	// Deleted VMs release their addresses: the leases turn Released, then go after the
	// retention time.
	w, err := client.VirtualizationV1alpha2().VirtualMachineIPAddressLeases().Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	released := map[string]bool{}
	for i := range 20 {
		name := fmt.Sprintf("vm-%03d", i*5)
		if err := client.VirtualizationV1alpha2().VirtualMachines(nsA).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		released[ipam.LeaseName(netip.MustParseAddr(addrs[nsA+"/"+name]))] = false
	}
	gone := 0
	for timeout := time.After(waitLimit); gone < len(released); {
		select {
		case ev := <-w.ResultChan():
			l, ok := ev.Object.(*v1alpha2.VirtualMachineIPAddressLease)
			if !ok {
				t.Fatalf("lease watch: %v", ev.Object)
			}
			seen, ours := released[l.Name]
			switch {
			case !ours:
			case ev.Type == watch.Modified && l.Status.Phase == v1alpha2.VirtualMachineIPAddressLeasePhaseReleased:
				if l.Spec.VirtualMachineIPAddressRef != nil || l.Annotations[ipam.RetainedForAnnotation] != nsA {
					t.Fatalf("released lease %s: ref %+v, annotations %v; want kept for %s", l.Name, l.Spec.VirtualMachineIPAddressRef, l.Annotations, nsA)
				}
				released[l.Name] = true
			case ev.Type == watch.Deleted:
				if !seen {
					t.Fatalf("lease %s was deleted without being Released first", l.Name)
				}
				gone++
			}
		case <-timeout:
			t.Fatalf("%d of %d released leases were deleted after the retention time", gone, len(released))
		}
	}

	// With a retention the test cannot outrun (an hour), a released address is refused to
	// another namespace and granted to its own. Both controllers restart with it.
	a.stop()
	b.stop()
	a, b = startController(t, srv.Config, time.Hour), startController(t, srv.Config, time.Hour)
	kept, mine := addrs[nsA+"/vm-001"], addrs[nsA+"/vm-002"]
	for _, name := range []string{"vm-001", "vm-002"} {
		if err := client.VirtualizationV1alpha2().VirtualMachines(nsA).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, addr := range []string{kept, mine} {
		eventually(t, "the lease of "+addr+" is released", func() error {
			l, err := client.VirtualizationV1alpha2().VirtualMachineIPAddressLeases().Get(ctx, ipam.LeaseName(netip.MustParseAddr(addr)), metav1.GetOptions{})
			if err != nil {
				return err
			}
			if l.Status.Phase != v1alpha2.VirtualMachineIPAddressLeasePhaseReleased {
				return fmt.Errorf("phase %q", l.Status.Phase)
			}
			return nil
		})
	}
	mustCreate := func(ip *v1alpha2.VirtualMachineIPAddress) {
		if _, err := client.VirtualizationV1alpha2().VirtualMachineIPAddresses(ip.Namespace).Create(ctx, ip, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	bound := func(ns, name string, want metav1.ConditionStatus, reason string) {
		eventually(t, fmt.Sprintf("%s/%s is Bound=%s/%s", ns, name, want, reason), func() error {
			ip, err := client.VirtualizationV1alpha2().VirtualMachineIPAddresses(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if c := boundCondition(ip); c.Status != want || c.Reason != reason {
				return fmt.Errorf("Bound %s/%s: %s", c.Status, c.Reason, c.Message)
			}
			return nil
		})
	}
	mustCreate(staticIP(nsB, "grab", kept))
	mustCreate(staticIP(nsA, "linux-vm-custom-ip", mine))
	bound(nsB, "grab", metav1.ConditionFalse, string(ipam.LeaseAlreadyExists))
	bound(nsA, "linux-vm-custom-ip", metav1.ConditionTrue, string(ipam.Bound))
	if ip, _ := client.VirtualizationV1alpha2().VirtualMachineIPAddresses(nsA).Get(ctx, "linux-vm-custom-ip", metav1.GetOptions{}); ip == nil || ip.Status.Address != mine {
		t.Fatalf("the same namespace's request for %s got %+v", mine, ip)
	}

	// Back to two seconds: the restarted controllers delete the lease kept since before
	// they started, and the other namespace's request gets the address.
	a.stop()
	b.stop()
	startController(t, srv.Config, retention)
	startController(t, srv.Config, retention)
	bound(nsB, "grab", metav1.ConditionTrue, string(ipam.Bound))
	if ip, _ := client.VirtualizationV1alpha2().VirtualMachineIPAddresses(nsB).Get(ctx, "grab", metav1.GetOptions{}); ip == nil || ip.Status.Address != kept {
		t.Fatalf("the request for %s got %+v", kept, ip)
	}

	// Nothing was handed out twice along the way.
	for _, ip := range []struct{ ns, name string }{{nsB, "grab"}, {nsA, "linux-vm-custom-ip"}} {
		if err := client.VirtualizationV1alpha2().VirtualMachineIPAddresses(ip.ns).Delete(ctx, ip.name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
	}
	eventually(t, "every remaining VM keeps one unique address", func() error {
		_, err := checkAddresses(ctx, client, pool)
		return err
	})
}
