package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// writeFiles writes the write_files entries whose defer flag equals deferred: the others at
// the init stage (before users exist, as cloud-init does), the deferred ones at the final
// stage.
func (a *Applier) writeFiles(acc *accounts, files []WriteFile, deferred bool) {
	for _, f := range files {
		if bool(f.Defer) != deferred {
			continue
		}
		if err := a.writeFile(acc, f); err != nil {
			a.logf("write_files: %s: %v", f.Path, err)
			continue
		}
		a.logf("write_files: wrote %s", f.Path)
	}
}

func (a *Applier) writeFile(acc *accounts, f WriteFile) error {
	if !path.IsAbs(f.Path) {
		return fmt.Errorf("path is not absolute")
	}
	content, err := decodeContent(f.Content, f.Encoding)
	if err != nil {
		return err
	}
	mode := os.FileMode(0o644)
	if f.Permissions.set {
		mode = f.Permissions.mode
	}
	uid, gid := 0, 0
	if f.Owner != "" {
		user, group, _ := strings.Cut(f.Owner, ":")
		if u, g, _, ok := acc.lookupUser(user); ok {
			uid, gid = u, g
		} else {
			a.logf("write_files: %s: no user %s yet (defer: true waits for users), owner stays root", f.Path, user)
		}
		if group != "" {
			if g, ok := acc.lookupGroup(group); ok {
				gid = g
			}
		}
	}
	file := a.path(f.Path)
	if err := os.MkdirAll(path.Dir(file), 0o755); err != nil {
		return err
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if f.Append {
		flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	w, err := os.OpenFile(file, flags, mode)
	if err != nil {
		return err
	}
	if _, err := w.Write(content); err != nil {
		w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := os.Chmod(file, mode); err != nil {
		return err
	}
	return os.Chown(file, uid, gid)
}

// decodeContent undoes the encodings cloud-init knows: b64, gz and gz+b64 (in any of their
// spellings); anything else is plain text.
func decodeContent(content, encoding string) ([]byte, error) {
	data := []byte(content)
	enc := strings.ToLower(strings.TrimSpace(encoding))
	var err error
	if strings.Contains(enc, "b64") || strings.Contains(enc, "base64") {
		if data, err = base64.StdEncoding.DecodeString(strings.Join(strings.Fields(content), "")); err != nil {
			return nil, fmt.Errorf("base64: %w", err)
		}
	}
	if strings.HasPrefix(enc, "gz") {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
	}
	return data, nil
}
