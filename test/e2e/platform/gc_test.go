package platform

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestDVCRGarbageCollection is the admin guide's "Cleaning up image storage": `gc check` lists
// the images no object refers to any more, and `gc run` deletes exactly those.
func TestDVCRGarbageCollection(t *testing.T) {
	ns := namespace(t, "gc")
	mustKubectl(t, fill(httpImage, "NAME", "keep", "NS", ns, "URL", fileURL("disk.raw")), "apply", "-f", "-")
	mustKubectl(t, fill(httpImage, "NAME", "gone", "NS", ns, "URL", fileURL("disk.qcow2")), "apply", "-f", "-")
	keep := waitVI(t, ns, "keep", 3*time.Minute, "Ready")
	gone := waitVI(t, ns, "gone", 3*time.Minute, "Ready")
	mustKubectl(t, "", "delete", "vi", "gone", "-n", ns, "--wait=true", "--timeout=60s")
	if _, err := client.VirtualizationV1alpha2().VirtualImages(ns).Get(context.Background(), "gone", metav1.GetOptions{}); err == nil {
		t.Fatal("the deleted image is still there")
	}

	check := dvcrCLI(t, "gc", "check")
	for _, want := range []string{"manifests in registry", "resources in cluster", "Use%", "Images eligible for cleanup:", "KIND"} {
		if !strings.Contains(check, want) {
			t.Errorf("gc check does not print %q:\n%s", want, check)
		}
	}
	row := regexp.MustCompile(`(?m)^VirtualImage\s+` + ns + `\s+gone\s*$`)
	if !row.MatchString(check) {
		t.Errorf("gc check does not list VirtualImage %s/gone:\n%s", ns, check)
	}
	if regexp.MustCompile(`(?m)^VirtualImage\s+` + ns + `\s+keep\s*$`).MatchString(check) {
		t.Errorf("gc check lists an image that still exists:\n%s", check)
	}

	dvcrCLI(t, "gc", "run")
	if _, err := dvcrImage(gone.Registry); err == nil {
		t.Errorf("%s can still be read after gc run", gone.Registry)
	}
	if sum, _ := dvcrBlob(t, keep.Registry); sum != fixtures.rawSHA256 {
		t.Errorf("after gc run the kept image holds sha256 %s, want %s", sum, fixtures.rawSHA256)
	}
	if row.MatchString(dvcrCLI(t, "gc", "check")) {
		t.Error("gc check still lists the collected image")
	}
}

// dvcrCLI runs bin/dvcr against the stack's storage and cluster.
func dvcrCLI(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args = append(args, "--config", filepath.Join(stackDir, "config.yaml"), "--kubeconfig", stack.Kubeconfig)
	out, err := exec.CommandContext(ctx, filepath.Join(bin, "dvcr"), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("dvcr %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
