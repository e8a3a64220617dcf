package localnode

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testBin makes a bin directory whose "virtualization-importer" is /bin/sh, so tests run tiny
// shell scripts as if they were the project's program.
func testBin(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Symlink("/bin/sh", filepath.Join(dir, "virtualization-importer")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestProgramName(t *testing.T) {
	for image, want := range map[string]string{
		"virtplane/virtualization-importer:dev": "virtualization-importer",
		"registry.example.com:5000/x/virtualization-importer@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa":    "virtualization-importer",
		"registry.example.com:5000/x/virtualization-importer:v1@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": "virtualization-importer",
		"dvcr":       "dvcr",
		"nginx:1.27": "nginx",
	} {
		if got := ProgramName(image); got != want {
			t.Errorf("ProgramName(%q) = %q, want %q", image, got, want)
		}
	}
}

func TestResolveProgramRefusesOtherImages(t *testing.T) {
	bin := testBin(t)
	if err := os.WriteFile(filepath.Join(bin, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if p, err := resolveProgram(bin, "registry.example.com/x/virtualization-importer@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"); err != nil || p != filepath.Join(bin, "virtualization-importer") {
		t.Fatalf("resolveProgram = %q, %v", p, err)
	}
	for _, image := range []string{"nginx", "docker.io/library/nginx:latest", "x/notes.txt", "x/..", ""} {
		_, err := resolveProgram(bin, image)
		if err == nil || !strings.Contains(err.Error(), "only runs this project's own programs") {
			t.Errorf("resolveProgram(%q) = %v, want a refusal", image, err)
		}
	}
}

func TestCommandLine(t *testing.T) {
	bin := testBin(t)
	prog := filepath.Join(bin, "virtualization-importer")
	for _, tc := range []struct {
		command, args, want []string
		err                 bool
	}{
		{nil, []string{"import"}, []string{prog, "import"}, false},
		{[]string{"virtualization-importer", "fill"}, []string{"-v"}, []string{prog, "fill", "-v"}, false},
		{[]string{"/usr/local/bin/virtualization-importer"}, nil, []string{prog}, false},
		{[]string{"/bin/bash", "-c", "x"}, nil, nil, true},
	} {
		got, err := commandLine(bin, prog, tc.command, tc.args)
		if (err != nil) != tc.err || strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("commandLine(%q, %q) = %q, %v", tc.command, tc.args, got, err)
		}
	}
}

func TestExpandVars(t *testing.T) {
	vars := map[string]string{"POD_IP": "127.11.0.2", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	for in, want := range map[string]string{
		"$(POD_IP):8080":     "127.11.0.2:8080",
		"$(MISSING)/x":       "$(MISSING)/x",
		"$$(POD_IP)":         "$(POD_IP)",
		"a$(EMPTY)b":         "ab",
		"$(POD_IP":           "$(POD_IP",
		"cost $5":            "cost $5",
		"$(POD_IP)$(POD_IP)": "127.11.0.2127.11.0.2",
		"end$":               "end$",
	} {
		if got := expandVars(in, lookup); got != want {
			t.Errorf("expandVars(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPathTranslation(t *testing.T) {
	var m pathMap
	m.add("/disk", "/host/vols/pvc-1")
	m.add("/disk/scratch/", "/host/pods/u/volumes/scratch")
	m.add("/dev/xvda", "/host/vols/pvc-2.img")
	for in, want := range map[string]string{
		"/disk":               "/host/vols/pvc-1",
		"/disk/disk.img":      "/host/vols/pvc-1/disk.img",
		"/disk/scratch/a.raw": "/host/pods/u/volumes/scratch/a.raw",
		"/disk/scratch":       "/host/pods/u/volumes/scratch",
		"/diskette":           "/diskette",
		"/dev/xvda":           "/host/vols/pvc-2.img",
		"/dev/xvdab":          "/dev/xvdab",
		"--out=/disk":         "--out=/disk",
	} {
		if got := m.translate(in); got != want {
			t.Errorf("translate(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPodIPAllocation(t *testing.T) {
	a, err := newIPAllocator(1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newIPAllocator(2)
	ip1, _ := a.Allocate("u1")
	ip2, _ := a.Allocate("u2")
	again, _ := a.Allocate("u1")
	other, _ := b.Allocate("u1")
	if ip1.String() != "127.11.0.2" || ip2.String() != "127.11.0.3" || again != ip1 || other.String() != "127.12.0.2" {
		t.Fatalf("addresses %s %s %s %s", ip1, ip2, again, other)
	}
	a.Release("u1")
	ip3, _ := a.Allocate("u3")
	if ip3 == ip1 {
		t.Fatalf("a released address came back at once: %s", ip3)
	}
	if _, err := newIPAllocator(246); err == nil {
		t.Fatal("index 246 accepted")
	}
	if DefaultPodIPIndex("node-2") != 2 || DefaultPodIPIndex("worker") != 0 {
		t.Fatal("DefaultPodIPIndex")
	}
}
