package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// Config is the subset of #cloud-config this guest applies. Each key is decoded on its own
// so that one malformed key is reported and skipped instead of discarding the whole file,
// as cloud-init's modules fail one at a time.
type Config struct {
	Hostname          string
	FQDN              string
	Users             []User
	Groups            []Group
	SSHPwauth         *bool // nil: leave the image default (password logins off)
	SSHAuthorizedKeys []string
	Chpasswd          Chpasswd
	WriteFiles        []WriteFile
	Bootcmd           []Command
	Runcmd            []Command
	FinalMessage      *string
	// Script is user-data that is a program (#!) rather than a #cloud-config.
	Script []byte
	// Ignored lists the keys this guest does not implement (packages, ...), sorted.
	Ignored []string
	// Problems lists the keys that were present but could not be decoded.
	Problems []string
}

// User is one entry of users. A bare string entry is a user with only a name.
type User struct {
	Name              string     `json:"name"`
	Gecos             string     `json:"gecos"`
	Homedir           string     `json:"homedir"`
	PrimaryGroup      string     `json:"primary_group"`
	Groups            stringList `json:"groups"`
	Shell             string     `json:"shell"`
	Passwd            string     `json:"passwd"`
	HashedPasswd      string     `json:"hashed_passwd"`
	PlainTextPasswd   string     `json:"plain_text_passwd"`
	LockPasswd        *flexBool  `json:"lock_passwd"`
	SSHAuthorizedKeys stringList `json:"ssh_authorized_keys"`
	Sudo              sudoRules  `json:"sudo"`
	UID               *flexInt   `json:"uid"`
	NoCreateHome      flexBool   `json:"no_create_home"`
	NoUserGroup       flexBool   `json:"no_user_group"`
	System            flexBool   `json:"system"`
}

// Group is one entry of the top-level groups key: a name and the users added to it.
type Group struct {
	Name    string
	Members []string
}

// Chpasswd is the chpasswd key: the list form ("user:password" lines) and the users form.
type Chpasswd struct {
	List  stringList `json:"list"`
	Users []struct {
		Name     string `json:"name"`
		Password string `json:"password"`
		Type     string `json:"type"` // text, hash or RANDOM
	} `json:"users"`
}

// WriteFile is one entry of write_files.
type WriteFile struct {
	Path        string      `json:"path"`
	Content     string      `json:"content"`
	Encoding    string      `json:"encoding"`
	Owner       string      `json:"owner"`
	Permissions permissions `json:"permissions"`
	Append      flexBool    `json:"append"`
	Defer       flexBool    `json:"defer"`
}

// Command is one entry of runcmd or bootcmd: a shell line, or an argv list that is quoted
// word by word.
type Command struct {
	Shell string
	Argv  []string
}

// keys are the #cloud-config keys this guest applies, with their decoders.
var keys = map[string]func(c *Config, raw json.RawMessage) error{
	"hostname":   func(c *Config, raw json.RawMessage) error { return json.Unmarshal(raw, &c.Hostname) },
	"fqdn":       func(c *Config, raw json.RawMessage) error { return json.Unmarshal(raw, &c.FQDN) },
	"users":      decodeUsers,
	"groups":     decodeGroups,
	"ssh_pwauth": decodeSSHPwauth,
	"ssh_authorized_keys": func(c *Config, raw json.RawMessage) error {
		return json.Unmarshal(raw, (*stringList)(&c.SSHAuthorizedKeys))
	},
	"chpasswd":    func(c *Config, raw json.RawMessage) error { return json.Unmarshal(raw, &c.Chpasswd) },
	"write_files": func(c *Config, raw json.RawMessage) error { return json.Unmarshal(raw, &c.WriteFiles) },
	"bootcmd":     func(c *Config, raw json.RawMessage) error { return decodeCommands(raw, &c.Bootcmd) },
	"runcmd":      func(c *Config, raw json.RawMessage) error { return decodeCommands(raw, &c.Runcmd) },
	"run_cmd":     func(c *Config, raw json.RawMessage) error { return decodeCommands(raw, &c.Runcmd) },
	"final_message": func(c *Config, raw json.RawMessage) error {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		c.FinalMessage = &s
		return nil
	},
}

// ParseUserData reads user-data: a #cloud-config document, a script (#!), either of them
// gzipped, or anything else, which is ignored (an empty Config).
func ParseUserData(data []byte) (*Config, error) {
	if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("gunzip user-data: %w", err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("gunzip user-data: %w", err)
		}
	}
	c := &Config{}
	switch {
	case bytes.HasPrefix(data, []byte("#!")):
		c.Script = data
		return c, nil
	case !bytes.HasPrefix(data, []byte("#cloud-config")):
		return c, nil
	}
	var top map[string]json.RawMessage
	if err := yaml.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("parse #cloud-config: %w", err)
	}
	for key, raw := range top {
		decode, ok := keys[key]
		if !ok {
			c.Ignored = append(c.Ignored, key)
			continue
		}
		if string(raw) == "null" {
			continue
		}
		if err := decode(c, raw); err != nil {
			c.Problems = append(c.Problems, fmt.Sprintf("%s: %v", key, err))
		}
	}
	sort.Strings(c.Ignored)
	sort.Strings(c.Problems)
	return c, nil
}

// MetaData is the NoCloud meta-data (YAML or JSON).
type MetaData struct {
	InstanceID    string `json:"instance-id"`
	LocalHostname string `json:"local-hostname"`
}

// ParseMetaData reads meta-data; an empty file is valid.
func ParseMetaData(data []byte) (*MetaData, error) {
	md := &MetaData{}
	if len(bytes.TrimSpace(data)) == 0 {
		return md, nil
	}
	if err := yaml.Unmarshal(data, md); err != nil {
		return nil, fmt.Errorf("parse meta-data: %w", err)
	}
	return md, nil
}

// Hostnames returns the short host name and the FQDN the guest takes, in cloud-init's order:
// fqdn, then hostname in user-data, then local-hostname in meta-data. Empty when none is set.
func Hostnames(c *Config, md *MetaData) (short, fqdn string) {
	name := md.LocalHostname
	if c.Hostname != "" {
		name = c.Hostname
	}
	if c.FQDN != "" {
		name = c.FQDN
	}
	name = strings.TrimSpace(name)
	short, _, _ = strings.Cut(name, ".")
	return short, name
}

func decodeUsers(c *Config, raw json.RawMessage) error {
	var entries []json.RawMessage
	var csv string
	if err := json.Unmarshal(raw, &csv); err == nil {
		// users: "default, alice" names users separated by commas.
		for _, name := range strings.Split(csv, ",") {
			b, _ := json.Marshal(strings.TrimSpace(name))
			entries = append(entries, b)
		}
	} else if err := json.Unmarshal(raw, &entries); err != nil {
		return err
	}
	var problems []string
	for i, e := range entries {
		var name string
		if json.Unmarshal(e, &name) == nil {
			if name != "" && name != "default" {
				c.Users = append(c.Users, User{Name: name})
			}
			continue
		}
		var u User
		if err := json.Unmarshal(e, &u); err != nil {
			problems = append(problems, fmt.Sprintf("entry %d: %v", i, err))
			continue
		}
		if u.Name == "" {
			problems = append(problems, fmt.Sprintf("entry %d has no name", i))
			continue
		}
		c.Users = append(c.Users, u)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// decodeGroups reads groups as a list of names, or of one-key maps name: [members], or a
// map name: [members].
func decodeGroups(c *Config, raw json.RawMessage) error {
	var entries []json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		entries = []json.RawMessage{raw}
	}
	for _, e := range entries {
		var name string
		if json.Unmarshal(e, &name) == nil {
			c.Groups = append(c.Groups, Group{Name: name})
			continue
		}
		var m map[string]stringList
		if err := json.Unmarshal(e, &m); err != nil {
			return err
		}
		names := make([]string, 0, len(m))
		for n := range m {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			c.Groups = append(c.Groups, Group{Name: n, Members: m[n]})
		}
	}
	return nil
}

// decodeSSHPwauth accepts a boolean or yes/no/true/false; "unchanged" keeps the default.
func decodeSSHPwauth(c *Config, raw json.RawMessage) error {
	var b flexBool
	var s string
	if json.Unmarshal(raw, &s) == nil && strings.EqualFold(strings.TrimSpace(s), "unchanged") {
		return nil
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		return err
	}
	v := bool(b)
	c.SSHPwauth = &v
	return nil
}

func decodeCommands(raw json.RawMessage, into *[]Command) error {
	var entries []json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return err
	}
	for i, e := range entries {
		var line string
		if json.Unmarshal(e, &line) == nil {
			*into = append(*into, Command{Shell: line})
			continue
		}
		var argv []any
		if err := json.Unmarshal(e, &argv); err != nil {
			return fmt.Errorf("entry %d is neither a string nor a list", i)
		}
		cmd := Command{}
		for _, a := range argv {
			cmd.Argv = append(cmd.Argv, scalarString(a))
		}
		*into = append(*into, cmd)
	}
	return nil
}
