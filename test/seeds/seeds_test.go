package seeds

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// Counted by hand on the seeds in /work/shared/seeds:
//
//	grep -c 'apiVersion:' *.txt                  -> 4 + 7 + 5 + 10 + 29 = 55
//
// Every hit is the top-level apiVersion of one document (none is nested). One of them,
// 003:246 (a VirtualMachine whose spec ends in a bare `...` line), is not YAML, so 54
// documents parse.
//
//	grep -c '^ *```yaml' *.txt, minus the ```yaml blocks holding apiVersion: or a heredoc -> 25
//
// ```yaml blocks are snippets without apiVersion/kind (5 in 003, 20 in 004).
//
//	grep -hE '^\s*(d8 k|kubectl|d k|k) ' *.txt | wc -l                     -> 132 command lines
//	grep -hE '^\s*(d8 k|kubectl|d k|k) +get ' *.txt | wc -l                -> 66 get commands
//	... | grep -vE -- '-o +(json|jsonpath)' | wc -l                         -> 50 print a table
//
// Two of the 50 (004:1033 `get virtualmachineoperation` and 004:1035 `get vmop`) have no
// example output, so 48 have a header.
const (
	handManifests  = 54
	handFragments  = 25
	handCommands   = 132
	handGets       = 66
	handGetHeaders = 48
)

// The kinds of virtualization.deckhouse.io.
var virtKinds = map[string]bool{
	"ClusterVirtualImage": true, "VirtualImage": true, "VirtualDisk": true, "VirtualDiskSnapshot": true,
	"VirtualMachine": true, "VirtualMachineClass": true, "VirtualMachineOperation": true,
	"VirtualMachineBlockDeviceAttachment": true, "VirtualMachineIPAddress": true,
	"VirtualMachineIPAddressLease": true, "VirtualMachineSnapshot": true, "VirtualMachineRestore": true,
}

func seedDir(t *testing.T) string {
	t.Helper()
	d, err := Dir()
	if err != nil {
		t.Skipf("no seeds: %v", err)
	}
	return d
}

func scanSeeds(t *testing.T) *Result {
	t.Helper()
	r, err := Scan(seedDir(t))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func fileLines(t *testing.T, dir, name string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(string(data), "\n")
}

// ---------------------------------------------------------------------------------------
// The real seeds

func TestSeedManifests(t *testing.T) {
	dir := seedDir(t)
	r, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	ms, problems, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != len(r.Manifests) || len(problems) != len(r.Problems) {
		t.Errorf("Load and Scan disagree: %d/%d manifests, %d/%d problems", len(ms), len(r.Manifests), len(problems), len(r.Problems))
	}
	if len(ms) < handManifests {
		t.Errorf("found %d manifests, counted %d by hand", len(ms), handManifests)
	}
	lines := map[string][]string{}
	for _, m := range ms {
		if m.Kind == "" || m.APIVersion == "" || (m.Name == "" && m.GenerateName == "") {
			t.Errorf("%s: kind %q apiVersion %q name %q generateName %q", m.Pos(), m.Kind, m.APIVersion, m.Name, m.GenerateName)
		}
		if m.Group() == "virtualization.deckhouse.io" && !virtKinds[m.Kind] {
			t.Errorf("%s: %s is not a kind of virtualization.deckhouse.io", m.Pos(), m.Kind)
		}
		if m.Lang != "en" && m.Lang != "ru" {
			t.Errorf("%s: lang %q", m.Pos(), m.Lang)
		}
		if want := map[bool]string{true: "ru", false: "en"}[strings.HasPrefix(m.File, "001") || strings.HasPrefix(m.File, "002")]; m.Lang != want {
			t.Errorf("%s: lang %q, want %q", m.Pos(), m.Lang, want)
		}
		if _, ok := lines[m.File]; !ok {
			lines[m.File] = fileLines(t, dir, m.File)
		}
		if l := lines[m.File][m.Line-1]; !strings.HasPrefix(strings.TrimSpace(l), "apiVersion:") {
			t.Errorf("%s: line is %q, want the document's apiVersion", m.Pos(), l)
		}
		var obj map[string]interface{}
		if err := yaml.Unmarshal(m.YAML, &obj); err != nil {
			t.Errorf("%s: YAML does not parse again: %v", m.Pos(), err)
		}
		if strings.Contains(string(m.YAML), "$(date") {
			t.Errorf("%s: $(date ...) not expanded", m.Pos())
		}
		if (m.Source == "heredoc") != (m.Shell != "") {
			t.Errorf("%s: source %q with shell %q", m.Pos(), m.Source, m.Shell)
		}
	}

	// The one document that is not YAML.
	found := false
	for _, u := range r.Unparsable {
		if strings.HasPrefix(u.File, "003") && u.Line == 246 && u.Kind == "VirtualMachine" && u.Err != "" {
			found = true
		}
	}
	if !found {
		t.Errorf("003:246 VirtualMachine not reported as unparsable: %+v", r.Unparsable)
	}
	if len(r.Fragments) < handFragments {
		t.Errorf("found %d fragments, counted %d by hand", len(r.Fragments), handFragments)
	}

	// $(date +%s) is expanded to the suffix the guide uses later: the disk restored from a
	// snapshot names the snapshot made with linux-vm-root-$(date +%s).
	snapshots := map[string]bool{}
	for _, m := range ms {
		if m.Kind == "VirtualDiskSnapshot" {
			snapshots[m.Name] = true
			if len(m.Substituted) == 0 {
				t.Errorf("%s: no substitution recorded", m.Pos())
			}
		}
	}
	restored := 0
	for _, m := range ms {
		var vd struct {
			Spec struct {
				DataSource struct {
					ObjectRef struct{ Kind, Name string }
				}
			}
		}
		if m.Kind != "VirtualDisk" || yaml.Unmarshal(m.YAML, &vd) != nil || vd.Spec.DataSource.ObjectRef.Kind != "VirtualDiskSnapshot" {
			continue
		}
		restored++
		if !snapshots[vd.Spec.DataSource.ObjectRef.Name] {
			t.Errorf("%s restores from snapshot %q; the seeds create %v", m.Pos(), vd.Spec.DataSource.ObjectRef.Name, snapshots)
		}
	}
	if restored == 0 {
		t.Error("no VirtualDisk restored from a VirtualDiskSnapshot")
	}

	counts := map[string]map[string]int{}
	for _, m := range ms {
		if counts[m.Kind] == nil {
			counts[m.Kind] = map[string]int{}
		}
		counts[m.Kind][m.File[:3]]++
	}
	var kinds []string
	for k := range counts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		t.Logf("%-38s %v", k, counts[k])
	}
	for _, p := range r.Problems {
		t.Log(p)
	}
}

func TestSeedUnique(t *testing.T) {
	r := scanSeeds(t)
	u := Unique(r.Manifests)
	if len(u) == 0 || len(u) >= len(r.Manifests) {
		t.Fatalf("Unique kept %d of %d; the seeds repeat manifests", len(u), len(r.Manifests))
	}
	seen := map[string]string{}
	english := map[string]bool{}
	for _, m := range r.Manifests {
		if m.Lang == "en" {
			english[canonical(m.YAML)] = true
		}
	}
	for i, m := range u {
		k := canonical(m.YAML)
		if prev, dup := seen[k]; dup {
			t.Errorf("%s repeats %s", m.Pos(), prev)
		}
		seen[k] = m.Pos()
		if m.Lang != "en" && english[k] {
			t.Errorf("%s (%s) kept although an English copy exists", m.Pos(), m.Lang)
		}
		if i > 0 && (u[i-1].File > m.File || (u[i-1].File == m.File && u[i-1].Line > m.Line)) {
			t.Errorf("order: %s after %s", m.Pos(), u[i-1].Pos())
		}
	}
	t.Logf("%d manifests, %d unique", len(r.Manifests), len(u))
}

func TestSeedCommands(t *testing.T) {
	dir := seedDir(t)
	cs, err := Commands(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) < handCommands {
		t.Errorf("found %d commands, counted %d by hand", len(cs), handCommands)
	}
	gets, headers := 0, 0
	byPos := map[string]Command{}
	for _, c := range cs {
		byPos[c.Pos()] = c
		if len(c.Args) == 0 || c.Verb == "" {
			t.Errorf("%s: %q has no kubectl arguments", c.Pos(), c.Text)
		}
		if a := c.Argv(); a[0] != "kubectl" || (len(a) > 1 && (a[1] == "k" || a[1] == "d8")) {
			t.Errorf("%s: argv %q", c.Pos(), a)
		}
		if c.Verb != "get" {
			if c.Header != "" {
				t.Errorf("%s: %s has a header", c.Pos(), c.Verb)
			}
			continue
		}
		gets++
		if c.Header == "" {
			continue
		}
		headers++
		if !strings.HasPrefix(c.Header, "NAME ") || c.Headers[0] != c.Header || c.HeaderLine <= c.Line {
			t.Errorf("%s: header %q (%v) at %d", c.Pos(), c.Header, c.Headers, c.HeaderLine)
		}
		t.Logf("%-30s kubectl %-55s %s", c.Pos(), strings.Join(c.Args, " "), strings.Join(c.Headers, " | "))
	}
	if gets < handGets || headers < handGetHeaders {
		t.Errorf("%d get commands with %d headers; counted %d and %d by hand", gets, headers, handGets, handGetHeaders)
	}

	find := func(prefix string, line int) Command {
		t.Helper()
		for _, c := range cs {
			if strings.HasPrefix(c.File, prefix) && c.Line == line {
				return c
			}
		}
		t.Fatalf("no command at %s:%d", prefix, line)
		return Command{}
	}
	// Header in the same block, without '#'.
	if c := find("003", 232); c.Header != "NAME PHASE AGE" {
		t.Errorf("003:232 header %q", c.Header)
	}
	// Three tables in the next block.
	if c := find("004", 104); len(c.Headers) != 3 || c.Headers[1] != "NAME PHASE CAPACITY AGE" {
		t.Errorf("004:104 headers %q", c.Headers)
	}
	// The long name, whose output is two blocks down, after "A shorter version of the command".
	if c := find("000", 138); c.Header != "NAME PHASE CDROM PROGRESS AGE" || c.HeaderLine != 150 {
		t.Errorf("000:138 header %q at %d", c.Header, c.HeaderLine)
	}
	// Plain text, no fences.
	if c := find("002", 109); c.Header != "NAME PHASE CDROM PROGRESS AGE" || c.HeaderLine != 113 {
		t.Errorf("002:109 header %q at %d", c.Header, c.HeaderLine)
	}
	// Backslash continuation and single quotes.
	if c := find("000", 79); c.Verb != "patch" || c.Args[len(c.Args)-1] != `{"spec": {"settings": {"dvcr": {"storage": {"persistentVolumeClaim": {"size":"59G"}}}}}}` {
		t.Errorf("000:79 args %q", c.Args)
	}
	// Global flag before the verb.
	if c := find("000", 361); c.Verb != "exec" || !reflect.DeepEqual(c.Args[:2], []string{"-n", "d8-virtualization"}) {
		t.Errorf("000:361 verb %q args %q", c.Verb, c.Args)
	}
	// JSON output has no header; the pipe is kept apart.
	if c := find("000", 280); c.Header != "" || c.Tail != "| jq" || c.Output() != "jsonpath={.status.imageUploadURLs}" {
		t.Errorf("000:280 header %q tail %q output %q", c.Header, c.Tail, c.Output())
	}
	// Heredoc commands carry their input.
	if c := find("004", 1019); c.Verb != "create" || c.Heredoc != "EOF" || !strings.Contains(string(c.Stdin), "generateName: restart-linux-vm-") {
		t.Errorf("004:1019 %+v", c)
	}
	// `k get vmip` is read as kubectl.
	if c := find("004", 1809); c.Prefix != "k" || c.Header != "NAME ADDRESS STATUS VM AGE" {
		t.Errorf("004:1809 prefix %q header %q", c.Prefix, c.Header)
	}
	if _, ok := byPos[""]; ok {
		t.Error("command without position")
	}
}

// ---------------------------------------------------------------------------------------
// Dir

func TestDirFromEnv(t *testing.T) {
	d := t.TempDir()
	t.Setenv("SEEDS_DIR", d)
	got, err := Dir()
	if err != nil || got != filepath.Clean(d) {
		t.Fatalf("Dir() = %q, %v; want %q", got, err, d)
	}
	t.Setenv("SEEDS_DIR", filepath.Join(d, "missing"))
	if _, err := Dir(); err == nil {
		t.Fatal("Dir() accepted a missing SEEDS_DIR")
	}
}

func TestDirBesideRoot(t *testing.T) {
	t.Setenv("SEEDS_DIR", "")
	d, err := Dir()
	if err != nil {
		t.Skipf("no seeds beside the repository: %v", err)
	}
	if filepath.Base(d) != "seeds" || filepath.Base(filepath.Dir(d)) != "shared" {
		t.Errorf("Dir() = %q", d)
	}
	root := filepath.Dir(filepath.Dir(d))
	gomod, err := os.ReadFile(filepath.Join(root, "main", "go.mod"))
	if err == nil && !declaresModule(gomod, ModulePath) {
		t.Errorf("%s/main/go.mod is not %s", root, ModulePath)
	}
}

func TestModuleRoot(t *testing.T) {
	top := t.TempDir()
	inner := filepath.Join(top, "a", "b")
	if err := os.MkdirAll(filepath.Join(inner, "c"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(top, "go.mod"), "module "+ModulePath+"\n\ngo 1.22\n")
	write(filepath.Join(inner, "go.mod"), "module example.com/other\n") // a nested module is not the root
	got, err := moduleRoot(filepath.Join(inner, "c"))
	if err != nil || got != top {
		t.Fatalf("moduleRoot = %q, %v; want %q", got, err, top)
	}
}

// ---------------------------------------------------------------------------------------
// The parser on small inputs

type wantDoc struct {
	line             int
	kind, name, lang string
	shell            string
}

func TestParse(t *testing.T) {
	tests := []struct {
		name        string
		md          string
		docs        []wantDoc
		unparsable  []int    // lines
		fragments   []int    // lines
		problems    []string // kinds, in order
		check       func(t *testing.T, r *Result)
		unevaluated []string
	}{
		{
			name: "heredoc in a yaml block",
			md:   "Create it:\n\n```yaml\nd8 k apply -f - <<EOF\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\nEOF\n```\n",
			docs: []wantDoc{{5, "ConfigMap", "cm", "en", "d8 k apply -f - <<EOF"}},
		},
		{
			name: "plain yaml block",
			md:   "```yaml\n# a comment first\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  k: dg==\n```\n",
			docs: []wantDoc{{3, "Secret", "s", "en", ""}},
		},
		{
			name: "multi-document block",
			md:   "```yaml\n---\napiVersion: v1\nkind: A\nmetadata:\n  name: a\n---\n# second\napiVersion: v1\nkind: B\nmetadata:\n  name: b\n--- \n```\n",
			docs: []wantDoc{{3, "A", "a", "en", ""}, {9, "B", "b", "en", ""}},
		},
		{
			name: "multi-document heredoc",
			md:   "```bash\nkubectl apply -f - <<EOF\napiVersion: v1\nkind: A\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: B\nmetadata:\n  name: b\nEOF\n```\n",
			docs: []wantDoc{{3, "A", "a", "en", "kubectl apply -f - <<EOF"}, {8, "B", "b", "en", "kubectl apply -f - <<EOF"}},
		},
		{
			name: "date is expanded in an unquoted heredoc",
			md:   "```yaml\nd8 k apply -f - <<EOF\napiVersion: v1\nkind: A\nmetadata:\n  name: x-$(date +%s)\n  labels:\n    at: \"`date +%s`\"\nEOF\n```\n",
			docs: []wantDoc{{3, "A", fmt.Sprintf("x-%d", DateSeconds), "en", "d8 k apply -f - <<EOF"}},
			check: func(t *testing.T, r *Result) {
				if !strings.Contains(string(r.Manifests[0].YAML), fmt.Sprintf("at: \"%d\"", DateSeconds)) {
					t.Errorf("backquotes not expanded:\n%s", r.Manifests[0].YAML)
				}
			},
		},
		{
			name: "quoted delimiter: no expansion",
			md:   "```yaml\nd8 k apply -f - <<'EOF'\napiVersion: v1\nkind: A\nmetadata:\n  name: a\ndata:\n  x: $(date +%s) $HOME\nEOF\n```\n",
			docs: []wantDoc{{3, "A", "a", "en", "d8 k apply -f - <<'EOF'"}},
			check: func(t *testing.T, r *Result) {
				if !strings.Contains(string(r.Manifests[0].YAML), "x: $(date +%s) $HOME") {
					t.Errorf("quoted heredoc changed:\n%s", r.Manifests[0].YAML)
				}
			},
		},
		{
			name:        "what cannot be evaluated is kept and reported",
			md:          "```bash\nkubectl create -f - <<EOF\napiVersion: v1\nkind: A\nmetadata:\n  name: a-${SUFFIX}\n  namespace: $NS\ndata:\n  cost: \\$5\n  who: $(whoami)\nEOF\n```\n",
			docs:        []wantDoc{{3, "A", "a-${SUFFIX}", "en", "kubectl create -f - <<EOF"}},
			problems:    []string{ProblemUnevaluated, ProblemUnevaluated, ProblemUnevaluated},
			unevaluated: []string{"${SUFFIX}", "$NS", "$(whoami)"},
			check: func(t *testing.T, r *Result) {
				if m := r.Manifests[0]; m.Namespace != "$NS" || !strings.Contains(string(m.YAML), "cost: $5") {
					t.Errorf("namespace %q\n%s", m.Namespace, m.YAML)
				}
			},
		},
		{
			name:      "fragment skipped but counted",
			md:        "```yaml\nspec:\n  cpu:\n    cores: 1\n```\n",
			fragments: []int{2},
			check: func(t *testing.T, r *Result) {
				if !reflect.DeepEqual(r.Fragments[0].Keys, []string{"spec"}) {
					t.Errorf("keys %v", r.Fragments[0].Keys)
				}
			},
		},
		{
			name:      "malformed fragment",
			md:        "```yaml.\nspec:\ncpu:\nfeatures: - vmx\n```\n",
			fragments: []int{2},
			problems:  []string{ProblemUnparsableFragment},
		},
		{
			name:       "unparsable manifest",
			md:         "```yaml\napiVersion: v1\nkind: VirtualMachine\nmetadata:\n  name: vm\nspec:\n  a: b\n  ...\n```\n",
			unparsable: []int{2},
			problems:   []string{ProblemUnparsable},
			check: func(t *testing.T, r *Result) {
				if u := r.Unparsable[0]; u.Kind != "VirtualMachine" || u.Name != "vm" || u.Err == "" {
					t.Errorf("%+v", u)
				}
			},
		},
		{
			name: "list item: indented fence, ragged closing fence, no space before <<",
			md:   "1. Step:\n\n    ```bash\n    d8 k apply -f -<<EOF\n    apiVersion: v1\n    kind: A\n    metadata:\n      name: a\n    EOF\n   ```\n",
			docs: []wantDoc{{5, "A", "a", "en", "d8 k apply -f -<<EOF"}},
			check: func(t *testing.T, r *Result) {
				if !strings.HasPrefix(string(r.Manifests[0].YAML), "apiVersion: v1\nkind: A\n") {
					t.Errorf("not dedented:\n%s", r.Manifests[0].YAML)
				}
			},
		},
		{
			name: "heredoc in plain text, Russian",
			md:   "Выполните следующую команду для создания образа:\n\nd8 k apply -f - <<EOF\napiVersion: v1\nkind: A\nmetadata:\n  name: a\nEOF\n\nПроверить результат создания:\n",
			docs: []wantDoc{{4, "A", "a", "ru", "d8 k apply -f - <<EOF"}},
		},
		{
			name: "front matter sets the language",
			md:   "---\ntitle: x\nlang: ru\n---\n\nText.\n\n```yaml\napiVersion: v1\nkind: A\nmetadata:\n  name: a\n```\n",
			docs: []wantDoc{{9, "A", "a", "ru", ""}},
		},
		{
			name: "other heredocs and output blocks are not manifests",
			md:   "```bash\ncat <<EOF > x.yaml\napiVersion: v1\nkind: A\nmetadata:\n  name: a\nEOF\n```\n\n```console\napiVersion: v1\nkind: B\n```\n",
		},
		{
			name:     "unterminated heredoc",
			md:       "```bash\nd8 k apply -f - <<EOF\napiVersion: v1\nkind: A\nmetadata:\n  name: a\n```\n",
			docs:     []wantDoc{{3, "A", "a", "en", "d8 k apply -f - <<EOF"}},
			problems: []string{ProblemUnterminated},
		},
		{
			name:     "placeholders and ellipsis",
			md:       "```yaml\napiVersion: v1\nkind: A\nmetadata:\n  name: <name>\nspec:\n  cpu: ...\n```\n",
			docs:     []wantDoc{{2, "A", "<name>", "en", ""}},
			problems: []string{ProblemPlaceholder},
			check: func(t *testing.T, r *Result) {
				if got := r.Manifests[0].Placeholders; !reflect.DeepEqual(got, []string{"<name>", "..."}) {
					t.Errorf("placeholders %q", got)
				}
			},
		},
		{
			name:     "duplicate key",
			md:       "```yaml\napiVersion: v1\nkind: A\nmetadata:\n  name: a\n  name: b\n```\n",
			docs:     []wantDoc{{2, "A", "b", "en", ""}},
			problems: []string{ProblemDuplicateKey},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Parse("x.md", []byte(tc.md))
			var got []wantDoc
			for _, m := range r.Manifests {
				got = append(got, wantDoc{m.Line, m.Kind, m.Name, m.Lang, m.Shell})
				if m.File != "x.md" {
					t.Errorf("file %q", m.File)
				}
			}
			if !reflect.DeepEqual(got, tc.docs) {
				t.Errorf("manifests\n got %+v\nwant %+v", got, tc.docs)
			}
			var lines []int
			for _, u := range r.Unparsable {
				lines = append(lines, u.Line)
			}
			if !reflect.DeepEqual(lines, tc.unparsable) {
				t.Errorf("unparsable at %v, want %v", lines, tc.unparsable)
			}
			lines = nil
			for _, f := range r.Fragments {
				lines = append(lines, f.Line)
			}
			if !reflect.DeepEqual(lines, tc.fragments) {
				t.Errorf("fragments at %v, want %v", lines, tc.fragments)
			}
			var kinds []string
			for _, p := range r.Problems {
				kinds = append(kinds, p.Kind)
				if p.File != "x.md" || p.Line == 0 {
					t.Errorf("problem without position: %v", p)
				}
			}
			if !reflect.DeepEqual(kinds, tc.problems) {
				t.Errorf("problems %v, want %v\n%s", kinds, tc.problems, strings.Join(r.ProblemStrings(), "\n"))
			}
			if tc.unevaluated != nil && !reflect.DeepEqual(r.Manifests[0].Unevaluated, tc.unevaluated) {
				t.Errorf("unevaluated %q, want %q", r.Manifests[0].Unevaluated, tc.unevaluated)
			}
			if tc.check != nil && !t.Failed() {
				tc.check(t, r)
			}
		})
	}
}

func TestParseCommands(t *testing.T) {
	type wantCmd struct {
		line    int
		args    string // space-joined
		header  string
		headers int
	}
	tests := []struct {
		name     string
		md       string
		cmds     []wantCmd
		problems []string
	}{
		{
			name: "output in the same block, commented, after a short-name variant",
			md:   "```bash\nd8 k get virtualimage x\n# or shorter\nd8 k get vi x\n\n# NAME   PHASE   AGE\n# x      Ready   1m\n```\n",
			cmds: []wantCmd{{2, "get virtualimage x", "NAME PHASE AGE", 1}, {4, "get vi x", "NAME PHASE AGE", 1}},
		},
		{
			name: "output in the next console block",
			md:   "```shell\nd8 k get cvi x -w\n```\n\nExample output:\n\n```console\nNAME   PHASE          AGE\nx      Provisioning   1s\nx      Ready          2s\n```\n",
			cmds: []wantCmd{{2, "get cvi x -w", "NAME PHASE AGE", 1}},
		},
		{
			name: "a block of gets only is skipped on the way to the output",
			md:   "```shell\nd8 k get clustervirtualimage x\n```\n\nShorter:\n\n```shell\nd8 k get cvi x\n```\n\n```txt\n# NAME   PHASE\n```\n",
			cmds: []wantCmd{{2, "get clustervirtualimage x", "NAME PHASE", 1}, {8, "get cvi x", "NAME PHASE", 1}},
		},
		{
			name: "several tables and -o wide",
			md:   "```bash\nkubectl get vi,vd -o wide\n```\n\n```txt\n# NAME  PHASE  CDROM\n# a     Ready  false\n#\n# NAME  PHASE  CAPACITY\n# b     Ready  1Gi\n```\n",
			cmds: []wantCmd{{2, "get vi,vd -o wide", "NAME PHASE CDROM", 2}},
		},
		{
			name: "json output and pipes: no header",
			md:   "```bash\nd8 k get vm x -o json | jq '.status'\n```\n\n```txt\n# NAME PHASE\n```\n",
			cmds: []wantCmd{{2, "get vm x -o json", "", 0}},
		},
		{
			name: "no example output: the next block runs another command",
			md:   "```bash\nd8 k get vmop\n```\n\n```bash\nd8 v restart vm\n```\n",
			cmds: []wantCmd{{2, "get vmop", "", 0}},
		},
		{
			name: "output without a header",
			md:   "```bash\nd8 k get vm\n```\n\n```txt\n{\"a\": 1}\n```\n",
			cmds: []wantCmd{{2, "get vm", "", 0}},
		},
		{
			name: "continuation, quotes, global flag, heredoc",
			md: "```shell\nd8 k patch mc virtualization \\\n  --type merge -p '{\"spec\": {}}'\nd8 k -n ns exec deploy/x -- tool \"a b\"\n" +
				"kubectl create -f - <<EOF\napiVersion: v1\nkind: A\nmetadata:\n  generateName: a-\nEOF\n```\n",
			cmds: []wantCmd{{2, `patch mc virtualization --type merge -p {"spec": {}}`, "", 0}, {4, "-n ns exec deploy/x -- tool a b", "", 0}, {5, "create -f -", "", 0}},
		},
		{
			name: "plain text without fences",
			md:   "Проверить результат:\n\nd8 k get vi x\n\nПример вывода:\n\nNAME   PHASE   AGE\nx      Ready   1m\n",
			cmds: []wantCmd{{3, "get vi x", "NAME PHASE AGE", 1}},
		},
		{
			name:     "aliases, placeholders and unbalanced quotes are reported",
			md:       "```bash\nk get vmip\nd k get vdsnapshot\nd8 k get nodes <node-name> -o json | jq '.x'' -r\n```\n",
			cmds:     []wantCmd{{2, "get vmip", "", 0}, {3, "get vdsnapshot", "", 0}, {4, "get nodes <node-name> -o json", "", 0}},
			problems: []string{ProblemAlias, ProblemAlias, ProblemQuotes, ProblemPlaceholder},
		},
		{
			name: "prose lines starting with k are not commands",
			md:   "k is a letter.\n\nd8 v console vm\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Parse("x.md", []byte(tc.md))
			var got []wantCmd
			for _, c := range r.Commands {
				got = append(got, wantCmd{c.Line, strings.Join(c.Args, " "), c.Header, len(c.Headers)})
			}
			if !reflect.DeepEqual(got, tc.cmds) {
				t.Errorf("commands\n got %+v\nwant %+v", got, tc.cmds)
			}
			var kinds []string
			for _, p := range r.Problems {
				kinds = append(kinds, p.Kind)
			}
			if !reflect.DeepEqual(kinds, tc.problems) {
				t.Errorf("problems %v, want %v\n%s", kinds, tc.problems, strings.Join(r.ProblemStrings(), "\n"))
			}
		})
	}
}

func TestSplitWords(t *testing.T) {
	tests := []struct {
		in, tail string
		words    []string
	}{
		{`get vm -o jsonpath="{.status.x}"  | jq`, "| jq", []string{"get", "vm", "-o", "jsonpath={.status.x}"}},
		{`label vm x app=nginx # note`, "# note", []string{"label", "vm", "x", "app=nginx"}},
		{`get vm a\ b > out.txt`, "> out.txt", []string{"get", "vm", "a b"}},
		{`annotate vm x t=$(date +%s)`, "", []string{"annotate", "vm", "x", fmt.Sprintf("t=%d", DateSeconds)}},
		{`apply -f - <<"EOF"`, `<<"EOF"`, []string{"apply", "-f", "-"}},
	}
	for _, tc := range tests {
		w := splitWords(tc.in)
		if !reflect.DeepEqual(w.words, tc.words) || w.tail != tc.tail {
			t.Errorf("splitWords(%q) = %q tail %q; want %q tail %q", tc.in, w.words, w.tail, tc.words, tc.tail)
		}
	}
}

func TestUnique(t *testing.T) {
	doc := func(file, lang, y string) Manifest {
		return Manifest{File: file, Lang: lang, YAML: []byte(y)}
	}
	ms := []Manifest{
		doc("001", "ru", "apiVersion: v1\nkind: A\nmetadata:\n  name: a # имя\n"),
		doc("002", "ru", "apiVersion: v1\nkind: B\nmetadata: {name: b}\n"),
		doc("003", "en", "kind: A\napiVersion: v1\nmetadata:\n    name: \"a\"   # the name\n"),
		doc("004", "en", "apiVersion: v1\nkind: A\nmetadata:\n  name: a2\n"),
		doc("005", "en", "apiVersion: v1\nkind:   A\nmetadata:\n  name: a\n"),
		doc("006", "ru", "apiVersion: v1\nkind: B\nmetadata:\n  name: b\n"),
	}
	var got []string
	for _, m := range Unique(ms) {
		got = append(got, m.File)
	}
	// A's English copy (003) replaces the Russian one (001); B has no English copy, the first
	// Russian one stays; 005 repeats 003.
	if want := []string{"002", "003", "004"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Unique kept %v, want %v", got, want)
	}
	if Unique(nil) == nil || len(Unique(nil)) != 0 {
		t.Error("Unique(nil) should be empty")
	}
}
