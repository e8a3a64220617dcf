// Package apiserver assembles the virtualization API server: the scheme, the storage of every
// resource, OpenAPI, and the admission plugins that check one object against others.
package apiserver

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	restclient "k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/virtplane/virtplane/pkg/admission/isodisk"
	"github.com/virtplane/virtplane/pkg/admission/storageclass"
	"github.com/virtplane/virtplane/pkg/admission/vmsizing"
	subresourcesv1alpha2 "github.com/virtplane/virtplane/pkg/apis/subresources/v1alpha2"
	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/config"
	"github.com/virtplane/virtplane/pkg/generated/clientset/versioned"
	"github.com/virtplane/virtplane/pkg/generated/informers/externalversions"
	"github.com/virtplane/virtplane/pkg/registry/resource"
	"github.com/virtplane/virtplane/pkg/registry/virtualization/clustervirtualimage"
	"github.com/virtplane/virtplane/pkg/registry/virtualization/virtualdisk"
	"github.com/virtplane/virtplane/pkg/registry/virtualization/virtualdisksnapshot"
	"github.com/virtplane/virtplane/pkg/registry/virtualization/virtualimage"
	"github.com/virtplane/virtplane/pkg/registry/virtualization/virtualmachine"
	"github.com/virtplane/virtplane/pkg/registry/virtualization/virtualmachineblockdeviceattachment"
	"github.com/virtplane/virtplane/pkg/registry/virtualization/virtualmachineclass"
	"github.com/virtplane/virtplane/pkg/registry/virtualization/virtualmachineipaddress"
	"github.com/virtplane/virtplane/pkg/registry/virtualization/virtualmachineipaddresslease"
	"github.com/virtplane/virtplane/pkg/registry/virtualization/virtualmachineoperation"
	"github.com/virtplane/virtplane/pkg/registry/virtualization/virtualmachinerestore"
	"github.com/virtplane/virtplane/pkg/registry/virtualization/virtualmachinesnapshot"
	"github.com/virtplane/virtplane/pkg/subresources/upload"
	"github.com/virtplane/virtplane/pkg/subresources/vmstream"
)

// Config is the complete configuration of the server.
type Config struct {
	Generic  *genericapiserver.RecommendedConfig
	Platform *config.Config
	// Upload is the token endpoint of uploads.
	Upload UploadConfig
	// Streams reaches kube-apiserver, through which console, vnc and portforward open
	// KubeVirt's VMI subresources; nil refuses them (a standalone server).
	Streams *restclient.Config
}

// Server is the virtualization API server.
type Server struct {
	*genericapiserver.GenericAPIServer
}

// groupPriorities are the groupPriorityMinimum of the APIServices of the groups.
var groupPriorities = map[schema.GroupVersion]int{
	v1alpha2.SchemeGroupVersion:             1000,
	subresourcesv1alpha2.SchemeGroupVersion: 999,
}

type newStorage func(*runtime.Scheme, generic.RESTOptionsGetter) (*resource.REST, *resource.StatusREST, error)

// resources maps each resource to its storage constructor.
var resources = map[string]newStorage{
	clustervirtualimage.Names.Plural:                 clustervirtualimage.NewREST,
	virtualimage.Names.Plural:                        virtualimage.NewREST,
	virtualdisk.Names.Plural:                         virtualdisk.NewREST,
	virtualdisksnapshot.Names.Plural:                 virtualdisksnapshot.NewREST,
	virtualmachine.Names.Plural:                      virtualmachine.NewREST,
	virtualmachineclass.Names.Plural:                 virtualmachineclass.NewREST,
	virtualmachineoperation.Names.Plural:             virtualmachineoperation.NewREST,
	virtualmachineblockdeviceattachment.Names.Plural: virtualmachineblockdeviceattachment.NewREST,
	virtualmachineipaddress.Names.Plural:             virtualmachineipaddress.NewREST,
	virtualmachineipaddresslease.Names.Plural:        virtualmachineipaddresslease.NewREST,
	virtualmachinesnapshot.Names.Plural:              virtualmachinesnapshot.NewREST,
	virtualmachinerestore.Names.Plural:               virtualmachinerestore.NewREST,
}

// New builds the server from a completed generic config. The cross-object admission plugins
// read other objects through informers on the server's own loopback client, started after
// the server listens.
func New(c *Config) (*Server, error) {
	loopback, err := versioned.NewForConfig(c.Generic.LoopbackClientConfig)
	if err != nil {
		return nil, err
	}
	informers := externalversions.NewSharedInformerFactory(loopback, 10*time.Minute)
	v := informers.Virtualization().V1alpha2()
	classes, images, clusterImages := v.VirtualMachineClasses(), v.VirtualImages(), v.ClusterVirtualImages()
	uploadTokens, err := upload.NewTokens(images.Informer(), clusterImages.Informer(), v.VirtualDisks().Informer())
	if err != nil {
		return nil, err
	}
	uploadProxy := upload.NewProxy(nil)
	streams, err := vmstream.NewProxy(c.Streams)
	if err != nil {
		return nil, fmt.Errorf("console, vnc and portforward: %w", err)
	}
	plugins := []admission.Interface{
		vmsizing.New(classes.Lister(), classes.Informer().HasSynced),
		storageclass.New(c.Platform),
		isodisk.New(images.Lister(), clusterImages.Lister(), func() bool {
			return images.Informer().HasSynced() && clusterImages.Informer().HasSynced()
		}),
	}
	if c.Generic.AdmissionControl != nil {
		plugins = append([]admission.Interface{c.Generic.AdmissionControl}, plugins...)
	}
	c.Generic.AdmissionControl = admission.NewChainHandler(plugins...)

	s, err := c.Generic.Complete().New("virtualization-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, err
	}
	if err := s.AddPostStartHook("virtualization-informers", func(ctx genericapiserver.PostStartHookContext) error {
		informers.Start(ctx.Done())
		return nil
	}); err != nil {
		return nil, err
	}
	// Websockets are hijacked connections the HTTP server does not close when it stops.
	if err := s.AddPostStartHook("vm-streams", func(ctx genericapiserver.PostStartHookContext) error {
		context.AfterFunc(ctx, streams.Stop)
		return nil
	}); err != nil {
		return nil, err
	}
	if ln := c.Upload.Listener; ln != nil {
		handler := upload.NewTokenServer(uploadTokens, uploadProxy)
		if err := s.AddPostStartHook("upload-token-endpoint", func(ctx genericapiserver.PostStartHookContext) error {
			go func() {
				if err := upload.Serve(ctx, ln, handler, c.Upload.TLSCertFile, c.Upload.TLSPrivateKeyFile); err != nil {
					klog.ErrorS(err, "Upload token endpoint stopped")
				}
			}()
			return nil
		}); err != nil {
			return nil, err
		}
	}

	group := genericapiserver.NewDefaultAPIGroupInfo(virtualization.GroupName, Scheme, ParameterCodec, Codecs)
	group.NegotiatedSerializer = withoutProtobuf{Codecs}
	storage := map[string]rest.Storage{}
	var vms *resource.REST
	for name, newREST := range resources {
		main, status, err := newREST(Scheme, c.Generic.RESTOptionsGetter)
		if err != nil {
			return nil, fmt.Errorf("storage for %s: %w", name, err)
		}
		storage[name] = main
		storage[name+"/status"] = status
		switch name {
		case virtualimage.Names.Plural:
			storage[name+"/upload"] = virtualimage.NewUploadREST(main, uploadProxy)
		case clustervirtualimage.Names.Plural:
			storage[name+"/upload"] = clustervirtualimage.NewUploadREST(main, uploadProxy)
		case virtualdisk.Names.Plural:
			storage[name+"/upload"] = virtualdisk.NewUploadREST(main, uploadProxy)
		case virtualmachine.Names.Plural:
			vms = main
			storage[name+"/console"] = virtualmachine.NewConsoleREST(main, streams)
			storage[name+"/vnc"] = virtualmachine.NewVNCREST(main, streams)
			storage[name+"/portforward"] = virtualmachine.NewPortForwardREST(main, streams)
		}
	}
	group.VersionedResourcesStorageMap[v1alpha2.SchemeGroupVersion.Version] = storage
	if err := s.InstallAPIGroups(&group, subresourcesGroup(vms, streams)); err != nil {
		return nil, err
	}
	// The priorities of the APIServices, for clients that reach this server directly (the
	// standalone server, tests): both groups have virtualmachines, and `kubectl get
	// virtualmachines` must mean the main group's, not the upstream group's that only has get.
	for gv, priority := range groupPriorities {
		s.AggregatedDiscoveryGroupManager.SetGroupVersionPriority(metav1.GroupVersion(gv), priority, 15)
	}
	return &Server{GenericAPIServer: s}, nil
}
