package d8

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/virtplane/virtplane/test/seeds"
)

// Every `d8 v ...` command line of the user documentation names a command of this CLI and
// passes its flag and argument checks. (What the commands do is tested against the stack in
// test/e2e/platform; this catches a flag or command the docs use that d8 lacks.)
func TestSeedCommandsParse(t *testing.T) {
	dir, err := seeds.Dir()
	if err != nil {
		t.Fatal(err)
	}
	files, err := seeds.Files(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The docs' placeholders, as a user fills them in.
	fill := strings.NewReplacer("<namespace>", "prod", "<vm-name>", "linux-vm")
	found := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(strings.NewReader(string(data)))
		for n := 1; lines.Scan(); n++ {
			line := strings.TrimSpace(lines.Text())
			if !strings.HasPrefix(line, "d8 v ") {
				continue
			}
			found++
			words, err := splitShellWords(fill.Replace(line))
			if err != nil {
				t.Errorf("%s:%d: %q: %v", f, n, line, err)
				continue
			}
			root := NewCommand(Streams{})
			cmd, args, err := root.Find(words[1:])
			if err != nil || cmd == root || !cmd.Runnable() {
				t.Errorf("%s:%d: %q names no d8 command: %v", f, n, line, err)
				continue
			}
			if err := cmd.ParseFlags(args); err != nil {
				t.Errorf("%s:%d: %q: flags: %v", f, n, line, err)
				continue
			}
			if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
				t.Errorf("%s:%d: %q: arguments: %v", f, n, line, err)
			}
		}
	}
	if found < 8 {
		t.Errorf("found %d `d8 v` command lines in %s, the guides have at least 8", found, dir)
	}
}
