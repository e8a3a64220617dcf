package controllertest

import (
	"testing"

	"k8s.io/client-go/tools/cache"
)

// Replace makes an informer's store hold exactly items, as a relist would: tests list the
// fake clients after each step and load the caches the controller reads with the result.
// items are list elements (VirtualDiskList.Items and the like); the store gets pointers.
func Replace[T any](t testing.TB, inf cache.SharedIndexInformer, items []T) {
	t.Helper()
	list := make([]any, 0, len(items))
	for i := range items {
		list = append(list, &items[i])
	}
	if err := inf.GetIndexer().Replace(list, ""); err != nil {
		t.Fatal(err)
	}
}

// ReplaceObjects is Replace for objects that already are pointers (KubeVirt.List).
func ReplaceObjects(t testing.TB, inf cache.SharedIndexInformer, objs []any) {
	t.Helper()
	if err := inf.GetIndexer().Replace(objs, ""); err != nil {
		t.Fatal(err)
	}
}
