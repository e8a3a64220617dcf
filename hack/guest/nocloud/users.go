package main

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// hashPattern recognises a crypt(3) hash in chpasswd's list form, as cloud-init does.
var hashPattern = regexp.MustCompile(`^\$(1|2a|2y|5|6)(\$.+){2}$`)

// applyGroups creates the groups of the top-level groups key and adds their members (users
// made later in the same run are added by applyUsers through their own groups).
func (a *Applier) applyGroups(acc *accounts, groups []Group) {
	for _, g := range groups {
		acc.ensureGroup(g.Name, -1, false)
		for _, m := range g.Members {
			if acc.passwd.find(m) != nil {
				acc.addMember(g.Name, m)
			}
		}
	}
}

// applyUsers creates the users (or updates existing ones: password, keys, groups, sudo),
// their home directories, authorized_keys and sudoers rules.
func (a *Applier) applyUsers(acc *accounts, c *Config) error {
	var sudoers []string
	for _, u := range c.Users {
		if err := a.applyUser(acc, u); err != nil {
			a.logf("users: %s: %v", u.Name, err)
			continue
		}
		for _, rule := range u.Sudo {
			sudoers = append(sudoers, u.Name+" "+rule)
		}
	}
	for _, g := range c.Groups {
		for _, m := range g.Members {
			acc.addMember(g.Name, m)
		}
	}
	if err := acc.save(); err != nil {
		return fmt.Errorf("write account files: %w", err)
	}
	for _, u := range c.Users {
		if err := a.authorizeKeys(acc, u.Name, u.SSHAuthorizedKeys); err != nil {
			a.logf("users: %s: authorized_keys: %v", u.Name, err)
		}
	}
	if len(c.SSHAuthorizedKeys) > 0 {
		if err := a.authorizeKeys(acc, "root", c.SSHAuthorizedKeys); err != nil {
			a.logf("ssh_authorized_keys: %v", err)
		}
	}
	if len(sudoers) > 0 {
		data := "# Made by nocloud from the users' sudo keys.\n" + strings.Join(sudoers, "\n") + "\n"
		if err := writeFileAtomic(a.path("etc/sudoers.d/90-cloud-init-users"), []byte(data), 0o440); err != nil {
			return fmt.Errorf("write sudoers: %w", err)
		}
	}
	return nil
}

func (a *Applier) applyUser(acc *accounts, u User) error {
	if !validName(u.Name) {
		return fmt.Errorf("not a valid user name")
	}
	if acc.passwd.find(u.Name) == nil {
		if err := a.createUser(acc, u); err != nil {
			return err
		}
	} else {
		a.logf("users: %s exists; updating its password, keys and groups", u.Name)
	}
	for _, g := range u.Groups {
		acc.ensureGroup(g, -1, false)
		acc.addMember(g, u.Name)
	}

	hash := u.HashedPasswd
	if hash == "" {
		hash = u.Passwd
	}
	if hash == "" && u.PlainTextPasswd != "" {
		h, err := HashPassword(u.PlainTextPasswd)
		if err != nil {
			return err
		}
		hash = h
	}
	// cloud-init locks the password unless lock_passwd: false says otherwise.
	locked := u.LockPasswd == nil || bool(*u.LockPasswd)
	return acc.setPassword(u.Name, hash, locked)
}

func (a *Applier) createUser(acc *accounts, u User) error {
	system := bool(u.System)
	uid := -1
	if u.UID != nil {
		uid = int(*u.UID)
		if acc.passwd.idTaken(2, uid) {
			return fmt.Errorf("uid %d is taken", uid)
		}
	} else {
		uid = acc.freeID(acc.passwd, 2, system)
	}
	var gid int
	switch {
	case u.PrimaryGroup != "":
		gid = acc.ensureGroup(u.PrimaryGroup, uid, system)
	case bool(u.NoUserGroup):
		gid = acc.ensureGroup("users", 100, true)
	default:
		gid = acc.ensureGroup(u.Name, uid, system)
	}
	home := u.Homedir
	if home == "" {
		home = "/home/" + u.Name
	}
	shell := u.Shell
	if shell == "" {
		shell = "/bin/sh"
	}
	if _, err := os.Stat(a.path(shell)); err != nil {
		a.logf("users: %s: shell %s is not in this guest, using /bin/sh", u.Name, shell)
		shell = "/bin/sh"
	}
	acc.passwd.put([]string{u.Name, "x", strconv.Itoa(uid), strconv.Itoa(gid),
		strings.ReplaceAll(u.Gecos, ":", " "), home, shell})
	acc.shadow.put([]string{u.Name, "!", "", "0", "99999", "7", "", "", ""})
	if bool(u.NoCreateHome) || system {
		return nil
	}
	dir := a.path(home)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("home: %w", err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		return fmt.Errorf("home: %w", err)
	}
	a.logf("users: created %s (uid %d, home %s, shell %s)", u.Name, uid, home, shell)
	return nil
}

// authorizeKeys adds keys to ~/.ssh/authorized_keys, keeping the ones already there.
func (a *Applier) authorizeKeys(acc *accounts, user string, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	uid, gid, home, ok := acc.lookupUser(user)
	if !ok {
		return fmt.Errorf("no user %s", user)
	}
	dir := a.path(path.Join(home, ".ssh"))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	file := filepath.Join(dir, "authorized_keys")
	existing, _ := os.ReadFile(file)
	lines := strings.Split(strings.TrimRight(string(existing), "\n"), "\n")
	if len(existing) == 0 {
		lines = nil
	}
	have := map[string]bool{}
	for _, l := range lines {
		have[strings.TrimSpace(l)] = true
	}
	for _, k := range keys {
		if k = strings.TrimSpace(k); k != "" && !have[k] {
			lines = append(lines, k)
			have[k] = true
		}
	}
	if err := writeFileAtomic(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	for _, p := range []string{dir, file} {
		if err := os.Chown(p, uid, gid); err != nil {
			return err
		}
	}
	return nil
}

// applyChpasswd sets passwords from chpasswd: "user:password" lines and users entries; a
// password R or RANDOM is generated and printed, as cloud-init prints it to the console.
func (a *Applier) applyChpasswd(acc *accounts, ch Chpasswd) error {
	type entry struct{ user, password, kind string }
	var entries []entry
	for _, line := range ch.List {
		for _, l := range strings.Split(line, "\n") {
			user, pw, ok := strings.Cut(strings.TrimSpace(l), ":")
			if !ok {
				continue
			}
			kind := "text"
			if hashPattern.MatchString(pw) {
				kind = "hash"
			}
			entries = append(entries, entry{user, pw, kind})
		}
	}
	for _, u := range ch.Users {
		kind := strings.ToLower(u.Type)
		if kind == "" {
			kind = "hash"
			if !hashPattern.MatchString(u.Password) {
				kind = "text"
			}
		}
		entries = append(entries, entry{u.Name, u.Password, kind})
	}
	for _, e := range entries {
		pw, kind := e.password, e.kind
		if kind == "random" || pw == "R" || pw == "RANDOM" {
			pw = randomPassword()
			a.console(fmt.Sprintf("chpasswd: %s:%s", e.user, pw))
			kind = "text"
		}
		hash := pw
		if kind != "hash" {
			h, err := HashPassword(pw)
			if err != nil {
				return err
			}
			hash = h
		}
		if err := acc.setPassword(e.user, hash, false); err != nil {
			a.logf("chpasswd: %v", err)
		}
	}
	return acc.save()
}

func randomPassword() string {
	const letters = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	for i := range b {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(letters))))
		b[i] = letters[n.Int64()]
	}
	return string(b)
}

var namePattern = regexp.MustCompile(`^[a-z_][a-z0-9_.-]*\$?$`)

func validName(name string) bool { return len(name) <= 32 && namePattern.MatchString(name) }
