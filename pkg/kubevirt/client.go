// Package kubevirt is a small typed client for the KubeVirt kinds the platform drives
// (VirtualMachineInstance, VirtualMachineInstanceMigration). It is built from
// kubevirt.io/api's Go types and client-go's generic client, so the project does not depend
// on kubevirt.io/client-go and its dependency tree.
package kubevirt

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/gentype"
	"k8s.io/client-go/listers"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	kvv1 "kubevirt.io/api/core/v1"
)

// GroupVersion is the KubeVirt API version the platform speaks.
var GroupVersion = kvv1.SchemeGroupVersion

// Resources of the kinds this package serves.
var (
	VMIResource       = GroupVersion.WithResource("virtualmachineinstances")
	MigrationResource = GroupVersion.WithResource("virtualmachineinstancemigrations")
)

// Scheme knows the KubeVirt core kinds and the meta types their lists and options need.
var Scheme = runtime.NewScheme()

// Codecs serialize objects of Scheme.
var Codecs = serializer.NewCodecFactory(Scheme)

var parameterCodec = runtime.NewParameterCodec(Scheme)

func init() {
	if err := kvv1.AddToScheme(Scheme); err != nil {
		panic(err)
	}
	metav1.AddToGroupVersion(Scheme, schema.GroupVersion{Version: "v1"})
}

// VMIClient is the typed client of VirtualMachineInstances in one namespace.
type VMIClient = gentype.ClientWithList[*kvv1.VirtualMachineInstance, *kvv1.VirtualMachineInstanceList]

// MigrationClient is the typed client of VirtualMachineInstanceMigrations in one namespace.
type MigrationClient = gentype.ClientWithList[*kvv1.VirtualMachineInstanceMigration, *kvv1.VirtualMachineInstanceMigrationList]

// Interface gives typed clients per namespace.
type Interface interface {
	VirtualMachineInstances(namespace string) *VMIClient
	VirtualMachineInstanceMigrations(namespace string) *MigrationClient
	RESTClient() rest.Interface
}

// Client talks to kubevirt.io/v1 through kube-apiserver.
type Client struct {
	rest rest.Interface
}

var _ Interface = (*Client)(nil)

// NewForConfig returns a client for the KubeVirt API reachable with cfg.
func NewForConfig(cfg *rest.Config) (*Client, error) {
	c := rest.CopyConfig(cfg)
	c.GroupVersion = &GroupVersion
	c.APIPath = "/apis"
	c.NegotiatedSerializer = Codecs.WithoutConversion()
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	rc, err := rest.RESTClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("kubevirt client: %w", err)
	}
	return &Client{rest: rc}, nil
}

// RESTClient returns the underlying REST client (for subresources).
func (c *Client) RESTClient() rest.Interface { return c.rest }

// VirtualMachineInstances returns the VMI client of namespace ("" for all namespaces).
func (c *Client) VirtualMachineInstances(namespace string) *VMIClient {
	return gentype.NewClientWithList[*kvv1.VirtualMachineInstance, *kvv1.VirtualMachineInstanceList](
		VMIResource.Resource, c.rest, parameterCodec, namespace,
		func() *kvv1.VirtualMachineInstance { return &kvv1.VirtualMachineInstance{} },
		func() *kvv1.VirtualMachineInstanceList { return &kvv1.VirtualMachineInstanceList{} })
}

// VirtualMachineInstanceMigrations returns the migration client of namespace.
func (c *Client) VirtualMachineInstanceMigrations(namespace string) *MigrationClient {
	return gentype.NewClientWithList[*kvv1.VirtualMachineInstanceMigration, *kvv1.VirtualMachineInstanceMigrationList](
		MigrationResource.Resource, c.rest, parameterCodec, namespace,
		func() *kvv1.VirtualMachineInstanceMigration { return &kvv1.VirtualMachineInstanceMigration{} },
		func() *kvv1.VirtualMachineInstanceMigrationList { return &kvv1.VirtualMachineInstanceMigrationList{} })
}

// VMIInformer is a shared informer of VirtualMachineInstances with a typed lister.
type VMIInformer struct {
	Informer cache.SharedIndexInformer
	Lister   listers.ResourceIndexer[*kvv1.VirtualMachineInstance]
}

// NewVMIInformer watches VMIs in namespace ("" for all) with the namespace index.
func NewVMIInformer(c Interface, namespace string, resync time.Duration, tweak func(*metav1.ListOptions)) VMIInformer {
	vmis := c.VirtualMachineInstances(namespace)
	inf := cache.NewSharedIndexInformer(listWatch(tweak,
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return vmis.List(ctx, o) },
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) { return vmis.Watch(ctx, o) }),
		&kvv1.VirtualMachineInstance{}, resync, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	return VMIInformer{Informer: inf, Lister: listers.New[*kvv1.VirtualMachineInstance](inf.GetIndexer(), VMIResource.GroupResource())}
}

// MigrationInformer is a shared informer of VirtualMachineInstanceMigrations with a typed lister.
type MigrationInformer struct {
	Informer cache.SharedIndexInformer
	Lister   listers.ResourceIndexer[*kvv1.VirtualMachineInstanceMigration]
}

// NewMigrationInformer watches migrations in namespace ("" for all).
func NewMigrationInformer(c Interface, namespace string, resync time.Duration, tweak func(*metav1.ListOptions)) MigrationInformer {
	ms := c.VirtualMachineInstanceMigrations(namespace)
	inf := cache.NewSharedIndexInformer(listWatch(tweak,
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return ms.List(ctx, o) },
		func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) { return ms.Watch(ctx, o) }),
		&kvv1.VirtualMachineInstanceMigration{}, resync, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	return MigrationInformer{Informer: inf, Lister: listers.New[*kvv1.VirtualMachineInstanceMigration](inf.GetIndexer(), MigrationResource.GroupResource())}
}

func listWatch(tweak func(*metav1.ListOptions),
	list func(context.Context, metav1.ListOptions) (runtime.Object, error),
	watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error)) *cache.ListWatch {
	apply := func(o metav1.ListOptions) metav1.ListOptions {
		if tweak != nil {
			tweak(&o)
		}
		return o
	}
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return list(ctx, apply(o)) },
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return watchFn(ctx, apply(o))
		},
	}
}
