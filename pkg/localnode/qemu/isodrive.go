package qemu

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Volume ids of the generated drives: cloud-init's NoCloud looks for "cidata"; Windows setup
// searches every removable drive for its answer file, the label only tells people what it is.
const (
	cloudInitVolume = "cidata"
	sysprepVolume   = "sysprep"
)

// cloudInitFiles are the NoCloud drive's files.
func cloudInitFiles(cfg *Config) map[string][]byte {
	ci := cfg.CloudInit
	meta := ci.MetaData
	if meta == "" {
		hostname := cfg.Hostname
		if hostname == "" {
			hostname = cfg.Name
		}
		meta = fmt.Sprintf("instance-id: %s\nlocal-hostname: %s\n", cfg.Name, hostname)
	}
	files := map[string][]byte{"user-data": []byte(ci.UserData), "meta-data": []byte(meta)}
	if ci.NetworkData != "" {
		files["network-config"] = []byte(ci.NetworkData)
	}
	return files
}

// makeISO writes files into the ISO9660 image path (Joliet and Rock Ridge, so names keep
// their case and dashes) with genisoimage.
func makeISO(ctx context.Context, path, volume string, files map[string][]byte) error {
	stage, err := os.MkdirTemp(filepath.Dir(path), "."+volume+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(stage, name), data, 0o600); err != nil {
			return err
		}
	}
	tmp := path + ".tmp"
	cmd := exec.CommandContext(ctx, "genisoimage", "-quiet", "-output", tmp, "-volid", volume, "-joliet", "-rock", stage)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("genisoimage: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return os.Rename(tmp, path)
}
