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
