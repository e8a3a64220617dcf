package dockerconfig

import (
	"encoding/base64"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

func TestParseResolvesByHost(t *testing.T) {
	doc := `{"auths":{
		"https://index.docker.io/v1/":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("hub:secret")) + `"},
		"dvcr.local:5000":{"registrytoken":"tok"}}}`
	kc, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]authn.AuthConfig{
		"ubuntu:22.04":                {Username: "hub", Password: "secret"},
		"dvcr.local:5000/vi/ns/a:tag": {RegistryToken: "tok"},
		"other.example/x:1":           {},
	} {
		r, err := name.ParseReference(ref)
		if err != nil {
			t.Fatal(err)
		}
		a, err := kc.Resolve(r.Context())
		if err != nil {
			t.Fatal(err)
		}
		got, err := a.Authorization()
		if err != nil {
			t.Fatal(err)
		}
		if *got != want {
			t.Errorf("%s: %+v, want %+v", ref, *got, want)
		}
	}
}

func TestParseRefusesMalformedAuth(t *testing.T) {
	for name, doc := range map[string]string{
		"not json":   `{`,
		"not base64": `{"auths":{"r":{"auth":"%%%"}}}`,
		"no colon":   `{"auths":{"r":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("user")) + `"}}}`,
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
