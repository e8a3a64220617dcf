// Command dvcr-cleaner is DVCR garbage collection under the name the documentation uses:
// "dvcr-cleaner gc check|run" in the registry's container.
package main

import (
	"os"

	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/component-base/cli"

	dvcrcli "github.com/virtplane/virtplane/pkg/dvcr/cli"
)

func main() {
	os.Exit(cli.Run(dvcrcli.NewCleanerCommand(genericapiserver.SetupSignalContext())))
}
