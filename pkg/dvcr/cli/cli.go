// Package cli is the command line of the dvcr and dvcr-cleaner programs: the registry
// server and its garbage collection, configured by the platform config file and flags.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/virtplane/virtplane/pkg/config"
	"github.com/virtplane/virtplane/pkg/dvcr"
	"github.com/virtplane/virtplane/pkg/generated/clientset/versioned"
)

// common holds the flags every command takes. Flags win over the config file.
type common struct {
	configFile string
	storageDir string
	kubeconfig string

	cfg *config.Config
}

func (c *common) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.configFile, "config", "", "platform configuration file (its dvcr section)")
	fs.StringVar(&c.storageDir, "storage-dir", "", "registry storage directory (default: dvcr.storageDirectory)")
	fs.StringVar(&c.kubeconfig, "kubeconfig", "", "kubeconfig for listing images and disks (default: $KUBECONFIG, then in-cluster)")
}

// complete loads the config file and fills what the flags left empty.
func (c *common) complete() error {
	cfg, err := config.Load(c.configFile)
	if err != nil {
		return fmt.Errorf("load configuration: %w", err)
	}
	c.cfg = cfg
	if c.storageDir == "" {
		c.storageDir = cfg.DVCR.StorageDirectory
	}
	if c.storageDir == "" {
		return errors.New("no storage directory: set --storage-dir or dvcr.storageDirectory")
	}
	return nil
}

// errNoCluster says no way to reach the API was configured.
var errNoCluster = errors.New("no cluster access: set --kubeconfig or $KUBECONFIG, or run in a Pod")

// restConfig is --kubeconfig, else $KUBECONFIG, else the in-cluster config. A home
// kubeconfig is not guessed: collecting against the wrong cluster would delete live images.
func (c *common) restConfig() (*rest.Config, error) {
	var rules *clientcmd.ClientConfigLoadingRules
	switch env := os.Getenv(clientcmd.RecommendedConfigPathEnvVar); {
	case c.kubeconfig != "":
		rules = &clientcmd.ClientConfigLoadingRules{ExplicitPath: c.kubeconfig}
	case env != "":
		// $KUBECONFIG may be a list of files, as kubectl allows.
		rules = &clientcmd.ClientConfigLoadingRules{Precedence: filepath.SplitList(env)}
	}
	if rules != nil {
		rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("load kubeconfig: %w", err)
		}
		return rc, nil
	}
	rc, err := rest.InClusterConfig()
	if errors.Is(err, rest.ErrNotInCluster) {
		return nil, errNoCluster
	}
	if err != nil {
		return nil, fmt.Errorf("in-cluster config: %w", err)
	}
	return rc, nil
}

// collector builds the garbage collector over the storage and the cluster.
func (c *common) collector() (*dvcr.Collector, error) {
	rc, err := c.restConfig()
	if err != nil {
		return nil, err
	}
	rc.UserAgent = "dvcr-gc"
	client, err := versioned.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("create virtualization client: %w", err)
	}
	return &dvcr.Collector{StorageDir: c.storageDir, Objects: dvcr.ClusterObjects{Client: client}}, nil
}

// NewDVCRCommand is the dvcr program: serve and gc.
func NewDVCRCommand(ctx context.Context) *cobra.Command {
	root := &cobra.Command{
		Use:          "dvcr",
		Short:        "The platform's image registry (DVCR) and its garbage collection",
		SilenceUsage: true,
	}
	root.AddCommand(newServeCommand(ctx), newGCCommand(ctx), newKeysCommand())
	return root
}

// newKeysCommand writes a token signing key and its certificate, for the local stack and
// first installs; existing files are kept so a restart does not invalidate issued tokens.
func newKeysCommand() *cobra.Command {
	var keyFile, certFile string
	cmd := &cobra.Command{
		Use:   "gen-token-keys",
		Short: "Write a token signing key (--key) and the certificate the registry trusts (--cert) unless both exist",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if keyFile == "" || certFile == "" {
				return errors.New("--key and --cert are required")
			}
			_, keyErr := os.Stat(keyFile)
			_, certErr := os.Stat(certFile)
			if keyErr == nil && certErr == nil {
				fmt.Fprintf(cmd.OutOrStdout(), "%s and %s exist, kept\n", keyFile, certFile)
				return nil
			}
			keyPEM, certPEM, err := dvcr.GenerateTokenKeyPair()
			if err != nil {
				return err
			}
			if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
				return fmt.Errorf("write token key: %w", err)
			}
			if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
				return fmt.Errorf("write token certificate: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s and %s\n", keyFile, certFile)
			return nil
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "private key file to write (PEM, EC P-256)")
	cmd.Flags().StringVar(&certFile, "cert", "", "certificate file to write (PEM, self-signed)")
	return cmd
}

// NewCleanerCommand is dvcr-cleaner, the name the documentation calls: gc only.
func NewCleanerCommand(ctx context.Context) *cobra.Command {
	root := &cobra.Command{
		Use:          "dvcr-cleaner",
		Short:        "Garbage collection of DVCR images no object refers to",
		SilenceUsage: true,
	}
	root.AddCommand(newGCCommand(ctx))
	return root
}

func newGCCommand(ctx context.Context) *cobra.Command {
	var o common
	gc := &cobra.Command{
		Use:   "gc",
		Short: "Find or remove images whose ClusterVirtualImage, VirtualImage or VirtualDisk is gone",
	}
	o.addFlags(gc.PersistentFlags())
	// step makes one gc command: act does the work and returns its report, printed with the
	// storage usage after it.
	step := func(use, short string, act func(*dvcr.Collector) (func(io.Writer, dvcr.DiskUsage) error, error)) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				if err := o.complete(); err != nil {
					return err
				}
				quietDistribution()
				c, err := o.collector()
				if err != nil {
					return err
				}
				report, err := act(c)
				if err != nil {
					return err
				}
				usage, err := dvcr.StorageUsage(o.storageDir)
				if err != nil {
					return err
				}
				return report(cmd.OutOrStdout(), usage)
			},
		}
	}
	gc.AddCommand(step("check", "Print storage usage and the images eligible for cleanup; change nothing",
		func(c *dvcr.Collector) (func(io.Writer, dvcr.DiskUsage) error, error) {
			plan, err := c.Check(ctx)
			return func(w io.Writer, u dvcr.DiskUsage) error { return dvcr.WriteCheck(w, plan, u) }, err
		}))
	gc.AddCommand(step("run", "Make the registry read-only, remove the eligible images and unreferenced blobs, make it writable again",
		func(c *dvcr.Collector) (func(io.Writer, dvcr.DiskUsage) error, error) {
			res, err := c.Run(ctx)
			return func(w io.Writer, u dvcr.DiskUsage) error { return dvcr.WriteRun(w, res, u) }, err
		}))
	return gc
}

// quietDistribution keeps distribution's per-file deletion logs out of the gc commands'
// output; warnings and errors still reach stderr.
func quietDistribution() { logrus.SetLevel(logrus.WarnLevel) }

// serveOptions are the flags of dvcr serve.
type serveOptions struct {
	common
	listen     string
	tlsCert    string
	tlsKey     string
	tokenCert  string
	gcSchedule string
	logLevel   string
}

func newServeCommand(ctx context.Context) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the registry on filesystem storage to holders of platform-minted tokens",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if err := o.complete(); err != nil {
				return err
			}
			return o.run(ctx)
		},
	}
	fs := cmd.Flags()
	o.addFlags(fs)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:5000", "address to serve on")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate file; with --tls-key serves HTTPS")
	fs.StringVar(&o.tlsKey, "tls-key", "", "TLS private key file")
	fs.StringVar(&o.tokenCert, "token-cert", "", "certificate of the token signing key (default: dvcr.tokenCertFile)")
	fs.StringVar(&o.gcSchedule, "gc-schedule", "", "cron schedule of garbage collection (default: dvcr.gc.schedule; empty disables)")
	fs.StringVar(&o.logLevel, "log-level", "info", "registry log level: error, warn, info, debug")
	return cmd
}

func (o *serveOptions) run(ctx context.Context) error {
	if o.tokenCert == "" {
		o.tokenCert = o.cfg.DVCR.TokenCertFile
	}
	if o.gcSchedule == "" {
		o.gcSchedule = o.cfg.DVCR.GC.Schedule
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	srv, err := dvcr.NewServer(ctx, dvcr.ServerOptions{
		StorageDir:    o.storageDir,
		Listen:        o.listen,
		TLSCertFile:   o.tlsCert,
		TLSKeyFile:    o.tlsKey,
		TokenCertFile: o.tokenCert,
		LogLevel:      o.logLevel,
	})
	if err != nil {
		return err
	}
	if o.gcSchedule != "" {
		c, err := o.collector()
		switch {
		case errors.Is(err, errNoCluster):
			klog.InfoS("Scheduled garbage collection disabled: no cluster access to list images", "schedule", o.gcSchedule)
		case err != nil:
			return err
		default:
			if err := dvcr.ScheduleGC(ctx, o.gcSchedule, c); err != nil {
				return err
			}
		}
	}
	return srv.Serve(ctx)
}
