package main

import (
	"crypto/rand"
	"crypto/sha512"
	"fmt"
	"strconv"
	"strings"
)

// SHA-512 crypt ("$6$"), as specified by Ulrich Drepper's "Unix crypt using SHA-256 and
// SHA-512", so that plain_text_passwd and chpasswd end up as the same kind of hash that
// login and dropbear verify.

const (
	cryptAlphabet       = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	cryptDefaultRounds  = 5000
	cryptMinRounds      = 1000
	cryptMaxRounds      = 999999999
	cryptMaxSaltLen     = 16
	cryptRoundsPrefix   = "rounds="
	cryptSHA512Prefix   = "$6$"
	cryptGeneratedSalts = 16
)

// HashPassword hashes a plain text password with a random salt and the default rounds.
func HashPassword(password string) (string, error) {
	salt := make([]byte, cryptGeneratedSalts)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	for i := range salt {
		salt[i] = cryptAlphabet[int(salt[i])%len(cryptAlphabet)]
	}
	return SHA512Crypt(password, cryptSHA512Prefix+string(salt))
}

// SHA512Crypt hashes password with the salt (and rounds) of setting, which is "$6$salt",
// "$6$rounds=N$salt", or a whole hash whose salt is reused.
func SHA512Crypt(password, setting string) (string, error) {
	rest, ok := strings.CutPrefix(setting, cryptSHA512Prefix)
	if !ok {
		return "", fmt.Errorf("not a SHA-512 crypt setting: %q", setting)
	}
	rounds, customRounds := cryptDefaultRounds, false
	if r, after, ok := strings.Cut(rest, "$"); ok && strings.HasPrefix(r, cryptRoundsPrefix) {
		n, err := strconv.ParseUint(strings.TrimPrefix(r, cryptRoundsPrefix), 10, 64)
		if err != nil {
			return "", fmt.Errorf("bad rounds in %q", setting)
		}
		rounds = int(min(max(n, cryptMinRounds), cryptMaxRounds))
		customRounds = true
		rest = after
	}
	salt, _, _ := strings.Cut(rest, "$")
	if len(salt) > cryptMaxSaltLen {
		salt = salt[:cryptMaxSaltLen]
	}
	pw, s := []byte(password), []byte(salt)

	b := sha512.New()
	b.Write(pw)
	b.Write(s)
	b.Write(pw)
	sumB := b.Sum(nil)

	a := sha512.New()
	a.Write(pw)
	a.Write(s)
	a.Write(repeatTo(sumB, len(pw)))
	for n := len(pw); n > 0; n >>= 1 {
		if n&1 != 0 {
			a.Write(sumB)
		} else {
			a.Write(pw)
		}
	}
	sumA := a.Sum(nil)

	dp := sha512.New()
	for range len(pw) {
		dp.Write(pw)
	}
	p := repeatTo(dp.Sum(nil), len(pw))

	ds := sha512.New()
	for range 16 + int(sumA[0]) {
		ds.Write(s)
	}
	sBytes := repeatTo(ds.Sum(nil), len(s))

	for i := range rounds {
		c := sha512.New()
		if i&1 != 0 {
			c.Write(p)
		} else {
			c.Write(sumA)
		}
		if i%3 != 0 {
			c.Write(sBytes)
		}
		if i%7 != 0 {
			c.Write(p)
		}
		if i&1 != 0 {
			c.Write(sumA)
		} else {
			c.Write(p)
		}
		sumA = c.Sum(sumA[:0])
	}

	var out strings.Builder
	out.WriteString(cryptSHA512Prefix)
	if customRounds {
		fmt.Fprintf(&out, "%s%d$", cryptRoundsPrefix, rounds)
	}
	out.WriteString(salt)
	out.WriteByte('$')
	// The digest is written in groups of three bytes taken 21 apart, in a rotating order.
	for k := range 21 {
		x, y, z := sumA[k], sumA[k+21], sumA[k+42]
		switch k % 3 {
		case 1:
			x, y, z = y, z, x
		case 2:
			x, y, z = z, x, y
		}
		encode24(&out, x, y, z, 4)
	}
	encode24(&out, 0, 0, sumA[63], 2)
	return out.String(), nil
}

// CheckPassword reports whether password matches a $6$ hash.
func CheckPassword(password, hash string) bool {
	got, err := SHA512Crypt(password, hash)
	return err == nil && got == hash
}

// repeatTo returns n bytes of b repeated.
func repeatTo(b []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out) < n {
		out = append(out, b[:min(len(b), n-len(out))]...)
	}
	return out
}

func encode24(out *strings.Builder, b2, b1, b0 byte, n int) {
	w := uint(b2)<<16 | uint(b1)<<8 | uint(b0)
	for range n {
		out.WriteByte(cryptAlphabet[w&0x3f])
		w >>= 6
	}
}
