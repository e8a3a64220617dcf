package apiserver

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/rest"
	"k8s.io/component-base/compatibility"
	netutils "k8s.io/utils/net"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/config"
	"github.com/virtplane/virtplane/pkg/embeddedetcd"
	generatedopenapi "github.com/virtplane/virtplane/pkg/generated/openapi"
)

// etcdPrefix is where the group's objects live in etcd.
const etcdPrefix = "/registry/virtualization.deckhouse.io"

// Options are the command line options of virtualization-apiserver.
type Options struct {
	Recommended *genericoptions.RecommendedOptions
	// DataDir holds the embedded etcd when no --etcd-servers are given.
	DataDir string
	// ConfigFile is the platform configuration (allowed storage classes...).
	ConfigFile string
	// Standalone serves without kube-apiserver: no delegated authentication, authorization or
	// core admission. Every request is allowed, so it binds to loopback only. For tests and
	// development.
	Standalone bool
	// Upload configures the token endpoint of uploads.
	Upload UploadOptions
	// StreamsClientConfig, when set, is how console, vnc and portforward reach
	// subresources.kubevirt.io instead of the --kubeconfig client config (tests point it at a
	// fake KubeVirt).
	StreamsClientConfig *rest.Config
}

// NewOptions returns the defaults: delegated authn/authz, embedded etcd, port 8443.
func NewOptions() *Options {
	r := genericoptions.NewRecommendedOptions(etcdPrefix, Codecs.LegacyCodec(v1alpha2.SchemeGroupVersion))
	r.SecureServing.BindPort = 8443
	r.SecureServing.ServerCert.CertDirectory = ""
	// kube-apiserver already applies priority and fairness in front of an aggregated server.
	r.Features.EnablePriorityAndFairness = false
	return &Options{Recommended: r, DataDir: "/var/lib/virtualization-apiserver"}
}

// AddFlags registers the options on fs.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	o.Recommended.AddFlags(fs)
	fs.StringVar(&o.DataDir, "data-dir", o.DataDir, "Directory of the embedded etcd, used when --etcd-servers is empty.")
	fs.StringVar(&o.ConfigFile, "config", o.ConfigFile, "Platform configuration file (YAML): allowed and default storage classes.")
	o.Upload.AddFlags(fs)
	fs.BoolVar(&o.Standalone, "standalone", o.Standalone, "Serve without kube-apiserver: no authentication or authorization, loopback only. For development and tests.")
	// The generic server's feature gates, e.g. --feature-gates=ListFromCacheSnapshot=false
	// trades paginated lists from the watch cache for less memory per object.
	utilfeature.DefaultMutableFeatureGate.AddFlag(fs)
}

// Validate checks the options; etcd servers must be set (Run sets them for embedded etcd).
func (o *Options) Validate() error {
	if errs := o.Upload.Validate(); len(errs) > 0 {
		return fmt.Errorf("%v", errs)
	}
	if o.Standalone {
		ip := o.Recommended.SecureServing.BindAddress
		if ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("--standalone allows every request: set --bind-address=127.0.0.1")
		}
		return nil
	}
	var errs []error
	errs = append(errs, o.Recommended.Validate()...)
	if len(errs) > 0 {
		return fmt.Errorf("%v", errs)
	}
	return nil
}

// Config builds the server configuration. Etcd servers must be set (see Run).
func (o *Options) Config() (*Config, error) {
	platform, err := config.Load(o.ConfigFile)
	if err != nil {
		return nil, err
	}
	if err := o.Recommended.SecureServing.MaybeDefaultWithSelfSignedCerts("localhost", nil,
		[]net.IP{netutils.ParseIPSloppy("127.0.0.1")}); err != nil {
		return nil, fmt.Errorf("creating self-signed certificates: %w", err)
	}

	gc := genericapiserver.NewRecommendedConfig(Codecs)
	gc.EffectiveVersion = compatibility.NewEffectiveVersionFromString("1.36", "", "")
	namer := openapi.NewDefinitionNamer(Scheme)
	gc.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(generatedopenapi.GetOpenAPIDefinitions, namer)
	gc.OpenAPIConfig.Info.Title = "virtualization.deckhouse.io"
	gc.OpenAPIConfig.Info.Version = v1alpha2.SchemeGroupVersion.Version
	gc.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(generatedopenapi.GetOpenAPIDefinitions, namer)
	gc.OpenAPIV3Config.Info.Title = gc.OpenAPIConfig.Info.Title
	gc.OpenAPIV3Config.Info.Version = gc.OpenAPIConfig.Info.Version

	r := o.Recommended
	if o.Standalone {
		copied := *r
		copied.Authentication, copied.Authorization, copied.CoreAPI, copied.Admission = nil, nil, nil, nil
		r = &copied
	}
	if err := r.ApplyTo(gc); err != nil {
		return nil, err
	}
	gc.LongRunningFunc = longRunning
	uploadListener, err := o.Upload.listen()
	if err != nil {
		return nil, err
	}
	streams := gc.ClientConfig
	if o.StreamsClientConfig != nil {
		streams = o.StreamsClientConfig
	}
	return &Config{Generic: gc, Platform: platform, Streams: streams, Upload: UploadConfig{
		Listener:          uploadListener,
		TLSCertFile:       o.Upload.TLSCertFile,
		TLSPrivateKeyFile: o.Upload.TLSPrivateKeyFile,
	}}, nil
}

// Run serves until ctx ends. With no --etcd-servers it first starts etcd in --data-dir.
func (o *Options) Run(ctx context.Context) error {
	if len(o.Recommended.Etcd.StorageConfig.Transport.ServerList) == 0 {
		etcd, err := embeddedetcd.Start(filepath.Join(o.DataDir, "etcd"), time.Minute)
		if err != nil {
			return err
		}
		defer etcd.Stop()
		o.Recommended.Etcd.StorageConfig.Transport.ServerList = []string{etcd.Endpoint}
	}
	if err := o.Validate(); err != nil {
		return err
	}
	cfg, err := o.Config()
	if err != nil {
		return err
	}
	srv, err := New(cfg)
	if err != nil {
		return err
	}
	return srv.PrepareRun().RunWithContext(ctx)
}
