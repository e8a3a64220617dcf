// Package seeds reads the user documentation kept in ../shared/seeds (markdown saved as
// *.txt, English and Russian) and extracts what end-to-end tests can replay against a real
// stack:
//
//   - every YAML manifest, from `d8 k apply -f - <<EOF` / `kubectl create -f - <<EOF` heredocs
//     (in any code block, or in plain text when a seed has no fences) and from ```yaml blocks
//     that carry apiVersion and kind. Multi-document YAML is split on `---`. Snippets without
//     apiVersion/kind (`spec:` fragments) are counted, not returned as manifests.
//   - every `d8 k ...` / `kubectl ...` command line (`d8 k` becomes kubectl), and for `get`
//     commands the column header of the example output printed after them.
//
// Heredocs whose delimiter is not quoted are expanded as the shell would, with fixed values:
// `$(date +%s)` becomes DateSeconds. Expansions that cannot be computed offline (`$VAR`,
// `${VAR}`, other `$(...)`) are left as written and reported.
package seeds

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"sigs.k8s.io/yaml"
)

// ModulePath is the module whose root holds go.mod; the seeds sit beside that root.
const ModulePath = "github.com/virtplane/virtplane"

// DateSeconds replaces `$(date +%s)`. It is the suffix the user guide itself shows for the
// snapshot made with `name: linux-vm-root-$(date +%s)` (004: the restore example refers to
// `linux-vm-root-1728027905`), so the expanded documents refer to each other consistently.
const DateSeconds = 1728027905

// Manifest is one YAML document that has apiVersion and kind.
type Manifest struct {
	File       string // base name of the seed file
	Line       int    // 1-based line of the document's first content line (usually apiVersion:)
	Lang       string // "en" or "ru"
	Kind       string
	APIVersion string
	Name       string // metadata.name after shell expansion; may be empty when GenerateName is set
	YAML       []byte // the document after dedenting and shell expansion
	Shell      string // the command that feeds it, e.g. "d8 k apply -f - <<EOF"; "" for a ```yaml block

	GenerateName string
	Namespace    string   // metadata.namespace as written (may be a placeholder)
	Source       string   // "heredoc" or "yaml"
	Substituted  []string // expansions made, e.g. "$(date +%s)=1728027905"
	Unevaluated  []string // shell expressions left as written
	Placeholders []string // <angle-bracket> placeholders in the text, e.g. "<username>"
	Err          string   // set only on Result.Unparsable entries: the YAML error
}

// Group is the API group of APIVersion ("" for the core group).
func (m Manifest) Group() string {
	if i := strings.LastIndex(m.APIVersion, "/"); i >= 0 {
		return m.APIVersion[:i]
	}
	return ""
}

// Pos is "file:line".
func (m Manifest) Pos() string { return fmt.Sprintf("%s:%d", m.File, m.Line) }

// Fragment is a YAML document without apiVersion/kind, such as a `spec:` snippet.
type Fragment struct {
	File string
	Line int
	Lang string
	Keys []string // top-level keys, when it parses as a mapping
	Err  string   // the YAML error, when it does not parse
}

// Command is one kubectl command line from a code block (or from plain text in a seed that
// has no fences).
type Command struct {
	File   string
	Line   int
	Lang   string
	Text   string   // the line as written; backslash continuations joined
	Prefix string   // "d8 k" or "kubectl"; "k" and "d k" are read as kubectl and reported
	Args   []string // kubectl arguments, without "kubectl"
	Verb   string   // first argument that is not a global flag: get, apply, patch, ...
	Tail   string   // what follows the kubectl words: "| jq", "<<EOF", ...

	Heredoc string // delimiter of a heredoc fed to the command
	Stdin   []byte // the heredoc body after expansion

	// For `get` commands with table output: the first column-header line of the example
	// output (whitespace collapsed, `#` prefix stripped), every header line of that output
	// (a `get vi,vd,vm` prints three tables) and where the first one is.
	Header     string
	Headers    []string
	HeaderLine int

	Placeholders []string // <angle-bracket> arguments such as "<vm-name>"
	Unevaluated  []string
}

// Argv is the command as kubectl's argv.
func (c Command) Argv() []string { return append([]string{"kubectl"}, c.Args...) }

// Pos is "file:line".
func (c Command) Pos() string { return fmt.Sprintf("%s:%d", c.File, c.Line) }

// Output is the -o/--output value ("" when none).
func (c Command) Output() string {
	for i, a := range c.Args {
		switch {
		case a == "-o" || a == "--output":
			if i+1 < len(c.Args) {
				return c.Args[i+1]
			}
		case strings.HasPrefix(a, "--output="):
			return strings.TrimPrefix(a, "--output=")
		case strings.HasPrefix(a, "-o") && len(a) > 2:
			return strings.TrimPrefix(strings.TrimPrefix(a, "-o"), "=")
		}
	}
	return ""
}

// Problem kinds.
const (
	ProblemUnparsable         = "unparsable"          // a document with apiVersion/kind that is not YAML
	ProblemUnparsableFragment = "unparsable-fragment" // a snippet without apiVersion/kind that is not YAML
	ProblemDuplicateKey       = "duplicate-key"       // parses, but a strict decoder refuses it
	ProblemUnevaluated        = "unevaluated"         // a shell expansion left as written
	ProblemPlaceholder        = "placeholder"         // <...> text a reader has to replace
	ProblemUnterminated       = "unterminated"        // heredoc without its delimiter, fence without its closing fence
	ProblemQuotes             = "unbalanced-quotes"   // a command line whose quotes do not pair
	ProblemAlias              = "alias"               // `k ...` / `d k ...` read as kubectl
)

// Problem is something in a seed that a test cannot take literally.
type Problem struct {
	File   string
	Line   int
	Kind   string
	Detail string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, p.Kind, p.Detail)
}

// Result is everything Scan found.
type Result struct {
	Manifests  []Manifest // documents with apiVersion and kind that parse
	Unparsable []Manifest // documents with apiVersion and kind that do not parse (Err is set)
	Fragments  []Fragment
	Commands   []Command
	Problems   []Problem
}

// ProblemStrings renders Problems one per line.
func (r *Result) ProblemStrings() []string {
	out := make([]string, len(r.Problems))
	for i, p := range r.Problems {
		out[i] = p.String()
	}
	return out
}

// Dir finds the seeds directory: $SEEDS_DIR when set, else ../shared/seeds beside the
// repository root, the nearest directory above this source file whose go.mod declares
// ModulePath.
func Dir() (string, error) {
	if d := os.Getenv("SEEDS_DIR"); d != "" {
		return checkDir(d)
	}
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("seeds: runtime.Caller failed")
	}
	root, err := moduleRoot(filepath.Dir(self))
	if err != nil {
		return "", err
	}
	return checkDir(filepath.Join(filepath.Dir(root), "shared", "seeds"))
}

func checkDir(d string) (string, error) {
	st, err := os.Stat(d)
	if err != nil {
		return "", fmt.Errorf("seeds: %w", err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("seeds: %s is not a directory", d)
	}
	return filepath.Clean(d), nil
}

func moduleRoot(dir string) (string, error) {
	for d := dir; ; {
		if data, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && declaresModule(data, ModulePath) {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("seeds: no go.mod for %s above %s", ModulePath, dir)
		}
		d = parent
	}
}

func declaresModule(gomod []byte, path string) bool {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`) == path
		}
	}
	return false
}

// Files lists the seed files of dir (*.txt and *.md), sorted.
func Files(dir string) ([]string, error) {
	var files []string
	for _, pat := range []string{"*.txt", "*.md"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return nil, err
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("seeds: no *.txt or *.md files in %s", dir)
	}
	sort.Strings(files)
	return files, nil
}

// Scan parses every seed file of dir.
func Scan(dir string) (*Result, error) {
	files, err := Files(dir)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		r := Parse(filepath.Base(f), data)
		res.Manifests = append(res.Manifests, r.Manifests...)
		res.Unparsable = append(res.Unparsable, r.Unparsable...)
		res.Fragments = append(res.Fragments, r.Fragments...)
		res.Commands = append(res.Commands, r.Commands...)
		res.Problems = append(res.Problems, r.Problems...)
	}
	return res, nil
}

// Load returns the manifests of every seed in dir and the problems found (see Problem), one
// "file:line: kind: detail" string each. The error is for I/O only.
func Load(dir string) ([]Manifest, []string, error) {
	r, err := Scan(dir)
	if err != nil {
		return nil, nil, err
	}
	return r.Manifests, r.ProblemStrings(), nil
}

// Commands returns every kubectl command line of the seeds in dir.
func Commands(dir string) ([]Command, error) {
	r, err := Scan(dir)
	if err != nil {
		return nil, err
	}
	return r.Commands, nil
}

// Unique drops the documents whose content repeats an earlier one. Documents are compared
// as parsed data, so whitespace, comments (which are translated in the Russian seeds),
// quoting and key order do not matter. Of equal documents the first English one is kept,
// else the first; the kept ones stay in input order.
func Unique(ms []Manifest) []Manifest {
	chosen := map[string]int{} // key -> index in ms
	var order []string
	for i, m := range ms {
		k := canonical(m.YAML)
		j, seen := chosen[k]
		switch {
		case !seen:
			chosen[k] = i
			order = append(order, k)
		case ms[j].Lang != "en" && m.Lang == "en":
			chosen[k] = i
		}
	}
	idx := make([]int, 0, len(order))
	for _, k := range order {
		idx = append(idx, chosen[k])
	}
	sort.Ints(idx)
	out := make([]Manifest, 0, len(idx))
	for _, i := range idx {
		out = append(out, ms[i])
	}
	return out
}

// canonical is the document as sorted-key JSON, or its whitespace-collapsed text when it does
// not parse.
func canonical(doc []byte) string {
	var v interface{}
	if err := yaml.Unmarshal(doc, &v); err == nil {
		if j, err := json.Marshal(v); err == nil {
			return string(j)
		}
	}
	return "text:" + strings.Join(strings.Fields(string(doc)), " ")
}

// ---------------------------------------------------------------------------------------
// Markdown

type line struct {
	n    int // 1-based line number in the file
	text string
}

// segment is a fenced code block or a run of text between fences.
type segment struct {
	fenced bool
	lang   string // normalized info string ("yaml", "bash", "" ...)
	open   int    // line of the opening fence
	lines  []line
	items  []item // shell view of the lines (shell segments only)
	shell  bool
}

type itemKind int

const (
	itemBlank   itemKind = iota
	itemComment          // a line starting with '#'
	itemText             // anything else: output, prose, a non-kubectl command
	itemCommand          // a kubectl command (index into parser.cmds)
)

type item struct {
	kind itemKind
	n    int
	text string
	cmd  int
}

var fenceRe = regexp.MustCompile("^( *)(`{3,}|~{3,})(.*)$")

func splitSegments(text string) (segs []segment, unclosed []int) {
	raw := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	i := 0
	if len(raw) > 0 && strings.TrimSpace(raw[0]) == "---" { // front matter
		for j := 1; j < len(raw); j++ {
			if t := strings.TrimSpace(raw[j]); t == "---" || t == "..." {
				i = j + 1
				break
			}
		}
	}
	var prose *segment
	for ; i < len(raw); i++ {
		m := fenceRe.FindStringSubmatch(raw[i])
		if m == nil || (m[2][0] == '`' && strings.Contains(m[3], "`")) {
			if prose == nil {
				segs = append(segs, segment{})
				prose = &segs[len(segs)-1]
			}
			prose.lines = append(prose.lines, line{i + 1, raw[i]})
			continue
		}
		prose = nil
		indent, fence := len(m[1]), m[2]
		seg := segment{fenced: true, lang: normLang(m[3]), open: i + 1}
		closed := false
		for i++; i < len(raw); i++ {
			t := strings.TrimSpace(raw[i])
			if strings.HasPrefix(t, fence[:3]) && strings.Trim(t, fence[:1]) == "" && len(t) >= len(fence) {
				closed = true
				break
			}
			seg.lines = append(seg.lines, line{i + 1, stripIndent(raw[i], indent)})
		}
		if !closed {
			unclosed = append(unclosed, seg.open)
		}
		segs = append(segs, seg)
	}
	return segs, unclosed
}

// stripIndent removes up to n leading spaces, as CommonMark does for fenced content.
func stripIndent(s string, n int) string {
	i := 0
	for i < n && i < len(s) && s[i] == ' ' {
		i++
	}
	return s[i:]
}

func normLang(info string) string {
	f := strings.Fields(info)
	if len(f) == 0 {
		return ""
	}
	return strings.ToLower(strings.TrimRightFunc(f[0], func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}))
}

func isYAMLLang(l string) bool { return l == "yaml" || l == "yml" }

func isOutputLang(l string) bool {
	switch l {
	case "console", "text", "txt", "output", "plaintext", "plain", "log":
		return true
	}
	return false
}

// detectLang reads `lang:` from the front matter, else compares Cyrillic and Latin letters
// in the prose.
func detectLang(text string, segs []segment) string {
	if strings.HasPrefix(text, "---") {
		for _, l := range strings.Split(text, "\n")[1:] {
			t := strings.TrimSpace(l)
			if t == "---" {
				break
			}
			if v, ok := strings.CutPrefix(t, "lang:"); ok {
				return strings.Trim(strings.TrimSpace(v), `"'`)
			}
		}
	}
	var cyr, lat int
	for _, s := range segs {
		if s.fenced {
			continue
		}
		for _, l := range s.lines {
			for _, r := range l.text {
				switch {
				case unicode.Is(unicode.Cyrillic, r):
					cyr++
				case r < unicode.MaxASCII && unicode.IsLetter(r):
					lat++
				}
			}
		}
	}
	if cyr*2 > lat {
		return "ru"
	}
	return "en"
}

// ---------------------------------------------------------------------------------------
// Parsing one file

type parser struct {
	file string
	lang string
	res  Result
}

// Parse extracts manifests, fragments, commands and problems from one markdown text; name is
// used as Manifest.File and Command.File.
func Parse(name string, data []byte) *Result {
	text := string(data)
	segs, unclosed := splitSegments(text)
	p := &parser{file: name, lang: detectLang(text, segs)}
	for _, n := range unclosed {
		p.problem(n, ProblemUnterminated, "code fence is never closed")
	}
	for i := range segs {
		s := &segs[i]
		switch {
		case s.fenced && isOutputLang(s.lang):
		case s.fenced && isYAMLLang(s.lang) && !hasCommand(s.lines):
			p.documents(s.lines, "", "yaml", nil, nil)
		default:
			s.shell = true
			p.shellSegment(s)
		}
	}
	p.headers(segs)
	sort.SliceStable(p.res.Problems, func(i, j int) bool { return p.res.Problems[i].Line < p.res.Problems[j].Line })
	return &p.res
}

func (p *parser) problem(n int, kind, format string, args ...interface{}) {
	p.res.Problems = append(p.res.Problems, Problem{File: p.file, Line: n, Kind: kind, Detail: fmt.Sprintf(format, args...)})
}

var (
	cmdRe         = regexp.MustCompile(`^(?:\$\s+)?(d8\s+k|kubectl|d\s+k|k)(?:\s+|$)`)
	heredocRe     = regexp.MustCompile(`(?:^|[^<])<<(-?)[ \t]*(?:'([^']*)'|"([^"]*)"|(\\?)([A-Za-z_][A-Za-z0-9_]*))`)
	placeholderRe = regexp.MustCompile(`<[A-Za-z][A-Za-z0-9 _.-]*>`)
	headerWordRe  = regexp.MustCompile(`^[A-Z][A-Z0-9_-]*$`)
	docSepRe      = regexp.MustCompile(`^---(\s|$)`)
)

// kubectlPrefix returns the normalized prefix of a kubectl command line and the text after it.
// strict admits only "d8 k" and "kubectl" (used for text outside code blocks).
func kubectlPrefix(s string, strict bool) (prefix, rest string, ok bool) {
	m := cmdRe.FindStringSubmatchIndex(s)
	if m == nil {
		return "", "", false
	}
	prefix = strings.Join(strings.Fields(s[m[2]:m[3]]), " ")
	if strict && prefix != "d8 k" && prefix != "kubectl" {
		return "", "", false
	}
	return prefix, s[m[1]:], true
}

func hasCommand(ls []line) bool {
	for _, l := range ls {
		t := strings.TrimSpace(l.text)
		if _, _, ok := kubectlPrefix(t, true); ok {
			return true
		}
		if findHeredoc(t) != nil {
			return true
		}
	}
	return false
}

type heredoc struct {
	delim  string
	quoted bool // no expansion in the body
	dash   bool // <<- strips leading tabs
}

func findHeredoc(s string) *heredoc {
	m := heredocRe.FindStringSubmatch(s)
	if m == nil {
		return nil
	}
	h := &heredoc{dash: m[1] == "-"}
	switch {
	case m[2] != "" || strings.Contains(m[0], "<<'") || strings.Contains(m[0], "<< '"):
		h.delim, h.quoted = m[2], true
	case m[3] != "" || strings.Contains(m[0], `<<"`) || strings.Contains(m[0], `<< "`):
		h.delim, h.quoted = m[3], true
	default:
		h.delim, h.quoted = m[5], m[4] != ""
	}
	if h.delim == "" {
		return nil
	}
	return h
}

func endsWithBackslash(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// shellSegment reads a code block (or prose) line by line as a shell would: commands,
// comments, heredoc bodies.
func (p *parser) shellSegment(s *segment) {
	strict := !s.fenced
	ls := s.lines
	for i := 0; i < len(ls); i++ {
		t := strings.TrimSpace(ls[i].text)
		start := ls[i].n
		switch {
		case t == "":
			s.items = append(s.items, item{kind: itemBlank, n: start})
			continue
		case strings.HasPrefix(t, "#"):
			s.items = append(s.items, item{kind: itemComment, n: start, text: t})
			continue
		}
		prefix, rest, isCmd := kubectlPrefix(t, strict)
		if isCmd {
			for endsWithBackslash(t) && i+1 < len(ls) {
				i++
				t = strings.TrimSpace(strings.TrimSuffix(t, `\`)) + " " + strings.TrimSpace(ls[i].text)
			}
			_, rest, _ = kubectlPrefix(t, strict)
		}
		var hd *heredoc
		if isCmd || s.fenced {
			hd = findHeredoc(t)
		}
		var body []line
		if hd != nil {
			var ok bool
			body, i, ok = heredocBody(ls, i+1, hd)
			if !ok {
				p.problem(start, ProblemUnterminated, "heredoc %q has no closing %s line", t, hd.delim)
			}
		}
		if !isCmd {
			s.items = append(s.items, item{kind: itemText, n: start, text: t})
			continue
		}
		c := p.command(start, t, prefix, rest)
		if hd != nil {
			c.Heredoc = hd.delim
			exp, subs, unev := body, []string(nil), []expr(nil)
			if !hd.quoted {
				exp, subs, unev = expandLines(body)
				for _, u := range unev {
					where := ""
					if u.comment {
						where = " (inside a YAML comment)"
					}
					p.problem(u.n, ProblemUnevaluated, "%s left as written in the heredoc of %q%s", u.text, t, where)
				}
			}
			c.Stdin = []byte(joinLines(dedent(exp)))
			p.documents(exp, t, "heredoc", subs, unev)
		}
		s.items = append(s.items, item{kind: itemCommand, n: start, text: t, cmd: len(p.res.Commands)})
		p.res.Commands = append(p.res.Commands, c)
	}
}

// heredocBody returns the lines from ls[from] up to the delimiter line, and the index of the
// delimiter line (or of the last line when there is none). The delimiter is matched on the
// trimmed line: markdown indentation is not the shell's.
func heredocBody(ls []line, from int, h *heredoc) ([]line, int, bool) {
	var body []line
	for j := from; j < len(ls); j++ {
		t := ls[j].text
		if strings.TrimSpace(t) == h.delim {
			return body, j, true
		}
		if h.dash {
			t = strings.TrimLeft(t, "\t")
		}
		body = append(body, line{ls[j].n, t})
	}
	return body, len(ls) - 1, false
}

func (p *parser) command(n int, text, prefix, rest string) Command {
	c := Command{File: p.file, Line: n, Lang: p.lang, Text: text, Prefix: prefix}
	w := splitWords(rest)
	c.Args, c.Tail, c.Placeholders, c.Unevaluated = w.words, w.tail, w.placeholders, w.unevaluated
	c.Verb = verb(c.Args)
	if prefix != "d8 k" && prefix != "kubectl" {
		p.problem(n, ProblemAlias, "%q starts with %q, read as kubectl", text, prefix)
	}
	if !quotesBalanced(text) {
		p.problem(n, ProblemQuotes, "%q", text)
	}
	for _, u := range c.Unevaluated {
		p.problem(n, ProblemUnevaluated, "%s left as written in %q", u, text)
	}
	for _, ph := range c.Placeholders {
		p.problem(n, ProblemPlaceholder, "%s in %q", ph, text)
	}
	return c
}

// verb skips kubectl's global flags that take a value.
func verb(args []string) string {
	valued := map[string]bool{"-n": true, "--namespace": true, "--context": true, "--kubeconfig": true,
		"--cluster": true, "--user": true, "-s": true, "--server": true, "--as": true, "--token": true}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if valued[a] {
			i++
			continue
		}
		if !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return ""
}

// ---------------------------------------------------------------------------------------
// Shell words and expansion

type words struct {
	words, placeholders, unevaluated []string
	tail                             string
}

// splitWords splits a command line into words like the shell, up to the first unquoted
// operator (| ; & > <, a comment or a heredoc), which starts the tail. `<name>` placeholders
// are kept as words. `$(date +%s)` is expanded; other expansions stay as written.
func splitWords(s string) words {
	var w words
	var cur strings.Builder
	in := false
	end := func() {
		if in {
			w.words = append(w.words, cur.String())
			cur.Reset()
			in = false
		}
	}
	i := 0
loop:
	for i < len(s) {
		ch := s[i]
		switch {
		case ch == ' ' || ch == '\t':
			end()
			i++
		case ch == '\'':
			in = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				cur.WriteString(s[i+1:])
				i = len(s)
				break
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 2
		case ch == '"':
			in = true
			i++
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					cur.WriteByte(s[i+1])
					i += 2
					continue
				}
				if s[i] == '$' || s[i] == '`' {
					if text, val, n, ok := expansion(s[i:]); n > 0 {
						if ok {
							cur.WriteString(val)
						} else {
							cur.WriteString(text)
							w.unevaluated = append(w.unevaluated, text)
						}
						i += n
						continue
					}
				}
				cur.WriteByte(s[i])
				i++
			}
			i++ // closing quote
		case ch == '\\' && i+1 < len(s):
			in = true
			cur.WriteByte(s[i+1])
			i += 2
		case ch == '<':
			if ph := placeholderRe.FindString(s[i:]); !in && ph != "" && strings.HasPrefix(s[i:], ph) {
				in = true
				cur.WriteString(ph)
				w.placeholders = append(w.placeholders, ph)
				i += len(ph)
				break
			}
			end()
			w.tail = strings.TrimSpace(s[i:])
			break loop
		case ch == '|' || ch == ';' || ch == '&' || ch == '>' || (ch == '#' && !in):
			end()
			w.tail = strings.TrimSpace(s[i:])
			break loop
		case ch == '$' || ch == '`':
			in = true
			if text, val, n, ok := expansion(s[i:]); n > 0 {
				if ok {
					cur.WriteString(val)
				} else {
					cur.WriteString(text)
					w.unevaluated = append(w.unevaluated, text)
				}
				i += n
				break
			}
			cur.WriteByte(ch)
			i++
		default:
			in = true
			cur.WriteByte(ch)
			i++
		}
	}
	end()
	return w
}

// quotesBalanced reports whether every quote of s is closed.
func quotesBalanced(s string) bool {
	var q byte
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case q == 0 && ch == '\\':
			i++
		case q == 0 && (ch == '\'' || ch == '"'):
			q = ch
		case q == '"' && ch == '\\':
			i++
		case q != 0 && ch == q:
			q = 0
		}
	}
	return q == 0
}

// expansion reads the expansion at the start of s ($(...), `...`, ${...}, $NAME, $1, $?).
// It returns the text as written, its value when it can be computed, the length consumed
// (0 when s does not start an expansion) and whether the value is known.
func expansion(s string) (text, val string, n int, ok bool) {
	if s == "" {
		return "", "", 0, false
	}
	if s[0] == '`' {
		j := strings.IndexByte(s[1:], '`')
		if j < 0 {
			return s, "", len(s), false
		}
		text = s[:j+2]
		val, ok = evalCommand(s[1 : j+1])
		return text, val, len(text), ok
	}
	if s[0] != '$' || len(s) < 2 {
		return "", "", 0, false
	}
	switch c := s[1]; {
	case c == '(':
		depth, q := 0, byte(0)
		for i := 1; i < len(s); i++ {
			switch ch := s[i]; {
			case q != 0:
				if ch == q {
					q = 0
				}
			case ch == '\'' || ch == '"':
				q = ch
			case ch == '(':
				depth++
			case ch == ')':
				depth--
				if depth == 0 {
					text = s[:i+1]
					if strings.HasPrefix(text, "$((") { // arithmetic
						return text, "", len(text), false
					}
					val, ok = evalCommand(s[2:i])
					return text, val, len(text), ok
				}
			}
		}
		return s, "", len(s), false
	case c == '{':
		j := strings.IndexByte(s, '}')
		if j < 0 {
			return s, "", len(s), false
		}
		return s[:j+1], "", j + 1, false
	case c == '_' || unicode.IsLetter(rune(c)):
		j := 2
		for j < len(s) && (s[j] == '_' || unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j]))) {
			j++
		}
		return s[:j], "", j, false
	case unicode.IsDigit(rune(c)) || strings.IndexByte("?#$!@*-", c) >= 0:
		return s[:2], "", 2, false
	}
	return "", "", 0, false
}

// evalCommand computes the few command substitutions with a fixed answer.
func evalCommand(cmd string) (string, bool) {
	f := strings.Fields(cmd)
	if len(f) == 2 && f[0] == "date" && strings.Trim(f[1], `'"`) == "+%s" {
		return strconv.Itoa(DateSeconds), true
	}
	return "", false
}

type expr struct {
	n       int
	text    string
	comment bool // inside a YAML comment, where it changes no value
}

// expandLines expands an unquoted heredoc body: \$ \` \\ escapes, backslash-newline joins,
// $(date +%s); everything else that the shell would expand is kept and returned in unev.
func expandLines(body []line) (out []line, subs []string, unev []expr) {
	for i := 0; i < len(body); i++ {
		n, s := body[i].n, body[i].text
		for endsWithBackslash(s) && i+1 < len(body) {
			i++
			s = s[:len(s)-1] + body[i].text
		}
		var b strings.Builder
		for j := 0; j < len(s); {
			ch := s[j]
			if ch == '\\' && j+1 < len(s) && strings.IndexByte("$`\\", s[j+1]) >= 0 {
				b.WriteByte(s[j+1])
				j += 2
				continue
			}
			if ch == '$' || ch == '`' {
				if text, val, k, ok := expansion(s[j:]); k > 0 {
					if ok {
						b.WriteString(val)
						subs = append(subs, text+"="+val)
					} else {
						b.WriteString(text)
						unev = append(unev, expr{n, text, inComment(s[:j])})
					}
					j += k
					continue
				}
			}
			b.WriteByte(ch)
			j++
		}
		out = append(out, line{n, b.String()})
	}
	return out, subs, unev
}

// inComment reports whether a YAML line that starts with prefix is inside a comment by now.
func inComment(prefix string) bool {
	t := strings.TrimSpace(prefix)
	return strings.HasPrefix(t, "#") || strings.Contains(prefix, " #") || strings.Contains(prefix, "\t#")
}

// ---------------------------------------------------------------------------------------
// YAML documents

func dedent(ls []line) []line {
	min := -1
	for _, l := range ls {
		if strings.TrimSpace(l.text) == "" {
			continue
		}
		ind := len(l.text) - len(strings.TrimLeft(l.text, " "))
		if min < 0 || ind < min {
			min = ind
		}
	}
	out := make([]line, len(ls))
	for i, l := range ls {
		if strings.TrimSpace(l.text) == "" {
			out[i] = line{l.n, ""}
		} else {
			out[i] = line{l.n, l.text[min:]}
		}
	}
	return out
}

func joinLines(ls []line) string {
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(strings.TrimRight(l.text, " \t"))
		b.WriteByte('\n')
	}
	return b.String()
}

// documents splits a YAML text on `---` and classifies each document.
func (p *parser) documents(ls []line, shell, source string, subs []string, unev []expr) {
	ls = dedent(ls)
	var cur []line
	flush := func() {
		doc := cur
		cur = nil
		first := -1
		for i, l := range doc {
			if t := strings.TrimSpace(l.text); t != "" && !strings.HasPrefix(t, "#") {
				first = i
				break
			}
		}
		if first < 0 {
			return
		}
		doc = doc[first:]
		for len(doc) > 0 && strings.TrimSpace(doc[len(doc)-1].text) == "" {
			doc = doc[:len(doc)-1]
		}
		p.classify(doc, shell, source, subs, unev)
	}
	for _, l := range ls {
		if docSepRe.MatchString(l.text) {
			flush()
			continue
		}
		cur = append(cur, l)
	}
	flush()
}

var topFieldRe = map[string]*regexp.Regexp{
	"apiVersion": regexp.MustCompile(`(?m)^apiVersion:[ \t]*["']?([^"'#\s]+)`),
	"kind":       regexp.MustCompile(`(?m)^kind:[ \t]*["']?([^"'#\s]+)`),
	"name":       regexp.MustCompile(`(?m)^[ \t]+name:[ \t]*["']?([^"'#\n]*[^"'#\s])`),
}

func topField(doc []byte, field string) string {
	if m := topFieldRe[field].FindSubmatch(doc); m != nil {
		return string(m[1])
	}
	return ""
}

func (p *parser) classify(doc []line, shell, source string, subs []string, unev []expr) {
	text := joinLines(doc)
	data := []byte(text)
	start, last := doc[0].n, doc[len(doc)-1].n
	var v interface{}
	err := yaml.Unmarshal(data, &v)
	obj, _ := v.(map[string]interface{})
	if err != nil {
		av, kd := topField(data, "apiVersion"), topField(data, "kind")
		if av == "" || kd == "" {
			p.res.Fragments = append(p.res.Fragments, Fragment{File: p.file, Line: start, Lang: p.lang, Err: err.Error()})
			p.problem(start, ProblemUnparsableFragment, "%v", err)
			return
		}
		m := Manifest{File: p.file, Line: start, Lang: p.lang, Kind: kd, APIVersion: av,
			Name: topField(data, "name"), YAML: data, Shell: shell, Source: source, Err: err.Error()}
		p.res.Unparsable = append(p.res.Unparsable, m)
		p.problem(start, ProblemUnparsable, "%s %s: %v", kd, m.Name, err)
		return
	}
	av, _ := obj["apiVersion"].(string)
	kd, _ := obj["kind"].(string)
	if av == "" || kd == "" {
		f := Fragment{File: p.file, Line: start, Lang: p.lang}
		for k := range obj {
			f.Keys = append(f.Keys, k)
		}
		sort.Strings(f.Keys)
		p.res.Fragments = append(p.res.Fragments, f)
		return
	}
	m := Manifest{File: p.file, Line: start, Lang: p.lang, Kind: kd, APIVersion: av, YAML: data, Shell: shell, Source: source}
	if meta, ok := obj["metadata"].(map[string]interface{}); ok {
		m.Name, _ = meta["name"].(string)
		m.GenerateName, _ = meta["generateName"].(string)
		m.Namespace, _ = meta["namespace"].(string)
	}
	for _, s := range subs {
		if !contains(m.Substituted, s) {
			m.Substituted = append(m.Substituted, s)
		}
	}
	for _, u := range unev {
		if u.n >= start && u.n <= last {
			m.Unevaluated = append(m.Unevaluated, u.text)
		}
	}
	for _, ph := range placeholderRe.FindAllString(text, -1) {
		if !contains(m.Placeholders, ph) {
			m.Placeholders = append(m.Placeholders, ph)
		}
	}
	if hasEllipsis(obj) {
		m.Placeholders = append(m.Placeholders, "...")
	}
	if len(m.Placeholders) > 0 {
		p.problem(start, ProblemPlaceholder, "%s %s: %s", kd, m.Name, strings.Join(m.Placeholders, ", "))
	}
	var strict interface{}
	if err := yaml.UnmarshalStrict(data, &strict); err != nil {
		p.problem(start, ProblemDuplicateKey, "%s %s: %v", kd, m.Name, err)
	}
	p.res.Manifests = append(p.res.Manifests, m)
}

// hasEllipsis reports whether v holds "..." as a value or a key, the way the seeds elide
// parts of a spec (`cpu: ...`, `sizingPolicies: { ... }`).
func hasEllipsis(v interface{}) bool {
	switch t := v.(type) {
	case string:
		return strings.TrimSpace(t) == "..."
	case map[string]interface{}:
		for k, x := range t {
			if k == "..." || hasEllipsis(x) {
				return true
			}
		}
	case []interface{}:
		for _, x := range t {
			if hasEllipsis(x) {
				return true
			}
		}
	}
	return false
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------------------
// Example output of get commands

// headerLine returns the column header in s (a `#` prefix stripped, whitespace collapsed):
// two or more upper-case words, or "".
func headerLine(s string) string {
	f := strings.Fields(strings.TrimLeft(strings.TrimSpace(s), "#"))
	if len(f) < 2 {
		return ""
	}
	for _, w := range f {
		if !headerWordRe.MatchString(w) {
			return ""
		}
	}
	return strings.Join(f, " ")
}

func isGet(c Command) bool { return c.Verb == "get" }

// tabular reports whether a get prints a table (no -o, or -o wide).
func tabular(c Command) bool {
	o := c.Output()
	for _, a := range c.Args {
		if a == "--no-headers" || strings.HasPrefix(a, "--no-headers=t") {
			return false
		}
	}
	return o == "" || o == "wide"
}

// headers finds the example output of every tabular get command: the rest of its own block
// after it (comments and further get commands, such as a short-name variant, are skipped),
// else the next code block when that block is output (```console/```txt/``` or a shell block
// with no commands). A block holding only get commands is skipped on the way, as in
// "A shorter version of the command:". In plain text (no fences) the output is the first
// header line before the next command, within a few lines.
func (p *parser) headers(segs []segment) {
	for si := range segs {
		s := &segs[si]
		for j, it := range s.items {
			if it.kind != itemCommand {
				continue
			}
			c := &p.res.Commands[it.cmd]
			if !isGet(*c) || !tabular(*c) {
				continue
			}
			hs, n := p.outputAfter(segs, si, j+1)
			if len(hs) > 0 {
				c.Header, c.Headers, c.HeaderLine = hs[0], hs, n
			}
		}
	}
}

func (p *parser) outputAfter(segs []segment, si, from int) ([]string, int) {
	s := &segs[si]
	seen := 0
	for k := from; k < len(s.items); k++ {
		it := s.items[k]
		switch it.kind {
		case itemBlank:
			continue
		case itemCommand:
			if isGet(p.res.Commands[it.cmd]) {
				continue
			}
			return nil, 0
		}
		if h := headerLine(it.text); h != "" {
			hs := []string{h}
			if s.fenced {
				for _, more := range s.items[k+1:] {
					if more.kind == itemCommand {
						break
					}
					if h := headerLine(more.text); h != "" {
						hs = append(hs, h)
					}
				}
			}
			return hs, it.n
		}
		if it.kind == itemComment {
			continue // "# or shorter"
		}
		if s.fenced {
			return nil, 0 // output without a header
		}
		if seen++; seen > 8 {
			return nil, 0
		}
	}
	// Nothing after the command in its own segment: look at the next code block.
	for sj := si + 1; sj < len(segs); sj++ {
		n := &segs[sj]
		if !n.fenced {
			if hasKubectl(n) {
				return nil, 0
			}
			continue
		}
		if n.shell && hasKubectl(n) {
			if onlyGets(p, n) {
				continue
			}
			return nil, 0
		}
		if !isOutputLang(n.lang) && !(n.shell && n.lang != "") && n.lang != "" {
			return nil, 0 // a yaml block, say
		}
		var hs []string
		first := 0
		for _, l := range n.lines {
			t := strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(l.text), "#"))
			if t == "" {
				continue
			}
			h := headerLine(t)
			if first == 0 {
				if h == "" {
					return nil, 0
				}
				first = l.n
			}
			if h != "" {
				hs = append(hs, h)
			}
		}
		return hs, first
	}
	return nil, 0
}

func hasKubectl(s *segment) bool {
	for _, it := range s.items {
		if it.kind == itemCommand {
			return true
		}
	}
	return false
}

func onlyGets(p *parser, s *segment) bool {
	for _, it := range s.items {
		switch it.kind {
		case itemCommand:
			if !isGet(p.res.Commands[it.cmd]) {
				return false
			}
		case itemText:
			return false
		}
	}
	return true
}
