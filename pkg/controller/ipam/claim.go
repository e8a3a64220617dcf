package ipam

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

// randomPicks is how many random addresses an automatic allocation tries before it scans
// the pool in order (from a random start) for one the cache shows free.
const randomPicks = 16

// errPoolExhausted says no address of the pool could be claimed.
var errPoolExhausted = errors.New("no free address is left in virtualMachineCIDRs")

type lease = v1alpha2.VirtualMachineIPAddressLease

// leasesOf lists the leases bound to the address object, sorted by name, from the cache
// and, when live is set, from the API server as well: the cache may lag behind a lease this
// or another controller created a moment ago.
func (c *Controller) leasesOf(ctx context.Context, ip *v1alpha2.VirtualMachineIPAddress, live bool) ([]*lease, error) {
	k := key(ip.Namespace, ip.Name)
	objs, err := c.leaseIndex.ByIndex(leaseByRefIndex, k)
	if err != nil {
		return nil, err
	}
	byName := map[string]*lease{}
	for _, o := range objs {
		l := o.(*lease)
		byName[l.Name] = l
	}
	if live {
		list, err := c.virt.VirtualizationV1alpha2().VirtualMachineIPAddressLeases().List(ctx, metav1.ListOptions{
			FieldSelector: fields.Set{
				"spec.virtualMachineIPAddressRef.namespace": ip.Namespace,
				"spec.virtualMachineIPAddressRef.name":      ip.Name,
			}.String(),
		})
		if err != nil {
			return nil, fmt.Errorf("list the leases of %s: %w", k, err)
		}
		for i := range list.Items {
			if l := &list.Items[i]; leaseRefKey(l.Spec.VirtualMachineIPAddressRef) == k {
				byName[l.Name] = l
			}
		}
	}
	out := make([]*lease, 0, len(byName))
	for _, l := range byName {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// claimResult is the outcome of claiming one address.
type claimResult struct {
	// lease is the lease now bound to the address object; nil when another holds it.
	lease *lease
	// created is set when this claim created the lease.
	created bool
	// holder is the lease that keeps the address from the object.
	holder *lease
}

// claimAddress takes addr for the address object. The lease's create is the atomic claim;
// a lease already bound to the object is adopted (a restart between the create and the
// status write), and a released lease kept for the object's namespace (or for none) is
// taken over with an update that fails if anything changed it since it was read.
func (c *Controller) claimAddress(ctx context.Context, ip *v1alpha2.VirtualMachineIPAddress, addr netip.Addr) (claimResult, error) {
	name := LeaseName(addr)
	leases := c.virt.VirtualizationV1alpha2().VirtualMachineIPAddressLeases()
	l, err := c.leaseLister.Get(name)
	if apierrors.IsNotFound(err) {
		l, err = c.getLease(ctx, name)
	}
	if err != nil {
		return claimResult{}, err
	}
	for range 3 {
		if l == nil {
			created, err := leases.Create(ctx, newLease(ip, addr), metav1.CreateOptions{})
			if err == nil {
				return claimResult{lease: created, created: true}, nil
			}
			if !apierrors.IsAlreadyExists(err) {
				return claimResult{}, fmt.Errorf("create lease %s: %w", name, err)
			}
			if l, err = c.getLease(ctx, name); err != nil {
				return claimResult{}, err
			}
			continue
		}
		switch {
		case leaseRefKey(l.Spec.VirtualMachineIPAddressRef) == key(ip.Namespace, ip.Name):
			return claimResult{lease: l}, nil
		case !isBound(l) && (retainedFor(l) == ip.Namespace || retainedFor(l) == ""):
			taken := l.DeepCopy()
			bindLease(taken, ip)
			updated, err := leases.Update(ctx, taken, metav1.UpdateOptions{})
			if err == nil {
				return claimResult{lease: updated}, nil
			}
			if !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
				return claimResult{}, fmt.Errorf("take over lease %s: %w", name, err)
			}
			if l, err = c.getLease(ctx, name); err != nil {
				return claimResult{}, err
			}
		default:
			return claimResult{holder: l}, nil
		}
	}
	return claimResult{}, apierrors.NewConflict(v1alpha2.Resource("virtualmachineipaddressleases"), name,
		errors.New("the lease kept changing while it was claimed"))
}

// allocate claims a random free address of the pool for an automatic address object. It
// never takes an address retained for a namespace, its own included: those wait for an
// explicit (Static) request.
//
// The random order is seeded by the object's UID, so two controllers that allocate for the
// same object at once try the same address first: the second one's create fails, and it
// adopts the lease the first one made instead of taking a second address.
func (c *Controller) allocate(ctx context.Context, ip *v1alpha2.VirtualMachineIPAddress) (*lease, error) {
	size := c.pool.Size()
	if size == 0 {
		return nil, errPoolExhausted
	}
	cached, err := c.leaseLister.List(everything)
	if err != nil {
		return nil, err
	}
	taken := make(map[netip.Addr]bool, len(cached))
	for _, l := range cached {
		if a, ok := AddressOfLease(l.Name); ok {
			taken[a] = true
		}
	}
	try := func(a netip.Addr) (*lease, error) {
		if taken[a] {
			return nil, nil
		}
		taken[a] = true
		l, err := c.virt.VirtualizationV1alpha2().VirtualMachineIPAddressLeases().Create(ctx, newLease(ip, a), metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			l, err = c.getLease(ctx, LeaseName(a))
			if err != nil || l == nil || leaseRefKey(l.Spec.VirtualMachineIPAddressRef) != key(ip.Namespace, ip.Name) {
				return nil, err
			}
			return l, nil
		}
		if err != nil {
			return nil, fmt.Errorf("create lease %s: %w", LeaseName(a), err)
		}
		return l, nil
	}
	rng := candidates(ip)
	for range randomPicks {
		if l, err := try(c.pool.At(rng.Uint64N(size))); l != nil || err != nil {
			return l, err
		}
	}
	start := rng.Uint64N(size)
	for i := range size {
		if l, err := try(c.pool.At((start + i) % size)); l != nil || err != nil {
			return l, err
		}
	}
	return nil, errPoolExhausted
}

// candidates is the address object's own random sequence (see allocate).
func candidates(ip *v1alpha2.VirtualMachineIPAddress) *rand.Rand {
	sum := sha256.Sum256([]byte(string(ip.UID) + "/" + ip.Namespace + "/" + ip.Name))
	return rand.New(rand.NewPCG(binary.LittleEndian.Uint64(sum[:8]), binary.LittleEndian.Uint64(sum[8:16])))
}

// release unbinds a lease from its address object; it stays, kept for the namespace, until
// the retention time has passed.
func (c *Controller) release(ctx context.Context, l *lease, namespace string) error {
	if !isBound(l) {
		return nil
	}
	l = l.DeepCopy()
	l.Spec.VirtualMachineIPAddressRef = nil
	if l.Annotations == nil {
		l.Annotations = map[string]string{}
	}
	l.Annotations[RetainedForAnnotation] = namespace
	l.Annotations[ReleasedAtAnnotation] = c.now().UTC().Format(time.RFC3339)
	_, err := c.virt.VirtualizationV1alpha2().VirtualMachineIPAddressLeases().Update(ctx, l, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("release lease %s: %w", l.Name, err)
	}
	return nil
}

func (c *Controller) getLease(ctx context.Context, name string) (*lease, error) {
	l, err := c.virt.VirtualizationV1alpha2().VirtualMachineIPAddressLeases().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get lease %s: %w", name, err)
	}
	return l, nil
}

func newLease(ip *v1alpha2.VirtualMachineIPAddress, addr netip.Addr) *lease {
	l := &lease{ObjectMeta: metav1.ObjectMeta{Name: LeaseName(addr)}}
	bindLease(l, ip)
	return l
}

func bindLease(l *lease, ip *v1alpha2.VirtualMachineIPAddress) {
	l.Spec.VirtualMachineIPAddressRef = &v1alpha2.VirtualMachineIPAddressLeaseIPAddressRef{Namespace: ip.Namespace, Name: ip.Name}
	delete(l.Annotations, RetainedForAnnotation)
	delete(l.Annotations, ReleasedAtAnnotation)
}

// isBound reports whether the lease names an address object.
func isBound(l *lease) bool { return leaseRefKey(l.Spec.VirtualMachineIPAddressRef) != "" }

// retainedFor is the namespace a released lease is kept for ("" for none). The upstream
// form, a reference with the namespace and no name, is read as well.
func retainedFor(l *lease) string {
	if isBound(l) {
		return ""
	}
	if ref := l.Spec.VirtualMachineIPAddressRef; ref != nil && ref.Namespace != "" {
		return ref.Namespace
	}
	return l.Annotations[RetainedForAnnotation]
}
