package provisioning

import (
	"errors"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The informer can deliver the new object before Create returns; the expectation must
// already be there to be cleared, or the controller waits for an event that came and went.
func TestCreateExpectsBeforeTheCall(t *testing.T) {
	e := NewExpectations(time.Hour)
	err := e.Create("pod/ns/a", func() error {
		e.ObservedCreate("pod/ns/a") // the watch event, racing the response
		return nil
	})
	if err != nil || e.CreatePending("pod/ns/a") {
		t.Fatalf("after an event that beat the response: err %v, pending %v", err, e.CreatePending("pod/ns/a"))
	}
	if err := e.Create("pod/ns/b", func() error { return nil }); err != nil || !e.CreatePending("pod/ns/b") {
		t.Fatalf("created, no event yet: pending %v, want true", e.CreatePending("pod/ns/b"))
	}
	if err := e.Create("pod/ns/c", func() error { return errors.New("boom") }); err == nil || e.CreatePending("pod/ns/c") {
		t.Fatalf("a failed create stays expected")
	}
	exists := apierrors.NewAlreadyExists(schema.GroupResource{Resource: "pods"}, "d")
	if err := e.Create("pod/ns/d", func() error { return exists }); !apierrors.IsAlreadyExists(err) || !e.CreatePending("pod/ns/d") {
		t.Fatalf("AlreadyExists: the object is there, wait for the cache to show it")
	}
}
