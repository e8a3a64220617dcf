package d8

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// sftpCopier copies files and trees between the local file system and a VM's, keeping the
// permission bits of files, as scp does.
type sftpCopier struct {
	client    *sftp.Client
	recursive bool
}

// upload copies the local src to the VM's dst; into dst when that is a directory.
func (c *sftpCopier) upload(src, dst string) error {
	info, err := os.Stat(src)
	if err != nil {
		return err
	}
	if info.IsDir() && !c.recursive {
		return fmt.Errorf("%s is a directory (use -r)", src)
	}
	if st, err := c.client.Stat(dst); err == nil && st.IsDir() {
		dst = path.Join(dst, filepath.Base(src))
	}
	if !info.IsDir() {
		return c.putFile(src, dst, info.Mode())
	}
	return filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := path.Join(dst, filepath.ToSlash(rel))
		info, err := e.Info()
		if err != nil {
			return err
		}
		switch {
		case e.IsDir():
			if err := c.client.MkdirAll(target); err != nil {
				return fmt.Errorf("creating %s on the VM: %w", target, err)
			}
			return c.client.Chmod(target, info.Mode().Perm())
		case info.Mode().IsRegular():
			return c.putFile(p, target, info.Mode())
		default:
			return fmt.Errorf("%s: only regular files and directories are copied", p)
		}
	})
}

func (c *sftpCopier) putFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := c.client.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return fmt.Errorf("opening %s on the VM: %w", dst, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("writing %s on the VM: %w", dst, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("writing %s on the VM: %w", dst, err)
	}
	if err := c.client.Chmod(dst, mode.Perm()); err != nil {
		return fmt.Errorf("setting the mode of %s on the VM: %w", dst, err)
	}
	return nil
}

// download copies the VM's src to the local dst; into dst when that is a directory.
func (c *sftpCopier) download(src, dst string) error {
	info, err := c.client.Stat(src)
	if err != nil {
		return fmt.Errorf("%s on the VM: %w", src, err)
	}
	if info.IsDir() && !c.recursive {
		return fmt.Errorf("%s on the VM is a directory (use -r)", src)
	}
	if st, err := os.Stat(dst); err == nil && st.IsDir() {
		dst = filepath.Join(dst, path.Base(src))
	}
	if !info.IsDir() {
		return c.getFile(src, dst, info.Mode())
	}
	walker := c.client.Walk(src)
	for walker.Step() {
		if err := walker.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(src, walker.Path())
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info := walker.Stat()
		switch {
		case info.IsDir():
			if err := os.MkdirAll(target, 0o700); err != nil {
				return err
			}
			if err := os.Chmod(target, info.Mode().Perm()); err != nil {
				return err
			}
		case info.Mode().IsRegular():
			if err := c.getFile(walker.Path(), target, info.Mode()); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s on the VM: only regular files and directories are copied", walker.Path())
		}
	}
	return nil
}

func (c *sftpCopier) getFile(src, dst string, mode fs.FileMode) error {
	in, err := c.client.Open(src)
	if err != nil {
		return fmt.Errorf("opening %s on the VM: %w", src, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode.Perm())
	if err != nil {
		return err
	}
	if _, err := in.WriteTo(out); err != nil {
		out.Close()
		return fmt.Errorf("reading %s on the VM: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode.Perm())
}

// lost says whether the SSH connection has died, to tell a lost connection from a file error.
func lost(client *ssh.Client) bool {
	_, _, err := client.SendRequest("keepalive@openssh.com", true, nil)
	return err != nil
}
