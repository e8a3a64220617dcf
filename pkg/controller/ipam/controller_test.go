package ipam

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	virtfake "github.com/virtplane/virtplane/pkg/generated/clientset/versioned/fake"
	virtinformers "github.com/virtplane/virtplane/pkg/generated/informers/externalversions"
)

// env drives the controller's syncs by hand on a fake clientset; refresh copies the
// clientset's objects into the informers' caches, as a watch would.
type env struct {
	t      *testing.T
	c      *Controller
	virt   *virtfake.Clientset
	inf    Informers
	events *record.FakeRecorder
	clock  time.Time
}

func newEnv(t *testing.T, cidrs []string, objs ...runtime.Object) *env {
	t.Helper()
	prefixes, err := ParseCIDRs(cidrs)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, virt: virtfake.NewSimpleClientset(objs...), events: record.NewFakeRecorder(100),
		clock: time.Date(2025, 1, 15, 10, 0, 0, 0, time.UTC)}
	f := virtinformers.NewSharedInformerFactory(e.virt, 0).Virtualization().V1alpha2()
	e.inf = Informers{VirtualMachines: f.VirtualMachines(), VirtualMachineIPAddresses: f.VirtualMachineIPAddresses(), Leases: f.VirtualMachineIPAddressLeases()}
	e.c, err = New(e.virt, e.inf, Settings{CIDRs: prefixes, Retention: 10 * time.Minute}, e.events)
	if err != nil {
		t.Fatal(err)
	}
	e.c.now = func() time.Time { return e.clock }
	e.refresh()
	return e
}

var ctx = context.Background()

func (e *env) refresh() {
	e.t.Helper()
	put := func(inf cache.SharedIndexInformer, list []any) {
		if err := inf.GetIndexer().Replace(list, ""); err != nil {
			e.t.Fatal(err)
		}
	}
	var l []any
	vms, _ := e.virt.VirtualizationV1alpha2().VirtualMachines("").List(ctx, metav1.ListOptions{})
	for i := range vms.Items {
		l = append(l, &vms.Items[i])
	}
	put(e.inf.VirtualMachines.Informer(), l)
	l = nil
	for _, ip := range e.vmips("") {
		l = append(l, ip)
	}
	put(e.inf.VirtualMachineIPAddresses.Informer(), l)
	l = nil
	for _, le := range e.leases() {
		l = append(l, le)
	}
	put(e.inf.Leases.Informer(), l)
}

// sync runs one sync and refreshes the caches.
func (e *env) sync(f func(context.Context, string) (time.Duration, error), key string) time.Duration {
	e.t.Helper()
	after, err := f(ctx, key)
	if err != nil {
		e.t.Fatalf("sync %s: %v", key, err)
	}
	e.refresh()
	return after
}

// settle syncs every VM, address and lease a few rounds, as the queues would.
func (e *env) settle() {
	e.t.Helper()
	for range 3 {
		vms, _ := e.virt.VirtualizationV1alpha2().VirtualMachines("").List(ctx, metav1.ListOptions{})
		for _, vm := range vms.Items {
			e.sync(e.c.syncVM, key(vm.Namespace, vm.Name))
		}
		for _, ip := range e.vmips("") {
			e.sync(e.c.syncVMIP, key(ip.Namespace, ip.Name))
		}
		for _, l := range e.leases() {
			e.sync(e.c.syncLease, l.Name)
		}
	}
}

func (e *env) vmips(ns string) []*v1alpha2.VirtualMachineIPAddress {
	list, err := e.virt.VirtualizationV1alpha2().VirtualMachineIPAddresses(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []*v1alpha2.VirtualMachineIPAddress
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	return out
}

func (e *env) vmip(ns, name string) *v1alpha2.VirtualMachineIPAddress {
	e.t.Helper()
	ip, err := e.virt.VirtualizationV1alpha2().VirtualMachineIPAddresses(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return ip
}

func (e *env) leases() []*v1alpha2.VirtualMachineIPAddressLease {
	list, err := e.virt.VirtualizationV1alpha2().VirtualMachineIPAddressLeases().List(ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []*v1alpha2.VirtualMachineIPAddressLease
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	return out
}

func (e *env) lease(name string) *v1alpha2.VirtualMachineIPAddressLease {
	e.t.Helper()
	l, err := e.virt.VirtualizationV1alpha2().VirtualMachineIPAddressLeases().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

func (e *env) create(obj runtime.Object) {
	e.t.Helper()
	var err error
	switch o := obj.(type) {
	case *v1alpha2.VirtualMachine:
		_, err = e.virt.VirtualizationV1alpha2().VirtualMachines(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *v1alpha2.VirtualMachineIPAddress:
		_, err = e.virt.VirtualizationV1alpha2().VirtualMachineIPAddresses(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *v1alpha2.VirtualMachineIPAddressLease:
		_, err = e.virt.VirtualizationV1alpha2().VirtualMachineIPAddressLeases().Create(ctx, o, metav1.CreateOptions{})
	}
	if err != nil {
		e.t.Fatal(err)
	}
	e.refresh()
}

// deleteVMIP deletes an address object as the API server would with its finalizer: it
// stays, with a deletion timestamp, until the controller lets it go.
func (e *env) deleteVMIP(ns, name string) {
	e.t.Helper()
	ip := e.vmip(ns, name)
	now := metav1.NewTime(e.clock)
	ip.DeletionTimestamp = &now
	if _, err := e.virt.VirtualizationV1alpha2().VirtualMachineIPAddresses(ns).Update(ctx, ip, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	e.refresh()
	e.sync(e.c.syncVMIP, key(ns, name))
	if ip := e.vmip(ns, name); len(ip.Finalizers) == 0 {
		if err := e.virt.VirtualizationV1alpha2().VirtualMachineIPAddresses(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			e.t.Fatal(err)
		}
	} else {
		e.t.Fatalf("the controller kept finalizers %v on a deleted address", ip.Finalizers)
	}
	e.refresh()
}

func (e *env) wantEvent(reason string) {
	e.t.Helper()
	for {
		select {
		case ev := <-e.events.Events:
			if strings.Contains(ev, " "+reason+" ") {
				return
			}
		default:
			e.t.Fatalf("no %s event", reason)
		}
	}
}

func autoVMIP(ns, name string) *v1alpha2.VirtualMachineIPAddress {
	return &v1alpha2.VirtualMachineIPAddress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name), Generation: 1},
		Spec: v1alpha2.VirtualMachineIPAddressSpec{Type: v1alpha2.VirtualMachineIPAddressTypeAuto}}
}

func staticVMIP(ns, name, addr string) *v1alpha2.VirtualMachineIPAddress {
	ip := autoVMIP(ns, name)
	ip.Spec = v1alpha2.VirtualMachineIPAddressSpec{Type: v1alpha2.VirtualMachineIPAddressTypeStatic, StaticIP: addr}
	return ip
}

func vm(ns, name string) *v1alpha2.VirtualMachine {
	return &v1alpha2.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-vm-" + name)}}
}

func cond(ip *v1alpha2.VirtualMachineIPAddress, t ConditionType) metav1.Condition {
	return condOf(ip.Status.Conditions, t)
}

func condOf(conds []metav1.Condition, t ConditionType) metav1.Condition {
	if c := meta.FindStatusCondition(conds, string(t)); c != nil {
		return *c
	}
	return metav1.Condition{}
}

// boundTo checks the address holds a lease named after its address that names it back.
func (e *env) boundTo(ip *v1alpha2.VirtualMachineIPAddress) netip.Addr {
	e.t.Helper()
	if c := cond(ip, BoundType); c.Status != metav1.ConditionTrue || c.Reason != string(Bound) {
		e.t.Fatalf("%s/%s: Bound condition %+v, want True/Bound", ip.Namespace, ip.Name, c)
	}
	addr, err := netip.ParseAddr(ip.Status.Address)
	if err != nil {
		e.t.Fatalf("%s/%s: status.address %q: %v", ip.Namespace, ip.Name, ip.Status.Address, err)
	}
	l := e.lease(LeaseName(addr))
	if ref := l.Spec.VirtualMachineIPAddressRef; ref == nil || ref.Namespace != ip.Namespace || ref.Name != ip.Name {
		e.t.Fatalf("lease %s is bound to %+v, want %s/%s", l.Name, ref, ip.Namespace, ip.Name)
	}
	return addr
}
