package importer

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"io"
	"sort"
)

// checksummer hashes the bytes of the source as they stream by (before unpacking: the
// digests users publish are of the file they download) and verifies them at the end.
type checksummer struct {
	expected map[string]string
	hashes   map[string]hash.Hash
	writer   io.Writer
}

func newChecksummer(expected map[string]string) *checksummer {
	c := &checksummer{expected: expected, hashes: map[string]hash.Hash{}}
	var ws []io.Writer
	for algo := range expected {
		var h hash.Hash
		switch algo {
		case "md5":
			h = md5.New()
		case "sha1":
			h = sha1.New()
		case "sha256":
			h = sha256.New()
		case "sha512":
			h = sha512.New()
		default:
			continue
		}
		c.hashes[algo] = h
		ws = append(ws, h)
	}
	c.writer = io.MultiWriter(ws...)
	return c
}

// wrap returns a reader of r that feeds the hashes.
func (c *checksummer) wrap(r io.Reader) io.Reader {
	if len(c.hashes) == 0 {
		return r
	}
	return io.TeeReader(r, c.writer)
}

// verify compares the digests of everything read so far with the expected ones.
func (c *checksummer) verify() error {
	algos := make([]string, 0, len(c.hashes))
	for algo := range c.hashes {
		algos = append(algos, algo)
	}
	sort.Strings(algos)
	for _, algo := range algos {
		actual := hex.EncodeToString(c.hashes[algo].Sum(nil))
		if actual != c.expected[algo] {
			return newError(ReasonChecksumMismatch, false, "%s checksum mismatch: expected %s, got %s", algo, c.expected[algo], actual)
		}
	}
	return nil
}
