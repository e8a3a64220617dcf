// Command virtualization-apiserver serves the virtualization.deckhouse.io API as an
// aggregated API server with its own etcd storage.
package main

import (
	"os"

	"github.com/spf13/cobra"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/component-base/cli"

	"github.com/virtplane/virtplane/pkg/apiserver"
)

func main() {
	o := apiserver.NewOptions()
	cmd := &cobra.Command{
		Use:          "virtualization-apiserver",
		Short:        "Serves virtualization.deckhouse.io/v1alpha2 behind kube-apiserver's aggregation layer",
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.Run(genericapiserver.SetupSignalContext())
		},
	}
	o.AddFlags(cmd.Flags())
	os.Exit(cli.Run(cmd))
}
