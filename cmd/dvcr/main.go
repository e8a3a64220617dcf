// Command dvcr is the platform's image registry (DVCR): "dvcr serve" runs it,
// "dvcr gc check|run" finds and removes images no object refers to.
package main

import (
	"os"

	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/component-base/cli"

	dvcrcli "github.com/virtplane/virtplane/pkg/dvcr/cli"
)

func main() {
	os.Exit(cli.Run(dvcrcli.NewDVCRCommand(genericapiserver.SetupSignalContext())))
}
