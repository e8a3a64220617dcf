package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// The value types below accept the spellings cloud-init accepts for the same key, because
// user-data is written by hand: YAML booleans or strings, lists or comma-separated strings.

// stringList is a list of strings, or one string of comma-separated items.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*l = nil
		for _, item := range strings.Split(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				*l = append(*l, item)
			}
		}
		return nil
	}
	var items []any
	if err := json.Unmarshal(b, &items); err != nil {
		return fmt.Errorf("want a string or a list of strings")
	}
	*l = nil
	for _, item := range items {
		*l = append(*l, scalarString(item))
	}
	return nil
}

// flexBool is a boolean, or a string such as "true", "yes", "no".
type flexBool bool

func (v *flexBool) UnmarshalJSON(b []byte) error {
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		return err
	}
	switch t := x.(type) {
	case bool:
		*v = flexBool(t)
	case string:
		switch strings.ToLower(strings.TrimSpace(t)) {
		case "true", "yes", "on", "1":
			*v = true
		case "false", "no", "off", "0", "":
			*v = false
		default:
			return fmt.Errorf("%q is not a boolean", t)
		}
	case nil:
		*v = false
	default:
		return fmt.Errorf("%v is not a boolean", x)
	}
	return nil
}

// flexInt is an integer written as a number or a string.
type flexInt int

func (v *flexInt) UnmarshalJSON(b []byte) error {
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		return err
	}
	switch t := x.(type) {
	case float64:
		*v = flexInt(t)
		return nil
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(t))
		if err != nil {
			return fmt.Errorf("%q is not a number", t)
		}
		*v = flexInt(n)
		return nil
	}
	return fmt.Errorf("%v is not a number", x)
}

// permissions is a file mode: an octal string ("0644", "0o600") or a number that YAML has
// already read as octal (0644 unquoted is 420).
type permissions struct {
	mode os.FileMode
	set  bool
}

func (p *permissions) UnmarshalJSON(b []byte) error {
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		return err
	}
	switch t := x.(type) {
	case float64:
		p.mode, p.set = os.FileMode(int(t))&os.ModePerm, true
	case string:
		s := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(t), "0o"), "0O")
		n, err := strconv.ParseUint(s, 8, 32)
		if err != nil {
			return fmt.Errorf("%q is not an octal mode", t)
		}
		p.mode, p.set = os.FileMode(n)&os.ModePerm, true
	case nil:
	default:
		return fmt.Errorf("%v is not a file mode", x)
	}
	return nil
}

// sudoRules is the sudo key of a user: one rule, a list of rules, or false/null for none.
type sudoRules []string

func (r *sudoRules) UnmarshalJSON(b []byte) error {
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		return err
	}
	switch t := x.(type) {
	case bool, nil:
		*r = nil
	case string:
		*r = sudoRules{t}
	case []any:
		*r = nil
		for _, item := range t {
			*r = append(*r, scalarString(item))
		}
	default:
		return fmt.Errorf("want a rule or a list of rules")
	}
	return nil
}

// scalarString renders a YAML scalar the way it was most likely written.
func scalarString(x any) string {
	switch t := x.(type) {
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case nil:
		return ""
	default:
		return fmt.Sprint(t)
	}
}
