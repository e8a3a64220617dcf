package d8

import (
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

func TestSplitShellWords(t *testing.T) {
	for in, want := range map[string][]string{
		"-o StrictHostKeyChecking=no":        {"-o", "StrictHostKeyChecking=no"},
		"  -A\t-o 'ProxyJump a b'  ":         {"-A", "-o", "ProxyJump a b"},
		`-o "SetEnv=A=1 B=2" -o X=it\'s`:     {"-o", "SetEnv=A=1 B=2", "-o", "X=it's"},
		`''`:                                 {""},
		"":                                   nil,
		`-o 'LocalCommand=echo "%h"' -v -v`:  {"-o", `LocalCommand=echo "%h"`, "-v", "-v"},
		`-i /keys/my\ key -oBatchMode=yes`:   {"-i", "/keys/my key", "-oBatchMode=yes"},
		`-o "RemoteCommand=echo \"quoted\""`: {"-o", `RemoteCommand=echo "quoted"`},
	} {
		got, err := splitShellWords(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("splitShellWords(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{`-o 'open`, `-o "open`, `trailing\`} {
		if got, err := splitShellWords(in); err == nil {
			t.Errorf("splitShellWords(%q) = %q, want an error", in, got)
		}
	}
}

func TestParseSCPOperand(t *testing.T) {
	for in, want := range map[string]scpOperand{
		"cloud@linux-vm:/tmp/x":   {remote: "cloud@linux-vm", path: "/tmp/x"},
		"linux-vm.prod:file":      {remote: "linux-vm.prod", path: "file"},
		"linux-vm:":               {remote: "linux-vm", path: ""},
		"./dir/a:b":               {path: "./dir/a:b"},
		"/abs/path":               {path: "/abs/path"},
		"relative":                {path: "relative"},
		":odd":                    {path: ":odd"},
		"cloud@vm.ns:dir/with:co": {remote: "cloud@vm.ns", path: "dir/with:co"},
	} {
		if got := parseSCPOperand(in); got != want {
			t.Errorf("parseSCPOperand(%q) = %+v, want %+v", in, got, want)
		}
	}
}

// The ProxyCommand is run by ssh with the shell after expanding %-tokens: a binary path and
// a kubeconfig with spaces, quotes and % must come through as they are.
func TestProxyCommandSurvivesTheShell(t *testing.T) {
	defer func(old func() (string, error)) { selfExecutable = old }(selfExecutable)
	selfExecutable = func() (string, error) { return "/opt/my tools/d8", nil }
	o := &sshOptions{port: 2222}
	o.kubeconfig = "/home/u/it's 100%.yaml"
	o.context = "ctx"
	h := vmHost{user: "cloud", name: "linux-vm", namespace: "prod"}
	args, err := o.localSSHArgs(h, "-p")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"-o", "", "-o", "HostKeyAlias=vm/linux-vm.prod", "-p", "2222"}
	if len(args) != len(want) || args[2] != want[2] || args[3] != want[3] || args[4] != "-p" || args[5] != "2222" {
		t.Fatalf("args %q", args)
	}
	proxy, ok := strings.CutPrefix(args[1], "ProxyCommand=")
	if !ok {
		t.Fatalf("args %q", args)
	}
	// What ssh does: %% becomes %, then sh -c runs the line; printf shows the argv.
	line := strings.ReplaceAll(proxy, "%%", "%")
	out, err := exec.Command("sh", "-c", `printf '[%s]' `+line).Output()
	if err != nil {
		t.Fatal(err)
	}
	wantArgv := "[/opt/my tools/d8][v][port-forward][--stdio][linux-vm.prod][2222][--kubeconfig][/home/u/it's 100%.yaml][--context][ctx]"
	if string(out) != wantArgv {
		t.Errorf("the shell ran %s, want %s", out, wantArgv)
	}
}
