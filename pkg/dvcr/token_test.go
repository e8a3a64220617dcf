package dvcr

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/registry/auth/token"
	"github.com/go-jose/go-jose/v4"
)

// TestTokenVerifiesWithDistribution checks a minted token the way the registry does: the
// kid must name the public key of the root certificate, issuer and audience must match.
func TestTokenVerifiesWithDistribution(t *testing.T) {
	keyPEM, certPEM, err := GenerateTokenKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := LoadSigner(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := signer.Token("importer", []Access{{Type: "repository", Name: "vi/ns/img", Actions: []string{"pull", "push"}}}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}

	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	tok, err := token.NewToken(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	claims, err := tok.Verify(token.VerifyOptions{
		TrustedIssuers:    []string{TokenIssuer},
		AcceptedAudiences: []string{TokenService},
		Roots:             roots,
		TrustedKeys:       map[string]crypto.PublicKey{token.GetJWKThumbprint(cert.PublicKey): cert.PublicKey},
	})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if claims.Subject != "importer" || len(claims.Access) != 1 || claims.Access[0].Name != "vi/ns/img" {
		t.Fatalf("claims = %+v", claims)
	}

	// A token signed by another key must not verify.
	other, _, err := GenerateTokenKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	k, err := parsePrivateKey(other)
	if err != nil {
		t.Fatal(err)
	}
	raw2, err := NewSigner(k).Token("x", nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	tok2, err := token.NewToken(raw2, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok2.Verify(token.VerifyOptions{
		TrustedIssuers:    []string{TokenIssuer},
		AcceptedAudiences: []string{TokenService},
		Roots:             roots,
		TrustedKeys:       map[string]crypto.PublicKey{token.GetJWKThumbprint(cert.PublicKey): cert.PublicKey},
	}); err == nil {
		t.Fatal("token from an untrusted key verified")
	}
}

// RSA keys sign RS256 with the thumbprint distribution computes for the RSA public key;
// expired tokens are refused.
func TestTokenRSAAndExpiry(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSigner(key)
	opts := token.VerifyOptions{
		TrustedIssuers:    []string{TokenIssuer},
		AcceptedAudiences: []string{TokenService},
		Roots:             x509.NewCertPool(),
		TrustedKeys:       map[string]crypto.PublicKey{token.GetJWKThumbprint(&key.PublicKey): &key.PublicKey},
	}
	verify := func(ttl time.Duration) error {
		raw, err := s.Token("importer", []Access{{Type: "repository", Name: "cvi/x", Actions: []string{"pull"}}}, ttl)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := token.NewToken(raw, []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			t.Fatal(err)
		}
		_, err = tok.Verify(opts)
		return err
	}
	if err := verify(time.Minute); err != nil {
		t.Fatalf("RSA token: %v", err)
	}
	// Beyond distribution's 60 s leeway.
	if err := verify(-5 * time.Minute); err == nil {
		t.Fatal("expired token verified")
	}
}
