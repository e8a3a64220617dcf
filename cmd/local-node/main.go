// Command local-node is a stand-in for one Kubernetes node on one machine (kubelet, CSI
// driver and KubeVirt): it registers a Node, runs this project's own Pods as processes,
// provisions volumes as files and runs the VMs of VirtualMachineInstances with qemu. It belongs to the local stack and is never deployed to a cluster; see
// package pkg/localnode.
package main

import (
	"os"

	"github.com/spf13/cobra"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/component-base/cli"

	"github.com/virtplane/virtplane/pkg/localnode"
)

func main() {
	o := localnode.NewOptions()
	cmd := &cobra.Command{
		Use:          "local-node",
		Short:        "Stand-in for a Kubernetes node on one machine: runs the project's Pods as processes, volumes as files, VMIs as qemu VMs",
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// SIGTERM or Ctrl-C ends the node; its Pods' processes and VMs go with it.
			return o.Run(genericapiserver.SetupSignalContext())
		},
	}
	o.AddFlags(cmd.Flags())
	os.Exit(cli.Run(cmd))
}
