package provisioning

import (
	"testing"
	"time"

	"github.com/virtplane/virtplane/pkg/dvcr"
	"github.com/virtplane/virtplane/pkg/importer"
)

type fakeSigner struct{ access []dvcr.Access }

func (f *fakeSigner) Token(_ string, access []dvcr.Access, _ time.Duration) (string, error) {
	f.access = access
	return "signed", nil
}

// A Pod gets a token scoped to its repositories from DVCR's signer, or the credentials of an
// external registry configured in DVCR's place; never both.
func TestDVCREnv(t *testing.T) {
	signer := &fakeSigner{}
	env, err := DVCREnv(Settings{Signer: signer, RegistryAuth: []byte("{}")}, "vi/ns/a", RepoAccess("vi/ns/a", "pull", "push"))
	if err != nil || len(env) != 1 || env[0].Name != importer.EnvDVCRToken || env[0].Value != "signed" {
		t.Fatalf("with a signer: %v %+v", err, env)
	}
	if len(signer.access) != 1 || signer.access[0].Name != "vi/ns/a" {
		t.Errorf("token scope %+v", signer.access)
	}
	env, err = DVCREnv(Settings{RegistryAuth: []byte(`{"auths":{}}`)}, "vi/ns/a")
	if err != nil || len(env) != 1 || env[0].Name != importer.EnvDVCRDockerConfig || env[0].Value != `{"auths":{}}` {
		t.Fatalf("with an external registry: %v %+v", err, env)
	}
	if env, _ := DVCREnv(Settings{}, "vi/ns/a"); len(env) != 0 {
		t.Errorf("with neither: %+v", env)
	}
}
