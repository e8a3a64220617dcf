package d8

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/coder/websocket"
	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

const (
	// subresourcesGroupVersion serves the streams to a VM, through kube-apiserver.
	subresourcesGroupVersion = "subresources.virtualization.deckhouse.io/v1alpha2"
	// streamSubprotocol carries raw bytes in binary messages.
	streamSubprotocol = "plain.virtualization.deckhouse.io"
)

// ExitSessionClosed: the server closed an established console session (taken over by
// another client, VM stopped); the reason is printed. Exit codes 1 and 2 mean what they mean
// for start|stop|restart: could not connect, --timeout passed.
const ExitSessionClosed = 3

// vmStreamOptions are the flags that choose the cluster and namespace, as for the lifecycle
// commands.
type vmStreamOptions struct {
	kubeconfig string
	context    string
	namespace  string
}

func (o *vmStreamOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "Path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config).")
	f.StringVar(&o.context, "context", "", "The kubeconfig context to use.")
	f.StringVarP(&o.namespace, "namespace", "n", "", "Namespace of the virtual machine (default: the context's namespace).")
}

// dialer opens the websocket streams of the VM NAME[.NAMESPACE].
func (o *vmStreamOptions) dialer(target string) (*vmDialer, error) {
	name, namespace, err := lifecycleTarget(target)
	if err != nil {
		return nil, err
	}
	lo := &lifecycleOptions{kubeconfig: o.kubeconfig, context: o.context, namespace: o.namespace}
	cfg, defaultNamespace, err := lo.restConfig()
	if err != nil {
		return nil, err
	}
	if namespace == "" {
		namespace = defaultNamespace
	}
	client, err := websocketHTTPClient(cfg)
	if err != nil {
		return nil, err
	}
	base, err := url.Parse(cfg.Host)
	if err != nil || base.Host == "" {
		// A bare host:port, as kubeconfigs sometimes have.
		if base, err = url.Parse("https://" + cfg.Host); err != nil {
			return nil, fmt.Errorf("the kubeconfig's server %q: %w", cfg.Host, err)
		}
	}
	return &vmDialer{client: client, config: cfg, base: base, name: name, namespace: namespace}, nil
}

// websocketHTTPClient carries the kubeconfig's TLS and credentials like any client-go client,
// but speaks HTTP/1.1 only: a websocket upgrade cannot ride on HTTP/2.
func websocketHTTPClient(cfg *rest.Config) (*http.Client, error) {
	tlsConfig, err := rest.TLSConfigFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("TLS settings of the kubeconfig: %w", err)
	}
	if tlsConfig != nil {
		tlsConfig.NextProtos = []string{"http/1.1"}
	}
	proxy := http.ProxyFromEnvironment
	if cfg.Proxy != nil {
		proxy = cfg.Proxy
	}
	var rt http.RoundTripper = &http.Transport{Proxy: proxy, TLSClientConfig: tlsConfig}
	if rt, err = rest.HTTPWrappersForConfig(cfg, rt); err != nil {
		return nil, fmt.Errorf("credentials of the kubeconfig: %w", err)
	}
	return &http.Client{Transport: rt}, nil
}

// vmDialer opens websocket streams to one VM.
type vmDialer struct {
	client *http.Client
	// config is the kubeconfig's, for API calls besides the streams.
	config    *rest.Config
	base      *url.URL
	name      string
	namespace string
}

// streamURL is the subresource's address: /apis/<group>/namespaces/NS/virtualmachines/NAME/<sub>.
func (d *vmDialer) streamURL(subresource string, query url.Values) string {
	u := *d.base
	u.Path = path.Join("/", u.Path, "apis", subresourcesGroupVersion, "namespaces", d.namespace,
		"virtualmachines", d.name, subresource)
	u.RawQuery = query.Encode()
	return u.String()
}

// dial opens one stream. An answer other than the upgrade is returned as *streamRefusedError.
func (d *vmDialer) dial(ctx context.Context, subresource string, query url.Values) (*websocket.Conn, error) {
	c, resp, err := websocket.Dial(ctx, d.streamURL(subresource, query), &websocket.DialOptions{
		HTTPClient:   d.client,
		Subprotocols: []string{streamSubprotocol},
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, refusal(resp)
		}
		return nil, err
	}
	if c.Subprotocol() != streamSubprotocol {
		c.Close(websocket.StatusProtocolError, "expected subprotocol "+streamSubprotocol)
		return nil, fmt.Errorf("the server did not accept the subprotocol %s", streamSubprotocol)
	}
	c.SetReadLimit(-1) // the messages are raw chunks of a byte stream, of any size
	return c, nil
}

// streamRefusedError is the API server's answer when it did not upgrade the connection.
type streamRefusedError struct {
	code    int
	message string
}

func (e *streamRefusedError) Error() string { return e.message }

// temporary is true for answers that can change while the VM starts: the server is not
// ready (5xx), or the VM is not in a phase that has the stream yet (409, 429).
func (e *streamRefusedError) temporary() bool {
	return e.code >= 500 || e.code == http.StatusConflict || e.code == http.StatusTooManyRequests
}

// refusal reads the message of the answer: a metav1.Status, or its text.
func refusal(resp *http.Response) error {
	e := &streamRefusedError{code: resp.StatusCode}
	var body []byte
	if resp.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, 1024))
	}
	var status metav1.Status
	if json.Unmarshal(body, &status) == nil && status.Message != "" {
		e.message = status.Message
	} else if text := strings.TrimSpace(string(body)); text != "" {
		e.message = text
	} else {
		e.message = resp.Status
	}
	return e
}

// isTemporary says whether dialing again may succeed: a refusal that can change, or a
// failed TCP connection (the API server restarting). TLS and credential errors are not.
func isTemporary(err error) bool {
	var refused *streamRefusedError
	if errors.As(err, &refused) {
		return refused.temporary()
	}
	var opErr *net.OpError
	return errors.As(err, &opErr)
}
