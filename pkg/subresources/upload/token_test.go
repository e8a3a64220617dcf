package upload

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/cache"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/generated/clientset/versioned/fake"
	"github.com/virtplane/virtplane/pkg/generated/informers/externalversions"
)

func uploadImage(name, phase, inCluster string) *v1alpha2.VirtualImage {
	vi := &v1alpha2.VirtualImage{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}}
	vi.Spec.DataSource.Type = v1alpha2.DataSourceTypeUpload
	vi.Status.Phase = v1alpha2.ImagePhase(phase)
	if inCluster != "" {
		vi.Status.ImageUploadURLs = &v1alpha2.ImageUploadURLs{InCluster: inCluster, External: "https://virtualization.example.com" + strings.TrimPrefix(inCluster, "http://10.0.0.1:8080")}
	}
	return vi
}

// tokenServer starts informers on a fake clientset holding objs and serves the token endpoint.
func tokenServer(t *testing.T, objs ...runtime.Object) (*httptest.Server, *Tokens, *fake.Clientset) {
	t.Helper()
	// NewClientset would need the group's schema for its field-managed tracker; the simple
	// tracker is all these tests need.
	client := fake.NewSimpleClientset(objs...) //nolint:staticcheck // see above
	factory := externalversions.NewSharedInformerFactory(client, 0)
	v := factory.Virtualization().V1alpha2()
	tokens, err := NewTokens(v.VirtualImages().Informer(), v.ClusterVirtualImages().Informer(), v.VirtualDisks().Informer())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), tokens.HasSynced) {
		t.Fatal("informers did not sync")
	}
	srv := httptest.NewServer(NewTokenServer(tokens, NewProxy(nil)))
	t.Cleanup(srv.Close)
	return srv, tokens, client
}

func TestTokenIndexFindsEveryKind(t *testing.T) {
	cvi := &v1alpha2.ClusterVirtualImage{ObjectMeta: metav1.ObjectMeta{Name: "cluster-image"}}
	cvi.Spec.DataSource.Type = v1alpha2.DataSourceTypeUpload
	cvi.Status.Phase = v1alpha2.ImageWaitForUserUpload
	cvi.Status.ImageUploadURLs = &v1alpha2.ImageUploadURLs{InCluster: "http://10.0.0.2:8080/upload/cvitoken"}
	vd := &v1alpha2.VirtualDisk{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "disk"}}
	vd.Spec.DataSource = &v1alpha2.VirtualDiskDataSource{Type: v1alpha2.DataSourceTypeUpload}
	vd.Status.Phase = v1alpha2.DiskWaitForUserUpload
	vd.Status.ImageUploadURLs = &v1alpha2.ImageUploadURLs{InCluster: "http://10.0.0.3:8080/upload/vdtoken"}
	_, tokens, _ := tokenServer(t, uploadImage("img", "WaitForUserUpload", "http://10.0.0.1:8080/upload/vitoken"), cvi, vd,
		uploadImage("other", "Pending", ""))

	for token, want := range map[string]string{
		"vitoken":  "virtualimages.virtualization.deckhouse.io ns/img",
		"cvitoken": "clustervirtualimages.virtualization.deckhouse.io cluster-image",
		"vdtoken":  "virtualdisks.virtualization.deckhouse.io ns/disk",
	} {
		got, ok := tokens.Lookup(token)
		if !ok || got.String() != want {
			t.Errorf("Lookup(%s) = %v, %v; want %s", token, got, ok, want)
		}
	}
	if _, ok := tokens.Lookup("nope"); ok {
		t.Error("an unknown token was found")
	}
	if _, ok := tokens.Lookup(""); ok {
		t.Error("the empty token was found")
	}
}

func TestTokenEndpoint(t *testing.T) {
	rec := &recorder{}
	importer := httptest.NewServer(rec)
	defer importer.Close()
	waiting := uploadImage("img", "WaitForUserUpload", importer.URL+"/upload/"+testToken)
	ready := uploadImage("done", "Ready", importer.URL+"/upload/readytoken")
	srv, tokens, client := tokenServer(t, waiting, ready)

	put := func(path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPut, srv.URL+path, strings.NewReader("disk image bytes"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	if code, body := put("/upload/" + testToken); code != http.StatusOK || rec.n != int64(len("disk image bytes")) {
		t.Fatalf("known token: %d %s, importer got %d bytes", code, body, rec.n)
	}
	if code, body := put("/upload/unknown"); code != http.StatusNotFound || !strings.Contains(body, "unknown upload token") {
		t.Fatalf("unknown token: %d %s", code, body)
	}
	if code, _ := put("/elsewhere"); code != http.StatusNotFound {
		t.Fatalf("other path: %d", code)
	}
	if code, body := put("/upload/readytoken"); code != http.StatusConflict || !strings.Contains(body, "not waiting for an upload (phase Ready)") {
		t.Fatalf("ready image: %d %s", code, body)
	}

	// The token dies with the importer: once the controller clears the URL the token is unknown.
	done := waiting.DeepCopy()
	done.Status.Phase, done.Status.ImageUploadURLs = v1alpha2.ImageReady, nil
	if _, err := client.VirtualizationV1alpha2().VirtualImages("ns").UpdateStatus(context.Background(), done, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, ok := tokens.Lookup(testToken); ok; _, ok = tokens.Lookup(testToken) {
		if time.Now().After(deadline) {
			t.Fatal("the token stayed in the index")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, _ := put("/upload/" + testToken); code != http.StatusNotFound {
		t.Fatalf("token after Ready: %d", code)
	}
}
