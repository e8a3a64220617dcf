// Package dockerconfig reads registry credentials from a kubernetes.io/dockerconfigjson
// document (a pull Secret's .dockerconfigjson, or the platform's registry auth file) as a
// go-containerregistry keychain. The importer and the local node's containerDisk pulls share it.
package dockerconfig

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// Keychain resolves credentials by registry host.
type Keychain map[string]authn.AuthConfig

var _ authn.Keychain = Keychain(nil)

type entry struct {
	Auth          string `json:"auth"`
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
	RegistryToken string `json:"registrytoken"`
}

// Parse reads a dockerconfigjson document ({"auths": {...}}).
func Parse(doc []byte) (Keychain, error) {
	var cfg struct {
		Auths map[string]entry `json:"auths"`
	}
	if err := json.Unmarshal(doc, &cfg); err != nil {
		return nil, err
	}
	kc := Keychain{}
	for key, e := range cfg.Auths {
		ac := authn.AuthConfig{Username: e.Username, Password: e.Password, IdentityToken: e.IdentityToken, RegistryToken: e.RegistryToken}
		if e.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(e.Auth)
			if err != nil {
				return nil, fmt.Errorf("auth of %s is not base64: %w", key, err)
			}
			user, pass, ok := strings.Cut(string(raw), ":")
			if !ok {
				return nil, fmt.Errorf("auth of %s is not user:password", key)
			}
			ac.Username, ac.Password = user, pass
		}
		kc[host(key)] = ac
	}
	return kc, nil
}

// host normalises the keys docker writes ("https://index.docker.io/v1/", "docker.io",
// "host:port") to a registry host.
func host(key string) string {
	if strings.Contains(key, "://") {
		if u, err := url.Parse(key); err == nil {
			key = u.Host
		}
	}
	key, _, _ = strings.Cut(key, "/")
	if key == "docker.io" || key == "registry-1.docker.io" {
		return name.DefaultRegistry
	}
	return key
}

// Resolve implements authn.Keychain: the entry of the registry's host, else anonymous.
func (kc Keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if ac, ok := kc[host(r.RegistryStr())]; ok {
		return authn.FromConfig(ac), nil
	}
	return authn.Anonymous, nil
}
