package main

import (
	"strings"
	"testing"
)

// The expected hashes were made by other implementations (libxcrypt's crypt(3) and busybox
// mkpasswd); the first is the password "cloud" of the user guide's seeds.
func TestSHA512CryptMatchesReferenceHashes(t *testing.T) {
	cases := []struct{ password, setting, want string }{
		{"cloud", "$6$rounds=4096$saltsalt$",
			"$6$rounds=4096$saltsalt$fPmUsbjAuA7mnQNTajQM6ClhesyG0.yyQhvahas02ejfMAq1ykBo1RquzS0R6GgdIDlvS.kbUwDablGZKZcTP/"},
		{"Hello world!", "$6$saltstring",
			"$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"},
		{"", "$6$x",
			"$6$x$QSmr1Bx2g4O6BzKvdkgOcyU6H91X6I/XBv5pSalMhSPkwdH6Beo3F455xZJg0v//bxVK5F4OE5k1.0xuR26MK0"},
		// A password longer than two digests and a salt cut to 16 characters.
		{strings.Repeat("a", 130), "$6$rounds=1000$0123456789abcdefXYZ$",
			"$6$rounds=1000$0123456789abcdef$u3SF5XwuH3In56f43wac5vcNUjUl/5vMddXIPZxjkmiXUFrN5PjKcxM82BcGZT2dwug4FqHULdL1ucNvuDfPT1"},
	}
	for _, c := range cases {
		got, err := SHA512Crypt(c.password, c.setting)
		if err != nil {
			t.Fatalf("SHA512Crypt(%q, %q): %v", c.password, c.setting, err)
		}
		if got != c.want {
			t.Errorf("SHA512Crypt(%q, %q)\n got %s\nwant %s", c.password, c.setting, got, c.want)
		}
	}
}

func TestHashPasswordRoundTrips(t *testing.T) {
	h, err := HashPassword("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$6$") {
		t.Fatalf("hash %q is not SHA-512 crypt", h)
	}
	if !CheckPassword("s3cret", h) {
		t.Errorf("CheckPassword refuses the password its hash was made from")
	}
	if CheckPassword("s3cret!", h) {
		t.Errorf("CheckPassword accepts a different password")
	}
	other, _ := HashPassword("s3cret")
	if other == h {
		t.Errorf("two hashes of one password share a salt: %s", h)
	}
}

func TestSHA512CryptRefusesOtherSchemes(t *testing.T) {
	if _, err := SHA512Crypt("x", "$1$abc$"); err == nil {
		t.Errorf("an MD5 setting was accepted")
	}
}
