package controllertest

import (
	"context"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kvv1 "kubevirt.io/api/core/v1"
)

func TestKubeVirtServesTheClient(t *testing.T) {
	ctx := context.Background()
	f, kv := NewKubeVirt(t, &kvv1.VirtualMachineInstance{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "old", UID: "old-uid"}})
	vmis := kv.VirtualMachineInstances("ns")

	created, err := vmis.Create(ctx, &kvv1.VirtualMachineInstance{ObjectMeta: metav1.ObjectMeta{Name: "web"}}, metav1.CreateOptions{})
	if err != nil || created.UID == "" || created.Namespace != "ns" {
		t.Fatalf("create: %+v, %v", created, err)
	}
	if _, err := vmis.Create(ctx, &kvv1.VirtualMachineInstance{ObjectMeta: metav1.ObjectMeta{Name: "web"}}, metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("second create: %v, want AlreadyExists", err)
	}
	list, err := vmis.List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "web" {
		t.Fatalf("list ns: %+v, %v", list, err)
	}
	all, err := kv.VirtualMachineInstances("").List(ctx, metav1.ListOptions{})
	if err != nil || len(all.Items) != 2 {
		t.Fatalf("list all: %d items, %v", len(all.Items), err)
	}

	wrong := types.UID("not-it")
	if err := vmis.Delete(ctx, "web", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &wrong}}); !apierrors.IsConflict(err) {
		t.Fatalf("delete with a stale UID: %v, want Conflict", err)
	}
	if err := vmis.Delete(ctx, "web", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &created.UID}}); err != nil {
		t.Fatal(err)
	}
	if got := f.Get("ns", "web"); got == nil || got.DeletionTimestamp == nil {
		t.Fatalf("after delete: %+v, want it terminating until removed", got)
	}
	f.Remove("ns", "web")
	if _, err := vmis.Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("get after remove: %v, want NotFound", err)
	}

	f.Unserve()
	if _, err := kv.VirtualMachineInstances("").List(ctx, metav1.ListOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("list without KubeVirt: %v, want NotFound", err)
	}
}

func TestKubeVirtServesMigrations(t *testing.T) {
	ctx := context.Background()
	f, kv := NewKubeVirt(t, &kvv1.VirtualMachineInstance{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "web-uid"}})
	ms := kv.VirtualMachineInstanceMigrations("ns")

	created, err := ms.Create(ctx, &kvv1.VirtualMachineInstanceMigration{ObjectMeta: metav1.ObjectMeta{Name: "move-web"},
		Spec: kvv1.VirtualMachineInstanceMigrationSpec{VMIName: "web", AddedNodeSelector: map[string]string{"zone": "b"}}}, metav1.CreateOptions{})
	if err != nil || created.UID == "" || created.Namespace != "ns" {
		t.Fatalf("create: %+v, %v", created, err)
	}
	if got := f.Migration("ns", "move-web"); got == nil || got.Spec.AddedNodeSelector["zone"] != "b" {
		t.Fatalf("stored migration %+v", got)
	}
	list, err := kv.VirtualMachineInstanceMigrations("").List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 || len(f.Migrations()) != 1 {
		t.Fatalf("list: %+v, %v", list, err)
	}

	// KubeVirt moves it on; the client reads what it wrote.
	m := f.Migration("ns", "move-web")
	m.Status.Phase = kvv1.MigrationRunning
	f.PutMigration(m)
	if got, err := ms.Get(ctx, "move-web", metav1.GetOptions{}); err != nil || got.Status.Phase != kvv1.MigrationRunning {
		t.Fatalf("get: %+v, %v", got, err)
	}

	if err := ms.Delete(ctx, "move-web", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &created.UID}}); err != nil {
		t.Fatal(err)
	}
	if f.Migration("ns", "move-web") != nil || len(f.DeleteOptions()) != 0 {
		t.Fatalf("a deleted migration is kept, or counted as a VMI delete")
	}

	// A merge patch sets the fields it names on a VMI.
	if _, err := kv.VirtualMachineInstances("ns").Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"terminationGracePeriodSeconds":0}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if g := f.Get("ns", "web").Spec.TerminationGracePeriodSeconds; g == nil || *g != 0 {
		t.Fatalf("grace period after the patch: %v", g)
	}
}
