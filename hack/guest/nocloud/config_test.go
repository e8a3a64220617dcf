package main

import (
	"reflect"
	"testing"
)

func TestParseUserDataReadsTheUserGuideSeed(t *testing.T) {
	c, err := ParseUserData([]byte(`#cloud-config
package_update: true
packages:
  - nginx
run_cmd:
  - systemctl daemon-reload
  - [systemctl, enable, --now, nginx.service]
ssh_pwauth: True
users:
- default
- name: cloud
  passwd: '$6$rounds=4096$saltsalt$x'
  shell: /bin/bash
  sudo: ALL=(ALL) NOPASSWD:ALL
  lock_passwd: False
final_message: "The system is finally up, after $UPTIME seconds"
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Users) != 1 || c.Users[0].Name != "cloud" || c.Users[0].Shell != "/bin/bash" ||
		c.Users[0].Passwd != "$6$rounds=4096$saltsalt$x" || c.Users[0].LockPasswd == nil || bool(*c.Users[0].LockPasswd) ||
		!reflect.DeepEqual([]string(c.Users[0].Sudo), []string{"ALL=(ALL) NOPASSWD:ALL"}) {
		t.Errorf("users: %+v", c.Users)
	}
	if c.SSHPwauth == nil || !*c.SSHPwauth {
		t.Errorf("ssh_pwauth: True was not read as true")
	}
	want := []Command{{Shell: "systemctl daemon-reload"}, {Argv: []string{"systemctl", "enable", "--now", "nginx.service"}}}
	if !reflect.DeepEqual(c.Runcmd, want) {
		t.Errorf("run_cmd: got %+v, want %+v", c.Runcmd, want)
	}
	if c.FinalMessage == nil || *c.FinalMessage != "The system is finally up, after $UPTIME seconds" {
		t.Errorf("final_message: %v", c.FinalMessage)
	}
	if !reflect.DeepEqual(c.Ignored, []string{"package_update", "packages"}) {
		t.Errorf("ignored keys: %v", c.Ignored)
	}
	if len(c.Problems) != 0 {
		t.Errorf("problems: %v", c.Problems)
	}
}

func TestParseUserDataKeepsGoodKeysWhenOneIsMalformed(t *testing.T) {
	c, err := ParseUserData([]byte(`#cloud-config
hostname: web
write_files: "not a list"
ssh_pwauth: maybe
users: [alice, {name: bob, lock_passwd: "no"}, {shell: /bin/sh}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Hostname != "web" {
		t.Errorf("hostname: %q", c.Hostname)
	}
	if len(c.Users) != 2 || c.Users[0].Name != "alice" || c.Users[1].Name != "bob" || bool(*c.Users[1].LockPasswd) {
		t.Errorf("users: %+v", c.Users)
	}
	if len(c.Problems) != 3 {
		t.Errorf("want problems with write_files, ssh_pwauth and one user entry, got %q", c.Problems)
	}
}

func TestParseUserDataOtherFormats(t *testing.T) {
	c, err := ParseUserData([]byte("#!/bin/sh\necho hi\n"))
	if err != nil || string(c.Script) != "#!/bin/sh\necho hi\n" {
		t.Errorf("a script is kept to run: %+v, %v", c, err)
	}
	c, err = ParseUserData([]byte("Content-Type: multipart/mixed\n"))
	if err != nil || c.Script != nil || len(c.Users) != 0 {
		t.Errorf("unknown user-data is ignored: %+v, %v", c, err)
	}
	if _, err := ParseUserData([]byte("#cloud-config\nusers: [\n")); err == nil {
		t.Errorf("broken YAML is an error")
	}
}

func TestHostnamesFollowCloudInitPrecedence(t *testing.T) {
	md := &MetaData{LocalHostname: "from-meta"}
	cases := []struct {
		c           Config
		short, fqdn string
	}{
		{Config{}, "from-meta", "from-meta"},
		{Config{Hostname: "web"}, "web", "web"},
		{Config{Hostname: "web.example.com"}, "web", "web.example.com"},
		{Config{Hostname: "web", FQDN: "db.example.com"}, "db", "db.example.com"},
	}
	for _, c := range cases {
		short, fqdn := Hostnames(&c.c, md)
		if short != c.short || fqdn != c.fqdn {
			t.Errorf("%+v: got %q %q, want %q %q", c.c, short, fqdn, c.short, c.fqdn)
		}
	}
	if short, _ := Hostnames(&Config{}, &MetaData{}); short != "" {
		t.Errorf("no name anywhere gave %q", short)
	}
}

func TestScriptQuotesArgvEntries(t *testing.T) {
	got := Script([]Command{{Shell: "echo $HOME > /tmp/x"}, {Argv: []string{"touch", "/tmp/a b", "it's"}}})
	want := "#!/bin/sh\necho $HOME > /tmp/x\ntouch '/tmp/a b' 'it'\"'\"'s'\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
