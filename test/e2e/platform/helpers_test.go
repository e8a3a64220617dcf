package platform

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/dvcr"
)

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return c
}

// imageStatus is what the tests read of VI and CVI status.
type imageStatus struct {
	Phase      string
	Progress   string
	Format     string
	CDROM      bool
	Unpacked   string
	Stored     string
	Registry   string
	PVC        string
	Conditions []metav1.Condition
	UploadURLs *v1alpha2.ImageUploadURLs
}

func viStatus(o *v1alpha2.VirtualImage) imageStatus {
	s := o.Status
	return imageStatus{string(s.Phase), s.Progress, s.Format, s.CDROM, s.Size.UnpackedBytes, s.Size.StoredBytes,
		s.Target.RegistryURL, s.Target.PersistentVolumeClaim, s.Conditions, s.ImageUploadURLs}
}

func cviStatus(o *v1alpha2.ClusterVirtualImage) imageStatus {
	s := o.Status
	return imageStatus{string(s.Phase), s.Progress, s.Format, s.CDROM, s.Size.UnpackedBytes, s.Size.StoredBytes,
		s.Target.RegistryURL, "", s.Conditions, s.ImageUploadURLs}
}

// waitVI polls a VirtualImage until its phase is one of want; it fails on any other final phase.
func waitVI(t *testing.T, ns, name string, timeout time.Duration, want ...string) imageStatus {
	t.Helper()
	return waitImage(t, "vi "+ns+"/"+name, timeout, want, func() (imageStatus, error) {
		o, err := client.VirtualizationV1alpha2().VirtualImages(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return imageStatus{}, err
		}
		return viStatus(o), nil
	})
}

func waitCVI(t *testing.T, name string, timeout time.Duration, want ...string) imageStatus {
	t.Helper()
	return waitImage(t, "cvi "+name, timeout, want, func() (imageStatus, error) {
		o, err := client.VirtualizationV1alpha2().ClusterVirtualImages().Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return imageStatus{}, err
		}
		return cviStatus(o), nil
	})
}

func waitImage(t *testing.T, what string, timeout time.Duration, want []string, get func() (imageStatus, error)) imageStatus {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last imageStatus
	for time.Now().Before(deadline) {
		s, err := get()
		if err == nil {
			last = s
			for _, w := range want {
				if s.Phase == w {
					return s
				}
			}
			if final(s.Phase) {
				t.Fatalf("%s is %s, want %v: %s", what, s.Phase, want, conditionText(s.Conditions))
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s is %q after %s, want %v: %s", what, last.Phase, timeout, want, conditionText(last.Conditions))
	return last
}

func final(phase string) bool { return phase == "Ready" || phase == "Failed" }

// waitVD polls a VirtualDisk until its phase is one of want.
func waitVD(t *testing.T, ns, name string, timeout time.Duration, want ...string) *v1alpha2.VirtualDisk {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last *v1alpha2.VirtualDisk
	for time.Now().Before(deadline) {
		o, err := client.VirtualizationV1alpha2().VirtualDisks(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err == nil {
			last = o
			for _, w := range want {
				if string(o.Status.Phase) == w {
					return o
				}
			}
			if final(string(o.Status.Phase)) {
				t.Fatalf("vd %s/%s is %s, want %v: %s", ns, name, o.Status.Phase, want, conditionText(o.Status.Conditions))
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	if last == nil {
		t.Fatalf("vd %s/%s not found after %s", ns, name, timeout)
	}
	t.Fatalf("vd %s/%s is %q after %s, want %v: %s", ns, name, last.Status.Phase, timeout, want, conditionText(last.Status.Conditions))
	return nil
}

func conditionText(cs []metav1.Condition) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "[%s=%s %s: %s] ", c.Type, c.Status, c.Reason, c.Message)
	}
	return b.String()
}

func condition(cs []metav1.Condition, typ string) metav1.Condition {
	for _, c := range cs {
		if c.Type == typ {
			return c
		}
	}
	return metav1.Condition{}
}

// dvcrBlob returns the sha256 of the disk stored in a DVCR image (reading it back, not
// trusting the digest) and the manifest's annotations. The test mints its own token with the
// stack's signing key, as the platform's programs do.
func dvcrBlob(t *testing.T, ref string) (string, map[string]string) {
	t.Helper()
	img, err := dvcrImage(ref)
	if err != nil {
		t.Fatalf("reading %s from DVCR: %v", ref, err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%s: %d layers (%v), want 1", ref, len(layers), err)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		t.Fatalf("reading the layer of %s: %v", ref, err)
	}
	return hex.EncodeToString(h.Sum(nil)), m.Annotations
}

func dvcrImage(ref string) (v1.Image, error) {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return nil, err
	}
	signer, err := dvcr.LoadSigner(filepath.Join(stackDir, "pki", "dvcr-token.key"))
	if err != nil {
		return nil, err
	}
	tok, err := signer.Token("e2e", []dvcr.Access{{Type: "repository", Name: r.Context().RepositoryStr(), Actions: []string{"pull"}}}, time.Minute)
	if err != nil {
		return nil, err
	}
	return remote.Image(r, remote.WithAuth(authn.FromConfig(authn.AuthConfig{RegistryToken: tok})))
}

// volumeFile returns the file behind a PVC on the local nodes' shared storage.
func volumeFile(t *testing.T, ns, pvc string) string {
	t.Helper()
	c, err := core.CoreV1().PersistentVolumeClaims(ns).Get(context.Background(), pvc, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("pvc %s/%s: %v", ns, pvc, err)
	}
	if c.Spec.VolumeName == "" {
		t.Fatalf("pvc %s/%s is not bound", ns, pvc)
	}
	for _, p := range []string{
		filepath.Join(stackDir, "volumes", c.Spec.VolumeName+".img"),
		filepath.Join(stackDir, "volumes", c.Spec.VolumeName, "disk.img"),
	} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("no file for volume %s of pvc %s/%s under %s", c.Spec.VolumeName, ns, pvc, filepath.Join(stackDir, "volumes"))
	return ""
}

// jsonPath reads one field with kubectl -o jsonpath.
func jsonPath(t *testing.T, path string, args ...string) string {
	t.Helper()
	return mustKubectl(t, "", append(args, "-o", "jsonpath="+path)...)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
