// Command sudo is the test guest's sudo: installed setuid root, it runs a command as root
// (or -u USER) for users that an /etc/sudoers or /etc/sudoers.d rule grants NOPASSWD:ALL,
// which is what cloud-init's "sudo: ALL=(ALL) NOPASSWD:ALL" writes. Rules that want a
// password are refused: the guest has no PAM, and the tests never type one.
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

const securePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// etc is where the account and sudoers files are; tests point it elsewhere.
var etc = "/etc"

type account struct {
	name, home, shell string
	uid, gid          int
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "sudo: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	var login, shell, keepEnv bool
	target := "root"
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		a := args[0]
		args = args[1:]
		switch a {
		case "--":
			goto parsed
		case "-i", "--login":
			login = true
		case "-s", "--shell":
			shell = true
		case "-E", "--preserve-env":
			keepEnv = true
		case "-n", "--non-interactive", "-H", "--set-home", "-k", "-S":
		case "-u", "--user":
			if len(args) == 0 {
				return fmt.Errorf("-u needs a user")
			}
			target, args = args[0], args[1:]
		default:
			if u, ok := strings.CutPrefix(a, "-u"); ok && u != "" {
				target = u
				continue
			}
			return fmt.Errorf("option %s is not supported by this guest's sudo", a)
		}
	}
parsed:
	if os.Geteuid() != 0 {
		return fmt.Errorf("must be setuid root")
	}
	users, err := readAccounts()
	if err != nil {
		return err
	}
	caller, ok := byUID(users, os.Getuid())
	if !ok {
		return fmt.Errorf("you (uid %d) are not in /etc/passwd", os.Getuid())
	}
	groups := groupsOf(caller)
	if caller.uid != 0 {
		if err := allowed(caller.name, groups); err != nil {
			return err
		}
	}
	to, ok := byName(users, target)
	if !ok {
		return fmt.Errorf("unknown user %s", target)
	}

	var argv []string
	switch {
	case login || shell:
		sh := to.shell
		if shell && !login && os.Getenv("SHELL") != "" {
			sh = os.Getenv("SHELL")
		}
		argv = []string{sh}
		if login {
			argv[0] = "-" + filepath.Base(sh)
		}
		if len(args) > 0 {
			argv = append(argv, "-c", strings.Join(args, " "))
		}
		args = append([]string{sh}, argv[1:]...)
	case len(args) == 0:
		return fmt.Errorf("usage: sudo [-i | -s] [-u user] [command [arg ...]]")
	default:
		argv = args
	}
	path := args[0]
	if !strings.Contains(path, "/") {
		os.Setenv("PATH", securePath)
		if path, err = exec.LookPath(args[0]); err != nil {
			return fmt.Errorf("%s: command not found", args[0])
		}
	}

	env := []string{
		"PATH=" + securePath, "HOME=" + to.home, "USER=" + to.name, "LOGNAME=" + to.name,
		"SHELL=" + to.shell, "SUDO_USER=" + caller.name, "SUDO_UID=" + strconv.Itoa(caller.uid),
		"SUDO_GID=" + strconv.Itoa(caller.gid), "SUDO_COMMAND=" + strings.Join(args, " "),
	}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if keepEnv || name == "TERM" || name == "LANG" || strings.HasPrefix(name, "LC_") {
			env = append(env, kv)
		}
	}
	if login {
		if err := os.Chdir(to.home); err != nil {
			os.Chdir("/")
		}
	}
	if err := syscall.Setgroups(groupsOf(to)); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(to.gid); err != nil {
		return fmt.Errorf("setgid: %w", err)
	}
	if err := syscall.Setuid(to.uid); err != nil {
		return fmt.Errorf("setuid: %w", err)
	}
	return syscall.Exec(path, argv, env)
}

// allowed looks for a rule "<user> ..." or "%<group> ..." that grants NOPASSWD: ALL.
func allowed(user string, gids []int) error {
	names := map[string]bool{user: true}
	for _, g := range readGroups() {
		for _, gid := range gids {
			if g.gid == gid {
				names["%"+g.name] = true
			}
		}
	}
	files := []string{filepath.Join(etc, "sudoers")}
	more, _ := filepath.Glob(filepath.Join(etc, "sudoers.d", "*"))
	files = append(files, more...)
	needsPassword := false
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			who, spec, ok := strings.Cut(line, " ")
			if !ok || !names[who] {
				continue
			}
			spec = strings.Join(strings.Fields(spec), "")
			if strings.HasSuffix(spec, "NOPASSWD:ALL") {
				return nil
			}
			needsPassword = true
		}
	}
	if needsPassword {
		return fmt.Errorf("%s may use sudo only with a password, which this guest's sudo does not ask for", user)
	}
	return fmt.Errorf("%s is not in the sudoers file", user)
}

func readAccounts() ([]account, error) {
	var out []account
	err := eachLine(filepath.Join(etc, "passwd"), func(f []string) {
		if len(f) < 7 {
			return
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 == nil && err2 == nil {
			out = append(out, account{name: f[0], uid: uid, gid: gid, home: f[5], shell: f[6]})
		}
	})
	return out, err
}

type group struct {
	name    string
	gid     int
	members []string
}

func readGroups() []group {
	var out []group
	eachLine(filepath.Join(etc, "group"), func(f []string) {
		if len(f) < 4 {
			return
		}
		if gid, err := strconv.Atoi(f[2]); err == nil {
			out = append(out, group{name: f[0], gid: gid, members: strings.Split(f[3], ",")})
		}
	})
	return out
}

// groupsOf returns the primary and supplementary group ids of an account.
func groupsOf(a account) []int {
	gids := []int{a.gid}
	for _, g := range readGroups() {
		for _, m := range g.members {
			if m == a.name && g.gid != a.gid {
				gids = append(gids, g.gid)
			}
		}
	}
	return gids
}

func byUID(accounts []account, uid int) (account, bool) {
	for _, a := range accounts {
		if a.uid == uid {
			return a, true
		}
	}
	return account{}, false
}

func byName(accounts []account, name string) (account, bool) {
	for _, a := range accounts {
		if a.name == name {
			return a, true
		}
	}
	return account{}, false
}

func eachLine(path string, fn func(fields []string)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fn(strings.Split(s.Text(), ":"))
	}
	return s.Err()
}
