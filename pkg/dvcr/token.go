package dvcr

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"time"

	"github.com/distribution/distribution/v3/registry/auth/token"
	"github.com/golang-jwt/jwt/v5"
)

// The registry trusts tokens from this issuer for this service (the JWT audience). Both
// sides take them from here so they cannot drift apart.
const (
	TokenIssuer  = "virtplane"
	TokenService = "dvcr"
)

// Access is one grant of a registry token, as in the Docker token spec:
// {Type: "repository", Name: "vi/ns/name", Actions: ["pull", "push"]}.
type Access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// Signer mints registry bearer tokens. The registry verifies them with the certificate of
// the signing key: the JWT header carries no certificate chain, only the key's RFC 7638
// thumbprint as "kid", which distribution's token auth looks up among the public keys of
// its root certificate bundle. That keeps tokens short and lets the signer work from the
// bare private key.
type Signer struct {
	key    crypto.Signer
	method jwt.SigningMethod
	keyID  string
}

// LoadSigner reads a PEM private key (EC P-256/P-384/P-521, RSA or Ed25519; PKCS#8, SEC 1
// or PKCS#1) from keyFile.
func LoadSigner(keyFile string) (*Signer, error) {
	data, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("read token signing key: %w", err)
	}
	key, err := parsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("parse token signing key %s: %w", keyFile, err)
	}
	return NewSigner(key), nil
}

func parsePrivateKey(data []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM private key found")
		}
		switch block.Type {
		case "EC PRIVATE KEY":
			return x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			return x509.ParsePKCS1PrivateKey(block.Bytes)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, err
			}
			s, ok := k.(crypto.Signer)
			if !ok {
				return nil, fmt.Errorf("unsupported private key type %T", k)
			}
			return s, nil
		}
		// Skip other blocks (EC PARAMETERS, certificates) that tools put next to keys.
	}
}

// NewSigner wraps a private key. ECDSA keys sign with ES256/384/512 by curve, RSA with
// RS256, Ed25519 with EdDSA; Token fails for other key types.
func NewSigner(key crypto.Signer) *Signer {
	s := &Signer{key: key, keyID: token.GetJWKThumbprint(key.Public())}
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P384():
			s.method = jwt.SigningMethodES384
		case elliptic.P521():
			s.method = jwt.SigningMethodES512
		default:
			s.method = jwt.SigningMethodES256
		}
	case *rsa.PrivateKey:
		s.method = jwt.SigningMethodRS256
	case ed25519.PrivateKey:
		s.method = jwt.SigningMethodEdDSA
	}
	return s
}

// KeyID is the "kid" the tokens carry: the RFC 7638 thumbprint of the public key.
func (s *Signer) KeyID() string { return s.keyID }

// claims is the Docker token claim set: the registered claims plus the access list.
type claims struct {
	jwt.RegisteredClaims
	Access []Access `json:"access"`
}

// Token returns a JWT that grants access to subject for ttl. The registry accepts it as
// "Authorization: Bearer <token>" (or as the registry token of a Docker auth config).
func (s *Signer) Token(subject string, access []Access, ttl time.Duration) (string, error) {
	if s.method == nil {
		return "", fmt.Errorf("sign registry token: unsupported key type %T", s.key)
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("sign registry token: %w", err)
	}
	if access == nil {
		// distribution expects a list; null would still parse, but [] is what clients expect.
		access = []Access{}
	}
	now := time.Now()
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    TokenIssuer,
			Subject:   subject,
			Audience:  jwt.ClaimStrings{TokenService},
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			// A little back-dating absorbs clock skew between the signer and the registry.
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        hex.EncodeToString(jti),
		},
		Access: access,
	}
	t := jwt.NewWithClaims(s.method, c)
	t.Header["kid"] = s.keyID
	signed, err := t.SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("sign registry token: %w", err)
	}
	return signed, nil
}

// GenerateTokenKeyPair makes a fresh EC P-256 signing key (PEM, PKCS#8) and a self-signed
// certificate for it (PEM) — the registry's token root certificate bundle — for tests and
// the local stack.
func GenerateTokenKeyPair() (keyPEM, certPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate token key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, nil, fmt.Errorf("generate certificate serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "virtplane dvcr token signer"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("create token certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal token key: %w", err)
	}
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return keyPEM, certPEM, nil
}
