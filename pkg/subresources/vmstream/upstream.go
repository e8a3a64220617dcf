package vmstream

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/coder/websocket"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

const (
	// KubeVirtGroupVersion is KubeVirt's API of VMI subresources.
	KubeVirtGroupVersion = "subresources.kubevirt.io/v1"
	// KubeVirtSubprotocol is KubeVirt's websocket subprotocol for raw byte streams.
	KubeVirtSubprotocol = "plain.kubevirt.io"
	// Subprotocol is the upstream d8 CLI's name for the same protocol.
	Subprotocol = "plain.virtualization.deckhouse.io"
)

// dialTimeout bounds opening KubeVirt's side of a stream: kube-apiserver, virt-api (or the
// local node) and the VM's socket must answer within it.
const dialTimeout = 30 * time.Second

// upstream opens KubeVirt's VMI stream subresources through kube-apiserver.
type upstream struct {
	base   *url.URL
	client *http.Client
}

// newUpstream builds the dialer from the server's kube-apiserver client config: its TLS and
// credentials like any client-go client, but HTTP/1.1 only, since a websocket upgrade cannot
// ride on HTTP/2.
func newUpstream(cfg *rest.Config) (*upstream, error) {
	base, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("kube-apiserver address: %w", err)
	}
	tlsConfig, err := rest.TLSConfigFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("TLS settings for kube-apiserver: %w", err)
	}
	if tlsConfig != nil {
		tlsConfig.NextProtos = []string{"http/1.1"}
	}
	transport := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     tlsConfig,
		TLSHandshakeTimeout: 10 * time.Second,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	}
	if cfg.Proxy != nil {
		transport.Proxy = cfg.Proxy
	}
	if cfg.Dial != nil {
		transport.DialContext = cfg.Dial
	}
	rt, err := rest.HTTPWrappersForConfig(cfg, transport)
	if err != nil {
		return nil, fmt.Errorf("credentials for kube-apiserver: %w", err)
	}
	return &upstream{base: base, client: &http.Client{Transport: rt}}, nil
}

// url is the address of a VMI's subresource: subpath is console, vnc or
// portforward/PORT/PROTOCOL.
func (u *upstream) url(namespace, name, subpath string) string {
	v := *u.base
	v.Path = path.Join("/", v.Path, "apis", KubeVirtGroupVersion, "namespaces", url.PathEscape(namespace),
		"virtualmachineinstances", url.PathEscape(name), subpath)
	v.RawQuery = ""
	return v.String()
}

// dial opens the stream. Its errors are API errors for the client: a refusal keeps the HTTP
// code KubeVirt or kube-apiserver answered with, an unreachable kube-apiserver is 503.
func (u *upstream) dial(ctx context.Context, namespace, name, subpath string, s Stream) (*websocket.Conn, error) {
	what := fmt.Sprintf("the %s of VirtualMachineInstance %s/%s", s.noun(), namespace, name)
	if u == nil {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf(
			"cannot open %s: this virtualization-apiserver has no kube-apiserver to reach KubeVirt through (it runs standalone)", what))
	}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, u.url(namespace, name, subpath), &websocket.DialOptions{
		HTTPClient:   u.client,
		Subprotocols: []string{KubeVirtSubprotocol},
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, refusal(resp, what)
		}
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("cannot open %s through kube-apiserver: %v", what, err))
	}
	ws.SetReadLimit(-1) // messages are chunks of a byte stream, of any size
	return ws, nil
}

// refusal turns an answer other than the upgrade into an API error with the same code and
// the upstream's message: a metav1.Status from kube-apiserver or KubeVirt, or plain text.
func refusal(resp *http.Response, what string) error {
	var body []byte
	if resp.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, 1024))
	}
	code := resp.StatusCode
	var status metav1.Status
	message, reason := "", metav1.StatusReasonUnknown
	if json.Unmarshal(body, &status) == nil && status.Message != "" {
		message, reason = status.Message, status.Reason
	} else if text := strings.TrimSpace(string(body)); text != "" {
		message = text
	} else {
		message = resp.Status
	}
	if code < 400 || code > 599 {
		// A redirect or success other than the upgrade: nothing a client could act on.
		message = fmt.Sprintf("unexpected answer %s: %s", resp.Status, message)
		code, reason = http.StatusBadGateway, metav1.StatusReasonUnknown
	}
	if reason == metav1.StatusReasonUnknown {
		reason = reasonForCode(code)
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    int32(code),
		Reason:  reason,
		Message: fmt.Sprintf("KubeVirt did not open %s: %s", what, message),
	}}
}

// reasonForCode is the metav1 reason of the common codes of a refusal.
func reasonForCode(code int) metav1.StatusReason {
	switch code {
	case http.StatusBadRequest:
		return metav1.StatusReasonBadRequest
	case http.StatusUnauthorized:
		return metav1.StatusReasonUnauthorized
	case http.StatusForbidden:
		return metav1.StatusReasonForbidden
	case http.StatusNotFound:
		return metav1.StatusReasonNotFound
	case http.StatusConflict:
		return metav1.StatusReasonConflict
	case http.StatusTooManyRequests:
		return metav1.StatusReasonTooManyRequests
	case http.StatusServiceUnavailable:
		return metav1.StatusReasonServiceUnavailable
	case http.StatusGatewayTimeout:
		return metav1.StatusReasonTimeout
	case http.StatusInternalServerError:
		return metav1.StatusReasonInternalError
	}
	return metav1.StatusReasonUnknown
}
