package dvcr

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/virtplane/virtplane/pkg/generated/clientset/versioned"
)

// Object identifies an API object whose image may live in DVCR: its repository kind
// (KindCVI, KindVI, KindVD), namespace (empty for cvi), name and UID (the image tag).
type Object struct {
	Kind      string
	Namespace string
	Name      string
	UID       string
}

// Repository is the object's image repository.
func (o Object) Repository() string { return Repository(o.Kind, o.Namespace, o.Name) }

// KindName is the API kind as users know it, for reports.
func KindName(kind string) string {
	switch kind {
	case KindCVI:
		return "ClusterVirtualImage"
	case KindVI:
		return "VirtualImage"
	case KindVD:
		return "VirtualDisk"
	}
	return kind
}

// ObjectLister tells garbage collection which objects exist. The cluster implementation
// lists them through the API; tests pass a static list.
type ObjectLister interface {
	ListObjects(ctx context.Context) ([]Object, error)
}

// StaticObjects is a fixed ObjectLister.
type StaticObjects []Object

// ListObjects returns the list itself.
func (s StaticObjects) ListObjects(context.Context) ([]Object, error) { return s, nil }

// ClusterObjects lists ClusterVirtualImages, VirtualImages and VirtualDisks in all
// namespaces with the generated clientset.
type ClusterObjects struct {
	Client versioned.Interface
}

// listPageSize keeps each response small on clusters with many disks.
const listPageSize = 500

// ListObjects returns every object of the three kinds. A failed list fails the whole call:
// an incomplete list would make live images look orphaned.
func (c ClusterObjects) ListObjects(ctx context.Context) ([]Object, error) {
	api := c.Client.VirtualizationV1alpha2()
	var out []Object
	err := pages(ctx, func(opts metav1.ListOptions) (string, error) {
		l, err := api.ClusterVirtualImages().List(ctx, opts)
		if err != nil {
			return "", err
		}
		for i := range l.Items {
			out = append(out, objectOf(KindCVI, &l.Items[i].ObjectMeta))
		}
		return l.Continue, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list ClusterVirtualImages: %w", err)
	}
	err = pages(ctx, func(opts metav1.ListOptions) (string, error) {
		l, err := api.VirtualImages(metav1.NamespaceAll).List(ctx, opts)
		if err != nil {
			return "", err
		}
		for i := range l.Items {
			out = append(out, objectOf(KindVI, &l.Items[i].ObjectMeta))
		}
		return l.Continue, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list VirtualImages: %w", err)
	}
	err = pages(ctx, func(opts metav1.ListOptions) (string, error) {
		l, err := api.VirtualDisks(metav1.NamespaceAll).List(ctx, opts)
		if err != nil {
			return "", err
		}
		for i := range l.Items {
			out = append(out, objectOf(KindVD, &l.Items[i].ObjectMeta))
		}
		return l.Continue, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list VirtualDisks: %w", err)
	}
	return out, nil
}

func objectOf(kind string, m *metav1.ObjectMeta) Object {
	return Object{Kind: kind, Namespace: m.Namespace, Name: m.Name, UID: string(m.UID)}
}

// pages calls list with a continue token until the server has no more pages.
func pages(ctx context.Context, list func(metav1.ListOptions) (string, error)) error {
	opts := metav1.ListOptions{Limit: listPageSize}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		next, err := list(opts)
		if err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		opts.Continue = next
	}
}
