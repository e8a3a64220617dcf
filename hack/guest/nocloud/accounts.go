package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// accounts edits /etc/passwd, /etc/shadow and /etc/group of the guest directly: busybox's
// adduser cannot take a given hash, home or group list in one step, and files are easy to
// test.
type accounts struct {
	passwd, shadow, group *table
}

// table is a colon-separated account file, kept in its original order.
type table struct {
	path string
	mode os.FileMode
	rows [][]string
}

func loadAccounts(root string) (*accounts, error) {
	var a accounts
	var err error
	if a.passwd, err = readTable(filepath.Join(root, "etc/passwd"), 0o644); err != nil {
		return nil, err
	}
	if a.shadow, err = readTable(filepath.Join(root, "etc/shadow"), 0o600); err != nil {
		return nil, err
	}
	if a.group, err = readTable(filepath.Join(root, "etc/group"), 0o644); err != nil {
		return nil, err
	}
	return &a, nil
}

func (a *accounts) save() error {
	for _, t := range []*table{a.group, a.passwd, a.shadow} {
		if err := t.write(); err != nil {
			return err
		}
	}
	return nil
}

func readTable(path string, mode os.FileMode) (*table, error) {
	t := &table{path: path, mode: mode}
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return t, nil
	}
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if line != "" {
			t.rows = append(t.rows, strings.Split(line, ":"))
		}
	}
	return t, nil
}

func (t *table) write() error {
	var b strings.Builder
	for _, r := range t.rows {
		b.WriteString(strings.Join(r, ":"))
		b.WriteByte('\n')
	}
	return writeFileAtomic(t.path, []byte(b.String()), t.mode)
}

// find returns the row whose first field is name, or nil.
func (t *table) find(name string) []string {
	for _, r := range t.rows {
		if r[0] == name {
			return r
		}
	}
	return nil
}

// put replaces the row named row[0] or appends it.
func (t *table) put(row []string) {
	for i, r := range t.rows {
		if r[0] == row[0] {
			t.rows[i] = row
			return
		}
	}
	t.rows = append(t.rows, row)
}

// idTaken reports whether a row has id in field col.
func (t *table) idTaken(col, id int) bool {
	for _, r := range t.rows {
		if len(r) > col && r[col] == strconv.Itoa(id) {
			return true
		}
	}
	return false
}

// lookupUser returns the uid, gid and home of a user.
func (a *accounts) lookupUser(name string) (uid, gid int, home string, ok bool) {
	r := a.passwd.find(name)
	if len(r) < 7 {
		return 0, 0, "", false
	}
	uid, err1 := strconv.Atoi(r[2])
	gid, err2 := strconv.Atoi(r[3])
	return uid, gid, r[5], err1 == nil && err2 == nil
}

// lookupGroup returns the gid of a group.
func (a *accounts) lookupGroup(name string) (int, bool) {
	r := a.group.find(name)
	if len(r) < 3 {
		return 0, false
	}
	gid, err := strconv.Atoi(r[2])
	return gid, err == nil
}

// ensureGroup creates a group if it is missing, preferring gid want, and returns its gid.
func (a *accounts) ensureGroup(name string, want int, system bool) int {
	if gid, ok := a.lookupGroup(name); ok {
		return gid
	}
	gid := want
	if gid < 0 || a.group.idTaken(2, gid) {
		gid = a.freeID(a.group, 2, system)
	}
	a.group.put([]string{name, "x", strconv.Itoa(gid), ""})
	return gid
}

// addMember adds a user to a group's member list.
func (a *accounts) addMember(group, user string) {
	r := a.group.find(group)
	if len(r) < 4 {
		return
	}
	var members []string
	if r[3] != "" {
		members = strings.Split(r[3], ",")
	}
	for _, m := range members {
		if m == user {
			return
		}
	}
	r[3] = strings.Join(append(members, user), ",")
}

// freeID returns the lowest id not used in column col: from 1000 for people, from 100 for
// system accounts, as Debian's adduser counts.
func (a *accounts) freeID(t *table, col int, system bool) int {
	id := 1000
	if system {
		id = 100
	}
	for t.idTaken(col, id) {
		id++
	}
	return id
}

// setPassword stores a hash in /etc/shadow; locked prefixes it with "!" as passwd -l does.
func (a *accounts) setPassword(user, hash string, locked bool) error {
	r := a.shadow.find(user)
	if r == nil {
		if a.passwd.find(user) == nil {
			return fmt.Errorf("no user %s", user)
		}
		r = []string{user, "!", "", "0", "99999", "7", "", "", ""}
	}
	if hash == "" {
		hash = strings.TrimLeft(r[1], "!")
		if hash == "" || hash == "*" {
			hash = "*"
		}
	}
	if locked && !strings.HasPrefix(hash, "!") {
		hash = "!" + hash
	}
	r[1] = hash
	if len(r) > 2 {
		r[2] = "" // no "last changed" day: the guest may boot with its clock far off
	}
	a.shadow.put(r)
	return nil
}

// writeFileAtomic replaces a file so that a reader never sees half of it.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
