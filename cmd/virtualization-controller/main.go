// Command virtualization-controller reconciles the virtualization.deckhouse.io objects:
// importer Pods and PVCs for images and disks.
package main

import (
	"os"

	"github.com/spf13/cobra"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/component-base/cli"

	"github.com/virtplane/virtplane/pkg/controller/manager"
)

func main() {
	o := manager.NewOptions()
	cmd := &cobra.Command{
		Use:          "virtualization-controller",
		Short:        "Reconciles VirtualImages, ClusterVirtualImages and VirtualDisks",
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.Run(genericapiserver.SetupSignalContext())
		},
	}
	o.AddFlags(cmd.Flags())
	os.Exit(cli.Run(cmd))
}
