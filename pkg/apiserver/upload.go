package apiserver

import (
	"fmt"
	"net"
	"os"

	"github.com/spf13/pflag"
)

// UploadOptions configure the token endpoint: /upload/<token> served without kube-apiserver
// in the path, the URL status.imageUploadURLs.external points at.
type UploadOptions struct {
	// BindAddress is host:port of the endpoint; empty disables it.
	BindAddress string
	// TLSCertFile and TLSPrivateKeyFile serve it over TLS; plain HTTP without them.
	TLSCertFile       string
	TLSPrivateKeyFile string
	// Listener, when set, is used instead of BindAddress (tests pass one on port 0).
	Listener net.Listener
}

// AddFlags registers the upload flags.
func (o *UploadOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.BindAddress, "upload-bind-address", o.BindAddress,
		"host:port of the upload endpoint /upload/<token> (status.imageUploadURLs.external points at it through an ingress); empty disables it. The token in the path is the only credential.")
	fs.StringVar(&o.TLSCertFile, "upload-tls-cert-file", o.TLSCertFile,
		"PEM certificate of the upload endpoint; with --upload-tls-private-key-file it serves HTTPS, otherwise plain HTTP. Reloaded when the file changes.")
	fs.StringVar(&o.TLSPrivateKeyFile, "upload-tls-private-key-file", o.TLSPrivateKeyFile,
		"PEM private key for --upload-tls-cert-file.")
}

// Validate checks that TLS is configured whole and the files exist.
func (o *UploadOptions) Validate() []error {
	var errs []error
	if (o.TLSCertFile == "") != (o.TLSPrivateKeyFile == "") {
		errs = append(errs, fmt.Errorf("--upload-tls-cert-file and --upload-tls-private-key-file go together"))
	}
	for _, f := range []string{o.TLSCertFile, o.TLSPrivateKeyFile} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			errs = append(errs, fmt.Errorf("upload TLS: %w", err))
		}
	}
	if o.BindAddress != "" && o.Listener == nil {
		if _, _, err := net.SplitHostPort(o.BindAddress); err != nil {
			errs = append(errs, fmt.Errorf("--upload-bind-address %q: %w", o.BindAddress, err))
		}
	}
	return errs
}

// listen opens the endpoint's listener, or returns nil when it is disabled. Opening it while
// building the config makes a taken port fail the start rather than a post-start hook.
func (o *UploadOptions) listen() (net.Listener, error) {
	if o.Listener != nil {
		return o.Listener, nil
	}
	if o.BindAddress == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", o.BindAddress)
	if err != nil {
		return nil, fmt.Errorf("upload endpoint: %w", err)
	}
	return ln, nil
}

// UploadConfig is the token endpoint of a Config.
type UploadConfig struct {
	// Listener is nil when the endpoint is disabled.
	Listener          net.Listener
	TLSCertFile       string
	TLSPrivateKeyFile string
}
