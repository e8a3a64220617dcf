package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

// seedSizingClass is the VirtualMachineClass of the admin guide's "Other configuration
// options" example: policies for 1-4, 5-8, 9-16 and 17-1024 cores.
const seedSizingClass = `
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachineClass
metadata:
  name: discovery
spec:
  cpu:
    discovery:
      nodeSelector:
        matchExpressions:
          - key: node-role.kubernetes.io/control-plane
            operator: DoesNotExist
    type: Discovery
  nodeSelector:
    matchExpressions:
      - key: node.deckhouse.io/group
        operator: In
        values:
          - worker
  sizingPolicies:
    - cores:
        min: 1
        max: 4
      memory:
        min: 1Gi
        max: 8Gi
        step: 512Mi
      dedicatedCores: [false]
      coreFractions: [5, 10, 20, 50, 100]
    - cores:
        min: 5
        max: 8
      memory:
        min: 5Gi
        max: 16Gi
        step: 1Gi
      dedicatedCores: [false]
      coreFractions: [20, 50, 100]
    - cores:
        min: 9
        max: 16
      memory:
        min: 9Gi
        max: 32Gi
        step: 1Gi
      dedicatedCores: [true, false]
      coreFractions: [50, 100]
    - cores:
        min: 17
        max: 1024
      memory:
        perCore:
          min: 1Gi
          max: 2Gi
      dedicatedCores: [true]
      coreFractions: [100]
`

// steppedSizingClass has a core step and a gap between its core ranges.
const steppedSizingClass = `
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachineClass
metadata:
  name: stepped
spec:
  cpu:
    type: Host
  sizingPolicies:
    - cores:
        min: 2
        max: 8
        step: 2
      memory:
        min: 2Gi
        max: 16Gi
        step: 1Gi
      coreFractions: [50, 100]
    - cores:
        min: 12
        max: 16
      memory:
        perCore:
          min: 1Gi
          max: 4Gi
`

func createClassFromYAML(t *testing.T, manifest, name string) *v1alpha2.VirtualMachineClass {
	t.Helper()
	class := &v1alpha2.VirtualMachineClass{}
	if err := sigsyaml.UnmarshalStrict([]byte(manifest), class); err != nil {
		t.Fatalf("decoding the class: %v", err)
	}
	class.Name = name
	classes := srv.Client.VirtualizationV1alpha2().VirtualMachineClasses()
	created, err := classes.Create(context.Background(), class, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating class %s: %v", name, err)
	}
	t.Cleanup(func() { _ = classes.Delete(context.Background(), name, metav1.DeleteOptions{}) })
	return created
}

// eventuallyRefused retries create until the server refuses it (admission plugins read other
// objects from an informer, which may lag a moment behind a write). An accepted attempt is
// deleted before the next one. It returns the refusal.
func eventuallyRefused(t *testing.T, what string, create func() error, undo func()) error {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := create()
		if err != nil {
			return err
		}
		undo()
		if time.Now().After(deadline) {
			t.Fatalf("%s: still accepted after 10s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type sizingCase struct {
	name         string
	cores        int
	coreFraction string
	memory       string
	expect       string // field path of the refusal; "" when the VM conforms
}

func runSizingCases(t *testing.T, ns, class string, cases []sizingCase) {
	t.Helper()
	ctx := context.Background()
	vms := srv.Client.VirtualizationV1alpha2().VirtualMachines(ns)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := uniqueName("vm")
			_, err := vms.Create(ctx, newVM(name, ns, class, c.cores, c.coreFraction, c.memory), metav1.CreateOptions{})
			if c.expect == "" {
				if err != nil {
					t.Fatalf("a VM that conforms to the class was refused: %v", err)
				}
				_ = vms.Delete(ctx, name, metav1.DeleteOptions{})
				return
			}
			if err == nil {
				_ = vms.Delete(ctx, name, metav1.DeleteOptions{})
			}
			expectInvalid(t, err, c.expect)
			if _, err := vms.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("the refused VM was stored: %v", err)
			}
		})
	}
}

func TestVMSizingPoliciesOfSeedClass(t *testing.T) {
	ctx := context.Background()
	ns := "admission-sizing"
	vms := srv.Client.VirtualizationV1alpha2().VirtualMachines(ns)
	class := uniqueName("discovery")
	createClassFromYAML(t, seedSizingClass, class)

	// Wait until the plugin knows the class: 6 cores with 4Gi is below the 5-8 core policy.
	probe := uniqueName("vm")
	err := eventuallyRefused(t, "a VM below the class's memory minimum",
		func() error {
			_, err := vms.Create(ctx, newVM(probe, ns, class, 6, "50%", "4Gi"), metav1.CreateOptions{})
			return err
		},
		func() { _ = vms.Delete(ctx, probe, metav1.DeleteOptions{}) })
	expectInvalid(t, err, "spec.memory.size")
	if !strings.Contains(err.Error(), class) {
		t.Errorf("the refusal should name the class %s: %v", class, err)
	}

	runSizingCases(t, ns, class, []sizingCase{
		{"smallest VM of the first policy", 1, "10%", "1Gi", ""},
		{"first policy upper bounds", 4, "100%", "8Gi", ""},
		{"memory on the 512Mi grid", 2, "5%", "1536Mi", ""},
		{"second policy", 6, "50%", "6Gi", ""},
		{"second policy at max memory", 8, "20%", "16Gi", ""},
		{"third policy", 12, "100%", "32Gi", ""},
		{"no coreFraction means 100 percent", 6, "", "6Gi", ""},
		{"per-core minimum for 18 cores", 18, "100%", "18Gi", ""},
		{"per-core maximum for 20 cores", 20, "", "40Gi", ""},

		{"memory below the policy minimum", 5, "50%", "4Gi", "spec.memory.size"},
		{"memory above the policy maximum", 2, "10%", "9Gi", "spec.memory.size"},
		{"memory off the 512Mi step", 2, "10%", "1280Mi", "spec.memory.size"},
		{"memory off the 1Gi step", 6, "50%", "5632Mi", "spec.memory.size"},
		{"memory below the per-core minimum", 18, "100%", "16Gi", "spec.memory.size"},
		{"memory above the per-core maximum", 18, "100%", "40Gi", "spec.memory.size"},
		{"core fraction the second policy does not offer", 6, "10%", "6Gi", "spec.cpu.coreFraction"},
		{"core fraction the third policy does not offer", 12, "20%", "12Gi", "spec.cpu.coreFraction"},
		{"core fraction below 100 for many cores", 18, "50%", "36Gi", "spec.cpu.coreFraction"},
	})

	// Updates are checked too; changes that leave the sizing alone stay possible.
	name := uniqueName("vm")
	if _, err := vms.Create(ctx, newVM(name, ns, class, 6, "50%", "6Gi"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("conforming VM: %v", err)
	}
	t.Cleanup(func() { _ = vms.Delete(ctx, name, metav1.DeleteOptions{}) })
	_, err = vms.Patch(ctx, name, types.MergePatchType, []byte(`{"spec":{"memory":{"size":"20Gi"}}}`), metav1.PatchOptions{})
	expectInvalid(t, err, "spec.memory.size")
	_, err = vms.Patch(ctx, name, types.MergePatchType, []byte(`{"spec":{"cpu":{"coreFraction":"5%"}}}`), metav1.PatchOptions{})
	expectInvalid(t, err, "spec.cpu.coreFraction")
	vm, err := vms.Patch(ctx, name, types.MergePatchType, []byte(`{"metadata":{"labels":{"team":"db"}},"spec":{"cpu":{"cores":8},"memory":{"size":"8Gi"}}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("a conforming resize was refused: %v", err)
	}
	if vm.Spec.CPU.Cores != 8 || vm.Spec.Memory.Size != "8Gi" {
		t.Errorf("after the resize: cores=%d memory=%s", vm.Spec.CPU.Cores, vm.Spec.Memory.Size)
	}
}

func TestVMSizingCoreStepsAndRanges(t *testing.T) {
	ctx := context.Background()
	ns := "admission-sizing-steps"
	vms := srv.Client.VirtualizationV1alpha2().VirtualMachines(ns)
	class := uniqueName("stepped")
	createClassFromYAML(t, steppedSizingClass, class)

	probe := uniqueName("vm")
	err := eventuallyRefused(t, "a VM off the class's core step",
		func() error {
			_, err := vms.Create(ctx, newVM(probe, ns, class, 3, "50%", "3Gi"), metav1.CreateOptions{})
			return err
		},
		func() { _ = vms.Delete(ctx, probe, metav1.DeleteOptions{}) })
	expectInvalid(t, err, "spec.cpu.cores")

	runSizingCases(t, ns, class, []sizingCase{
		{"lowest step", 2, "50%", "2Gi", ""},
		{"middle step", 4, "100%", "4Gi", ""},
		{"top of the stepped range", 8, "50%", "16Gi", ""},
		{"second range has no core fractions to respect", 12, "10%", "24Gi", ""},
		{"second range upper end", 16, "", "64Gi", ""},

		{"odd core count off the step of 2", 5, "50%", "5Gi", "spec.cpu.cores"},
		{"below every range", 1, "50%", "2Gi", "spec.cpu.cores"},
		{"in the gap between ranges", 10, "50%", "10Gi", "spec.cpu.cores"},
		{"above every range", 18, "100%", "18Gi", "spec.cpu.cores"},
		{"per-core maximum of the second range", 12, "100%", "60Gi", "spec.memory.size"},
	})
}

func TestVMWithMissingClassIsStored(t *testing.T) {
	ctx := context.Background()
	ns := "admission-no-class"
	vms := srv.Client.VirtualizationV1alpha2().VirtualMachines(ns)
	// Make sure the plugin is working: a refusal from an existing class comes first.
	class := uniqueName("stepped")
	createClassFromYAML(t, steppedSizingClass, class)
	probe := uniqueName("vm")
	err := eventuallyRefused(t, "a VM off the class's core step",
		func() error {
			_, err := vms.Create(ctx, newVM(probe, ns, class, 3, "", "3Gi"), metav1.CreateOptions{})
			return err
		},
		func() { _ = vms.Delete(ctx, probe, metav1.DeleteOptions{}) })
	expectInvalid(t, err, "spec.cpu.cores")

	// The same sizing with a class that does not exist waits for the class.
	name := uniqueName("vm")
	vm, err := vms.Create(ctx, newVM(name, ns, uniqueName("no-such-class"), 3, "", "3Gi"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("a VM whose class does not exist was refused: %v", err)
	}
	t.Cleanup(func() { _ = vms.Delete(ctx, name, metav1.DeleteOptions{}) })
	if vm.Spec.CPU.Cores != 3 {
		t.Errorf("stored cores = %d", vm.Spec.CPU.Cores)
	}
	// Moving it to the existing class is checked against that class.
	vm.Spec.VirtualMachineClassName = class
	_, err = vms.Update(ctx, vm, metav1.UpdateOptions{})
	expectInvalid(t, err, "spec.cpu.cores")
}

func TestStorageClassAllowList(t *testing.T) {
	ctx := context.Background()
	ns := "admission-storage-class"
	disks := srv.Client.VirtualizationV1alpha2().VirtualDisks(ns)
	images := srv.Client.VirtualizationV1alpha2().VirtualImages(ns)
	const path = "spec.persistentVolumeClaim.storageClassName"

	disk := func(name string, class *string) *v1alpha2.VirtualDisk {
		size := mustQuantity(t, "1Gi")
		return &v1alpha2.VirtualDisk{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: v1alpha2.VirtualDiskSpec{PersistentVolumeClaim: v1alpha2.VirtualDiskPersistentVolumeClaim{
				Size: &size, StorageClassName: class,
			}},
		}
	}
	image := func(name string, class *string) *v1alpha2.VirtualImage {
		return &v1alpha2.VirtualImage{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: v1alpha2.VirtualImageSpec{
				Storage:               v1alpha2.StoragePersistentVolumeClaim,
				PersistentVolumeClaim: v1alpha2.VirtualImagePersistentVolumeClaim{StorageClassName: class},
				DataSource: v1alpha2.VirtualImageDataSource{
					Type: v1alpha2.DataSourceTypeHTTP,
					HTTP: &v1alpha2.DataSourceHTTP{URL: "https://example.com/images/ubuntu.qcow2"},
				},
			},
		}
	}

	for _, sc := range []string{"not-allowed", "Fast", "local"} {
		t.Run("refused/"+sc, func(t *testing.T) {
			name := uniqueName("vd")
			_, err := disks.Create(ctx, disk(name, ptr.To(sc)), metav1.CreateOptions{})
			expectInvalid(t, err, path)
			if !strings.Contains(err.Error(), `"`+sc+`"`) {
				t.Errorf("the refusal should name the storage class %q: %v", sc, err)
			}
			if _, err := disks.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("the refused disk was stored: %v", err)
			}
			_, err = images.Create(ctx, image(uniqueName("vi"), ptr.To(sc)), metav1.CreateOptions{})
			expectInvalid(t, err, path)
		})
	}
	for _, sc := range allowedClasses {
		t.Run("allowed/"+sc, func(t *testing.T) {
			name := uniqueName("vd")
			d, err := disks.Create(ctx, disk(name, ptr.To(sc)), metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("a disk with the allowed class %s was refused: %v", sc, err)
			}
			t.Cleanup(func() { _ = disks.Delete(ctx, name, metav1.DeleteOptions{}) })
			if d.Spec.PersistentVolumeClaim.StorageClassName == nil || *d.Spec.PersistentVolumeClaim.StorageClassName != sc {
				t.Errorf("stored storageClassName = %v", d.Spec.PersistentVolumeClaim.StorageClassName)
			}
			iname := uniqueName("vi")
			if _, err := images.Create(ctx, image(iname, ptr.To(sc)), metav1.CreateOptions{}); err != nil {
				t.Fatalf("an image with the allowed class %s was refused: %v", sc, err)
			}
			t.Cleanup(func() { _ = images.Delete(ctx, iname, metav1.DeleteOptions{}) })
		})
	}

	// Without a class the default applies: nothing to check.
	name := uniqueName("vd")
	if _, err := disks.Create(ctx, disk(name, nil), metav1.CreateOptions{}); err != nil {
		t.Fatalf("a disk without storageClassName was refused: %v", err)
	}
	t.Cleanup(func() { _ = disks.Delete(ctx, name, metav1.DeleteOptions{}) })
	iname := uniqueName("vi")
	if _, err := images.Create(ctx, image(iname, nil), metav1.CreateOptions{}); err != nil {
		t.Fatalf("an image without storageClassName was refused: %v", err)
	}
	t.Cleanup(func() { _ = images.Delete(ctx, iname, metav1.DeleteOptions{}) })

	// Switching a stored disk to a class outside the list is refused as well.
	_, err := disks.Patch(ctx, name, types.MergePatchType,
		[]byte(`{"spec":{"persistentVolumeClaim":{"storageClassName":"gold"}}}`), metav1.PatchOptions{})
	expectInvalid(t, err, path)
	d, err := disks.Patch(ctx, name, types.MergePatchType,
		[]byte(`{"spec":{"persistentVolumeClaim":{"storageClassName":"fast"}}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("switching to the allowed class fast: %v", err)
	}
	if sc := d.Spec.PersistentVolumeClaim.StorageClassName; sc == nil || *sc != "fast" {
		t.Errorf("storageClassName after the patch = %v", sc)
	}
	_, err = images.Patch(ctx, iname, types.MergePatchType,
		[]byte(`{"spec":{"persistentVolumeClaim":{"storageClassName":"gold"}}}`), metav1.PatchOptions{})
	expectInvalid(t, err, path)
}

func TestNoDiskFromISOImage(t *testing.T) {
	ctx := context.Background()
	ns := "admission-iso"
	c := srv.Client.VirtualizationV1alpha2()
	disks := c.VirtualDisks(ns)
	const path = "spec.dataSource.objectRef.name"

	makeImage := func(cdrom bool) string {
		t.Helper()
		name := uniqueName("vi")
		vi := &v1alpha2.VirtualImage{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: v1alpha2.VirtualImageSpec{
				Storage: v1alpha2.StorageContainerRegistry,
				DataSource: v1alpha2.VirtualImageDataSource{
					Type: v1alpha2.DataSourceTypeHTTP,
					HTTP: &v1alpha2.DataSourceHTTP{URL: "https://example.com/images/" + name + ".iso"},
				},
			},
		}
		created, err := c.VirtualImages(ns).Create(ctx, vi, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("image: %v", err)
		}
		t.Cleanup(func() { _ = c.VirtualImages(ns).Delete(ctx, name, metav1.DeleteOptions{}) })
		created.Status = v1alpha2.VirtualImageStatus{Phase: v1alpha2.ImageReady, CDROM: cdrom, Format: "iso"}
		if _, err := c.VirtualImages(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("image status: %v", err)
		}
		return name
	}
	makeClusterImage := func(cdrom bool) string {
		t.Helper()
		name := uniqueName("cvi")
		cvi := &v1alpha2.ClusterVirtualImage{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: v1alpha2.ClusterVirtualImageSpec{DataSource: v1alpha2.ClusterVirtualImageDataSource{
				Type: v1alpha2.DataSourceTypeHTTP,
				HTTP: &v1alpha2.DataSourceHTTP{URL: "https://example.com/images/" + name + ".iso"},
			}},
		}
		created, err := c.ClusterVirtualImages().Create(ctx, cvi, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("cluster image: %v", err)
		}
		t.Cleanup(func() { _ = c.ClusterVirtualImages().Delete(ctx, name, metav1.DeleteOptions{}) })
		created.Status = v1alpha2.ClusterVirtualImageStatus{Phase: v1alpha2.ImageReady, CDROM: cdrom, Format: "iso"}
		if _, err := c.ClusterVirtualImages().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("cluster image status: %v", err)
		}
		return name
	}
	diskFrom := func(kind v1alpha2.VirtualDiskObjectRefKind, image string) *v1alpha2.VirtualDisk {
		return &v1alpha2.VirtualDisk{
			ObjectMeta: metav1.ObjectMeta{Name: uniqueName("vd"), Namespace: ns},
			Spec: v1alpha2.VirtualDiskSpec{DataSource: &v1alpha2.VirtualDiskDataSource{
				Type:      v1alpha2.DataSourceTypeObjectRef,
				ObjectRef: &v1alpha2.VirtualDiskObjectRef{Kind: kind, Name: image},
			}},
		}
	}
	refused := func(kind v1alpha2.VirtualDiskObjectRefKind, image string) {
		t.Helper()
		var name string
		err := eventuallyRefused(t, fmt.Sprintf("a disk from the ISO %s %s", kind, image),
			func() error {
				d := diskFrom(kind, image)
				name = d.Name
				_, err := disks.Create(ctx, d, metav1.CreateOptions{})
				return err
			},
			func() { _ = disks.Delete(ctx, name, metav1.DeleteOptions{}) })
		expectInvalid(t, err, path)
		if _, err := disks.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the refused disk was stored: %v", err)
		}
	}
	stored := func(kind v1alpha2.VirtualDiskObjectRefKind, image string) {
		t.Helper()
		d := diskFrom(kind, image)
		if _, err := disks.Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Errorf("a disk from %s %s was refused: %v", kind, image, err)
			return
		}
		t.Cleanup(func() { _ = disks.Delete(ctx, d.Name, metav1.DeleteOptions{}) })
	}

	iso, img := makeImage(true), makeImage(false)
	clusterISO, clusterImg := makeClusterImage(true), makeClusterImage(false)

	refused(v1alpha2.VirtualDiskObjectRefKindVirtualImage, iso)
	refused(v1alpha2.VirtualDiskObjectRefKindClusterVirtualImage, clusterISO)

	stored(v1alpha2.VirtualDiskObjectRefKindVirtualImage, img)
	stored(v1alpha2.VirtualDiskObjectRefKindClusterVirtualImage, clusterImg)
	stored(v1alpha2.VirtualDiskObjectRefKindVirtualImage, uniqueName("missing-vi"))
	stored(v1alpha2.VirtualDiskObjectRefKindClusterVirtualImage, uniqueName("missing-cvi"))
	// A VirtualImage is looked up in the disk's namespace only: the ISO of another namespace
	// does not count.
	other := diskFrom(v1alpha2.VirtualDiskObjectRefKindVirtualImage, iso)
	other.Namespace = "admission-iso-elsewhere"
	if _, err := c.VirtualDisks(other.Namespace).Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Errorf("a disk naming an image of another namespace was refused: %v", err)
	} else {
		t.Cleanup(func() { _ = c.VirtualDisks(other.Namespace).Delete(ctx, other.Name, metav1.DeleteOptions{}) })
	}

	// An image that turns out to be an ISO after a disk was planned: new disks are refused.
	late := makeImage(false)
	stored(v1alpha2.VirtualDiskObjectRefKindVirtualImage, late)
	vi, err := c.VirtualImages(ns).Get(ctx, late, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vi.Status.CDROM = true
	if _, err := c.VirtualImages(ns).UpdateStatus(ctx, vi, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	refused(v1alpha2.VirtualDiskObjectRefKindVirtualImage, late)

	// Pointing a stored disk at an ISO is refused too.
	d := diskFrom(v1alpha2.VirtualDiskObjectRefKindVirtualImage, img)
	if _, err := disks.Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = disks.Delete(ctx, d.Name, metav1.DeleteOptions{}) })
	_, err = disks.Patch(ctx, d.Name, types.MergePatchType, []byte(fmt.Sprintf(`{"spec":{"dataSource":{"objectRef":{"name":%q}}}}`, iso)), metav1.PatchOptions{})
	expectInvalid(t, err, path)
}

func mustQuantity(t *testing.T, s string) resource.Quantity {
	t.Helper()
	q, err := resource.ParseQuantity(s)
	if err != nil {
		t.Fatal(err)
	}
	return q
}
