package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Version is what $VERSION expands to in final_message.
const Version = "nocloud 1 (virtplane test guest)"

// stateDir keeps the seed and the scripts between the init and the final stage, where
// cloud-init keeps them too.
const stateDir = "var/lib/cloud/instance"

// Applier applies a NoCloud seed to the guest's root file system.
type Applier struct {
	// Root is the guest's root directory: "/" in the guest, a temporary one in tests.
	Root string
	// SetHostname changes the running system's host name; nil leaves it alone.
	SetHostname func(name string) error
	// Log receives what was done and what went wrong.
	Log io.Writer
	// Console receives the lines cloud-init prints on the console (final_message,
	// generated passwords).
	Console func(line string)
	// Now and Uptime feed final_message.
	Now    func() time.Time
	Uptime func() (time.Duration, error)
}

func (a *Applier) path(p string) string { return filepath.Join(a.Root, p) }

func (a *Applier) logf(format string, args ...any) {
	fmt.Fprintf(a.Log, "nocloud: "+format+"\n", args...)
}

func (a *Applier) console(line string) {
	a.logf("%s", line)
	if a.Console != nil {
		a.Console(line)
	}
}

// Apply is the init stage: it reads the seed directory (a mounted cidata drive), keeps a
// copy, runs bootcmd, sets the host name, writes files, creates users, sets passwords and
// the SSH password policy, and leaves runcmd for Final.
func (a *Applier) Apply(seedDir string) error {
	userData, err := os.ReadFile(filepath.Join(seedDir, "user-data"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read user-data: %w", err)
	}
	metaRaw, err := os.ReadFile(filepath.Join(seedDir, "meta-data"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read meta-data: %w", err)
	}
	if _, err := os.Stat(filepath.Join(seedDir, "network-config")); err == nil {
		a.logf("network-config is not applied: the first NIC always uses DHCP")
	}
	md, err := ParseMetaData(metaRaw)
	if err != nil {
		return err
	}
	c, err := ParseUserData(userData)
	if err != nil {
		return err
	}
	state := a.path(stateDir)
	if err := os.MkdirAll(filepath.Join(state, "scripts"), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(state, "user-data.txt"), userData, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(state, "meta-data"), metaRaw, 0o600); err != nil {
		return err
	}
	for _, p := range c.Problems {
		a.logf("skipped %s", p)
	}
	if len(c.Ignored) > 0 {
		a.logf("not supported by this guest, ignored: %s", strings.Join(c.Ignored, ", "))
	}

	if len(c.Bootcmd) > 0 {
		a.runScript("bootcmd", Script(c.Bootcmd), md.InstanceID)
	}
	if short, fqdn := Hostnames(c, md); short != "" {
		if err := a.applyHostname(short, fqdn); err != nil {
			a.logf("hostname: %v", err)
		}
	}
	acc, err := loadAccounts(a.Root)
	if err != nil {
		return err
	}
	a.writeFiles(acc, c.WriteFiles, false)
	a.applyGroups(acc, c.Groups)
	if err := a.applyUsers(acc, c); err != nil {
		return err
	}
	if len(c.Chpasswd.List) > 0 || len(c.Chpasswd.Users) > 0 {
		if err := a.applyChpasswd(acc, c.Chpasswd); err != nil {
			return err
		}
	}
	if c.SSHPwauth != nil {
		args := "-s"
		if *c.SSHPwauth {
			args = ""
		}
		data := fmt.Sprintf("# Written by nocloud: ssh_pwauth: %t.\nDROPBEAR_EXTRA_ARGS=%q\n", *c.SSHPwauth, args)
		if err := writeFileAtomic(a.path("etc/default/dropbear"), []byte(data), 0o644); err != nil {
			return err
		}
	}
	if c.Script != nil {
		if err := os.WriteFile(filepath.Join(state, "scripts", "part-001"), c.Script, 0o700); err != nil {
			return err
		}
	}
	if len(c.Runcmd) > 0 {
		if err := os.WriteFile(filepath.Join(state, "scripts", "runcmd"), []byte(Script(c.Runcmd)), 0o700); err != nil {
			return err
		}
	}
	return nil
}

func (a *Applier) applyHostname(short, fqdn string) error {
	if err := writeFileAtomic(a.path("etc/hostname"), []byte(short+"\n"), 0o644); err != nil {
		return err
	}
	hosts, _ := os.ReadFile(a.path("etc/hosts"))
	var kept []string
	for _, l := range strings.Split(strings.TrimRight(string(hosts), "\n"), "\n") {
		if l != "" && !strings.HasPrefix(l, "127.0.1.1") {
			kept = append(kept, l)
		}
	}
	names := short
	if fqdn != short {
		names = fqdn + " " + short
	}
	kept = append(kept, "127.0.1.1\t"+names)
	if err := writeFileAtomic(a.path("etc/hosts"), []byte(strings.Join(kept, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	if a.SetHostname != nil {
		if err := a.SetHostname(short); err != nil {
			return err
		}
	}
	a.logf("hostname: %s", short)
	return nil
}

// Final is the final stage: deferred files, the user-data script, runcmd, then
// final_message and the boot-finished marker.
func (a *Applier) Final() error {
	state := a.path(stateDir)
	userData, err := os.ReadFile(filepath.Join(state, "user-data.txt"))
	if err != nil {
		return fmt.Errorf("no seed was applied: %w", err)
	}
	metaRaw, _ := os.ReadFile(filepath.Join(state, "meta-data"))
	md, err := ParseMetaData(metaRaw)
	if err != nil {
		md = &MetaData{}
	}
	c, err := ParseUserData(userData)
	if err != nil {
		return err
	}
	acc, err := loadAccounts(a.Root)
	if err != nil {
		return err
	}
	a.writeFiles(acc, c.WriteFiles, true)
	for _, name := range []string{"part-001", "runcmd"} {
		script := filepath.Join(state, "scripts", name)
		if _, err := os.Stat(script); err == nil {
			a.runFile(name, script, md.InstanceID)
		}
	}

	msg := "Cloud-init v. $VERSION finished at $TIMESTAMP. Datasource $DATASOURCE.  Up $UPTIME seconds"
	if c.FinalMessage != nil {
		msg = *c.FinalMessage
	}
	up := "?"
	if a.Uptime != nil {
		if d, err := a.Uptime(); err == nil {
			up = fmt.Sprintf("%.2f", d.Seconds())
		}
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	ts := now().UTC().Format(time.RFC1123Z)
	a.console(expandFinalMessage(msg, map[string]string{
		"UPTIME": up, "TIMESTAMP": ts, "VERSION": Version, "DATASOURCE": "DataSourceNoCloud",
	}))
	finished := fmt.Sprintf("%s - %s\n", ts, Version)
	return os.WriteFile(filepath.Join(state, "boot-finished"), []byte(finished), 0o644)
}

// expandFinalMessage substitutes $NAME and ${NAME} with the values cloud-init offers.
func expandFinalMessage(msg string, vars map[string]string) string {
	return os.Expand(msg, func(name string) string {
		if v, ok := vars[name]; ok {
			return v
		}
		return "$" + name
	})
}

func (a *Applier) runScript(name, script, instanceID string) {
	file := a.path(filepath.Join(stateDir, "scripts", name))
	if err := os.WriteFile(file, []byte(script), 0o700); err != nil {
		a.logf("%s: %v", name, err)
		return
	}
	a.runFile(name, file, instanceID)
}

func (a *Applier) runFile(name, file, instanceID string) {
	a.logf("%s: running", name)
	cmd := exec.Command(file)
	cmd.Dir = a.Root
	cmd.Stdout, cmd.Stderr = a.Log, a.Log
	cmd.Env = append(os.Environ(), "INSTANCE_ID="+instanceID)
	if err := cmd.Run(); err != nil {
		a.logf("%s: %v", name, err)
		return
	}
	a.logf("%s: done", name)
}
