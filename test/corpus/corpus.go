// Package corpus holds manifests that break (or satisfy) one validation rule each. The
// validation unit tests and the server's integration tests both run them, so every rule of
// the API reference is proven on the Go functions and through the HTTP API.
//
// A case is a YAML file in validation/<kind>/ (kind in lower case). Its leading comments set:
//
//	# expect: spec.cpu.cores   field path of the expected Invalid error; absent: must pass
//	# op: create|update|status  default create
//	# malformed: true            the (last) document does not decode: the server answers 400
//
// create has one document. update has the old object (its status, if any, is written through
// /status first) and then the new one. status has the object and then the same object with
// the new status to write through /status.
package corpus

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

//go:embed validation
var files embed.FS

// Op is the API call a case makes.
type Op string

const (
	OpCreate Op = "create"
	OpUpdate Op = "update"
	OpStatus Op = "status"
)

// Case is one manifest file.
type Case struct {
	Name   string // file name without .yaml
	Kind   string // directory name
	Op     Op
	Expect string // field path of the expected error; empty for a valid case
	// Malformed cases do not decode (e.g. a quantity that does not parse): 400 BadRequest.
	Malformed bool
	Docs      [][]byte // YAML documents in order
}

// Kinds lists the kind directories that have cases.
func Kinds() ([]string, error) {
	entries, err := fs.ReadDir(files, "validation")
	if err != nil {
		return nil, err
	}
	var kinds []string
	for _, e := range entries {
		if e.IsDir() {
			kinds = append(kinds, e.Name())
		}
	}
	return kinds, nil
}

// Load reads every case of a kind, sorted by name.
func Load(kind string) ([]Case, error) {
	dir := path.Join("validation", kind)
	entries, err := fs.ReadDir(files, dir)
	if err != nil {
		return nil, err
	}
	var cases []Case
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		data, err := files.ReadFile(path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		c, err := parse(kind, strings.TrimSuffix(e.Name(), ".yaml"), data)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", dir, e.Name(), err)
		}
		cases = append(cases, c)
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].Name < cases[j].Name })
	return cases, nil
}

func parse(kind, name string, data []byte) (Case, error) {
	c := Case{Name: name, Kind: kind, Op: OpCreate}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, "#")), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(key) {
		case "expect":
			c.Expect = strings.TrimSpace(value)
		case "op":
			c.Op = Op(strings.TrimSpace(value))
		case "malformed":
			c.Malformed = strings.TrimSpace(value) == "true"
		}
	}
	for _, doc := range bytes.Split(data, []byte("\n---")) {
		if len(bytes.TrimSpace(stripComments(doc))) > 0 {
			c.Docs = append(c.Docs, doc)
		}
	}
	want := 1
	switch c.Op {
	case OpCreate:
	case OpUpdate, OpStatus:
		want = 2
	default:
		return c, fmt.Errorf("unknown op %q", c.Op)
	}
	if len(c.Docs) != want {
		return c, fmt.Errorf("op %s needs %d documents, has %d", c.Op, want, len(c.Docs))
	}
	return c, nil
}

func stripComments(doc []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line)
		}
	}
	return bytes.Join(out, []byte("\n"))
}
