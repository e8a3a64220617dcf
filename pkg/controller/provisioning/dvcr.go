package provisioning

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/virtplane/virtplane/pkg/dvcr"
	"github.com/virtplane/virtplane/pkg/importer"
)

// TokenSigner mints DVCR bearer tokens; *dvcr.Signer implements it.
type TokenSigner interface {
	Token(subject string, access []dvcr.Access, ttl time.Duration) (string, error)
}

// TokenTTL bounds a Pod's DVCR token. It must outlive the slowest import or upload (the
// token is read once, when the Pod starts) and it dies with the Pod anyway.
const TokenTTL = 24 * time.Hour

// RepoAccess grants actions on one DVCR repository.
func RepoAccess(repository string, actions ...string) dvcr.Access {
	return dvcr.Access{Type: "repository", Name: repository, Actions: actions}
}

// DVCREnv returns the registry credentials of a Pod that may touch the given repositories:
// a token scoped to them, or, for an external registry in DVCR's place, its credentials.
// With neither (a registry without auth, as in some tests) it returns nothing.
func DVCREnv(s Settings, subject string, access ...dvcr.Access) ([]corev1.EnvVar, error) {
	signer := s.Signer
	if signer == nil {
		if len(s.RegistryAuth) > 0 {
			return []corev1.EnvVar{{Name: importer.EnvDVCRDockerConfig, Value: string(s.RegistryAuth)}}, nil
		}
		return nil, nil
	}
	tok, err := signer.Token(subject, access, TokenTTL)
	if err != nil {
		return nil, fmt.Errorf("sign DVCR token for %s: %w", subject, err)
	}
	return []corev1.EnvVar{{Name: importer.EnvDVCRToken, Value: tok}}, nil
}
