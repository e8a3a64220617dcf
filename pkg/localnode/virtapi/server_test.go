package virtapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
)

func TestRequireIdentityRefusesAnonymousStreams(t *testing.T) {
	// The delegating authenticator's last resort: whoever sends no credentials is anonymous.
	fallback := authenticator.RequestFunc(func(req *http.Request) (*authenticator.Response, bool, error) {
		name := req.Header.Get("X-Test-User")
		if name == "" {
			name = user.Anonymous
		}
		return &authenticator.Response{User: &user.DefaultInfo{Name: name}}, true, nil
	})
	auth := requireIdentity(fallback, sets.New("/healthz"))
	const stream = "/apis/subresources.kubevirt.io/v1/namespaces/ns/virtualmachineinstances/vm/console"
	for _, tc := range []struct {
		path, user string
		want       bool
	}{
		{stream, "", false},
		{"/apis/subresources.kubevirt.io/v1", "", false},
		{"/healthz", "", true},
		{stream, "alice", true},
	} {
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		if tc.user != "" {
			req.Header.Set("X-Test-User", tc.user)
		}
		resp, ok, err := auth.AuthenticateRequest(req)
		if err != nil || ok != tc.want {
			t.Errorf("%s as %q: ok=%v err=%v, want ok=%v", tc.path, tc.user, ok, err, tc.want)
		}
		if ok && tc.user != "" && resp.User.GetName() != tc.user {
			t.Errorf("%s: user %q, want %q", tc.path, resp.User.GetName(), tc.user)
		}
	}
}
