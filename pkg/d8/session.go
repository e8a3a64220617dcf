package d8

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// vmSession is who holds a VM's console or VNC: the server's answer to GET ...?probe=true.
type vmSession struct {
	Open      bool         `json:"open"`
	Holder    string       `json:"holder"`
	StartTime *metav1.Time `json:"startTime"`
}

// probe asks who holds the stream sub (console or vnc) of the VM. ok is false when the server
// did not say: a server without sessions, no access, a network error. Connecting then decides.
func (d *vmDialer) probe(ctx context.Context, sub string) (s vmSession, ok bool) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.streamURL(sub, url.Values{"probe": {"true"}}), nil)
	if err != nil {
		return vmSession{}, false
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return vmSession{}, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return vmSession{}, false
	}
	if json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&s) != nil {
		return vmSession{}, false
	}
	return s, true
}

// selfName is the user the kubeconfig authenticates as (a SelfSubjectReview), "" when the
// server does not say.
func (d *vmDialer) selfName(ctx context.Context) string {
	if d.config == nil {
		return ""
	}
	client, err := kubernetes.NewForConfig(d.config)
	if err != nil {
		return ""
	}
	review, err := client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return ""
	}
	return review.Status.UserInfo.Username
}

// askBeforeTakeover checks whether somebody else holds the stream sub of the VM and, on a
// terminal, asks before disconnecting them. It returns false when the user declined. Without
// a terminal it connects (taking over is what a second client does), after saying whom it
// disconnects; --force skips the question.
func askBeforeTakeover(ctx context.Context, streams Streams, d *vmDialer, sub, what string, force bool) bool {
	if force {
		return true
	}
	s, ok := d.probe(ctx, sub)
	if !ok || !s.Open || s.Holder == "" || s.Holder == d.selfName(ctx) {
		return true
	}
	since := ""
	if s.StartTime != nil {
		since = fmt.Sprintf(" since %s (%s ago)", s.StartTime.Local().Format(time.TimeOnly),
			time.Since(s.StartTime.Time).Round(time.Second))
	}
	f, isFile := streams.In.(*os.File)
	if !isFile || !term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(streams.ErrOut, "%s has been using the %s of VirtualMachine %s/%s%s; connecting disconnects them.\n",
			s.Holder, what, d.namespace, d.name, since)
		return true
	}
	fmt.Fprintf(streams.ErrOut, "%s has been using the %s of VirtualMachine %s/%s%s.\nConnecting disconnects them. Connect? [y/N] ",
		s.Holder, what, d.namespace, d.name, since)
	answer, _ := readLine(f)
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return true
	}
	fmt.Fprintf(streams.ErrOut, "Not connected: the %s stays with %s.\n", what, s.Holder)
	return false
}
