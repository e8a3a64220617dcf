package integration

import (
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/virtplane/virtplane/test/corpus"
)

// TestValidationCorpus sends every manifest of test/corpus through the API: valid ones are
// stored, each broken one gets 422 Invalid with the field path of the rule it breaks.
func TestValidationCorpus(t *testing.T) {
	kinds, err := corpus.Kinds()
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range kinds {
		cases, err := corpus.Load(kind)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			t.Run(kind+"/"+c.Name, func(t *testing.T) { runCase(t, c) })
		}
	}
}

func runCase(t *testing.T, c corpus.Case) {
	first := decodeManifest(t, c.Docs[0])
	// Each case gets its own namespace so cases never see each other's objects.
	ns := "corpus-" + c.Kind
	if first.namespace() != "" {
		first.meta()["namespace"] = ns
	}
	if c.Op == corpus.OpCreate {
		_, err := create(t, first)
		checkOutcome(t, c, err)
		if err == nil {
			remove(t, first.kind(), first.namespace(), first.name())
		}
		return
	}

	// update and status: store the old object, with its status if it has one.
	if _, err := create(t, first); err != nil {
		t.Fatalf("creating the old object: %v", err)
	}
	defer remove(t, first.kind(), first.namespace(), first.name())
	if status, ok := first["status"]; ok {
		stored := get(t, first.kind(), first.namespace(), first.name())
		stored["status"] = status
		if _, err := send(t, request(t, "PUT", first.kind(), first.namespace(), first.name(), "status"), stored); err != nil {
			t.Fatalf("writing the old status: %v", err)
		}
	}
	next := decodeManifest(t, c.Docs[1])
	if next.namespace() != "" {
		next.meta()["namespace"] = ns
	}
	stored := get(t, first.kind(), first.namespace(), first.name())
	next.meta()["resourceVersion"] = stored.meta()["resourceVersion"]
	var err error
	if c.Op == corpus.OpUpdate {
		_, err = send(t, request(t, "PUT", next.kind(), next.namespace(), next.name()), next)
	} else {
		_, err = send(t, request(t, "PUT", next.kind(), next.namespace(), next.name(), "status"), next)
	}
	checkOutcome(t, c, err)
}

func checkOutcome(t *testing.T, c corpus.Case, err error) {
	t.Helper()
	if c.Malformed {
		if !apierrors.IsBadRequest(err) {
			t.Fatalf("expected 400 BadRequest for a malformed manifest, got %v", err)
		}
		return
	}
	if c.Expect == "" {
		if err != nil {
			t.Fatalf("expected the server to accept it: %v", err)
		}
		return
	}
	expectInvalid(t, err, c.Expect)
}
