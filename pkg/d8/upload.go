package d8

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/virtplane/virtplane/pkg/generated/clientset/versioned"
)

// uploadKind is a kind that takes uploads, as `--kind` names it.
type uploadKind struct {
	resource   string
	namespaced bool
}

// kindFor resolves --kind: the short names of the seeds, or the resource's names.
func kindFor(s string) (uploadKind, bool) {
	switch s {
	case "vi", "virtualimage", "virtualimages":
		return uploadKind{"virtualimages", true}, true
	case "cvi", "clustervirtualimage", "clustervirtualimages":
		return uploadKind{"clustervirtualimages", false}, true
	case "vd", "virtualdisk", "virtualdisks":
		return uploadKind{"virtualdisks", true}, true
	}
	return uploadKind{}, false
}

type uploadOptions struct {
	kubeconfig string
	context    string
	namespace  string
	kind       string
	chunkSize  string
	wait       bool
	retries    int
}

func newUploadCommand(streams Streams) *cobra.Command {
	o := &uploadOptions{kind: "vi", chunkSize: "8Mi", retries: 10}
	cmd := &cobra.Command{
		Use:   "upload NAME FILE",
		Short: "Upload a disk image into a VirtualImage, ClusterVirtualImage or VirtualDisk with an Upload data source",
		Long: `Upload FILE into the object NAME, whose spec.dataSource.type is Upload, through the
API server with your kubeconfig's credentials (the object's upload subresource). The file goes
in short resumable chunks (tus 1.0), so an interrupted connection resumes where the server
stopped and no request runs into the API server's 60 s limit.`,
		Example: `  d8 v upload some-image cirros.img
  d8 v upload -n prod --kind vd data-disk disk.qcow2 --wait
  d8 v upload --kind cvi some-image cirros.img`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), streams, args[0], args[1])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "Path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config).")
	f.StringVar(&o.context, "context", "", "The kubeconfig context to use.")
	f.StringVarP(&o.namespace, "namespace", "n", "", "Namespace of the object (default: the context's namespace).")
	f.StringVar(&o.kind, "kind", o.kind, "Kind of the object: vi (VirtualImage), cvi (ClusterVirtualImage) or vd (VirtualDisk).")
	f.StringVar(&o.chunkSize, "chunk-size", o.chunkSize, "Size of one upload request, as a quantity (8Mi, 64Mi).")
	f.BoolVar(&o.wait, "wait", false, "After the upload, wait until the object is Ready or Failed and print the phase.")
	f.IntVar(&o.retries, "retries", o.retries, "Consecutive failed requests to retry before giving up.")
	return cmd
}

func (o *uploadOptions) run(ctx context.Context, streams Streams, name, path string) error {
	kind, ok := kindFor(o.kind)
	if !ok {
		return fmt.Errorf("--kind %q: use vi, cvi or vd", o.kind)
	}
	chunk, err := resource.ParseQuantity(o.chunkSize)
	if err != nil || chunk.Value() <= 0 {
		return fmt.Errorf("--chunk-size %q: a positive quantity such as 8Mi", o.chunkSize)
	}
	cfg, namespace, err := o.restConfig()
	if err != nil {
		return err
	}
	if !kind.namespaced {
		namespace = ""
	}
	client, err := versioned.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("building the client: %w", err)
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return fmt.Errorf("building the HTTP client: %w", err)
	}

	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}

	req := client.VirtualizationV1alpha2().RESTClient().Post().Resource(kind.resource).Name(name).SubResource("upload")
	if namespace != "" {
		req = req.Namespace(namespace)
	}
	bar := newProgress(streams.ErrOut, fmt.Sprintf("%s/%s", kind.resource, name), info.Size())
	c := &tusClient{
		http:           httpClient,
		url:            req.URL().String(),
		chunk:          chunk.Value(),
		retries:        o.retries,
		backoff:        time.Second,
		maxBackoff:     30 * time.Second,
		requestTimeout: 50 * time.Second,
		progress:       bar.set,
		logf:           bar.logf,
	}
	if err := c.upload(ctx, f, info.Size()); err != nil {
		bar.abort()
		return fmt.Errorf("uploading %s to %s/%s: %w", path, kind.resource, name, err)
	}
	bar.finish()
	fmt.Fprintf(streams.Out, "%s/%s: uploaded %s\n", kind.resource, name, path)
	if !o.wait {
		return nil
	}
	return waitForPhase(ctx, streams, client, kind.resource, namespace, name)
}

// restConfig loads the kubeconfig as kubectl does, and the namespace to use.
func (o *uploadOptions) restConfig() (*rest.Config, string, error) {
	return loadKubeconfig(o.kubeconfig, o.context, o.namespace)
}

// waitForPhase polls the object until its phase is Ready or Failed, printing each new phase.
func waitForPhase(ctx context.Context, streams Streams, client versioned.Interface, resource, namespace, name string) error {
	last := ""
	for {
		phase, msg, err := phaseOf(ctx, client, resource, namespace, name)
		if err != nil {
			return fmt.Errorf("waiting for %s/%s: %w", resource, name, err)
		}
		if phase != last {
			fmt.Fprintf(streams.Out, "%s/%s: %s\n", resource, name, phase)
			last = phase
		}
		switch phase {
		case "Ready":
			return nil
		case "Failed":
			if msg != "" {
				fmt.Fprintln(streams.ErrOut, msg)
			}
			return &exitError{code: 1}
		}
		if err := sleep(ctx, 2*time.Second); err != nil {
			return err
		}
	}
}

// phaseOf returns the phase and, when failed, the message of the object's Ready condition.
func phaseOf(ctx context.Context, client versioned.Interface, resource, namespace, name string) (string, string, error) {
	v := client.VirtualizationV1alpha2()
	var phase string
	var conditions []metav1.Condition
	switch resource {
	case "virtualimages":
		o, err := v.VirtualImages(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return "", "", notFoundIsFinal(err)
		}
		phase, conditions = string(o.Status.Phase), o.Status.Conditions
	case "clustervirtualimages":
		o, err := v.ClusterVirtualImages().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return "", "", notFoundIsFinal(err)
		}
		phase, conditions = string(o.Status.Phase), o.Status.Conditions
	default:
		o, err := v.VirtualDisks(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return "", "", notFoundIsFinal(err)
		}
		phase, conditions = string(o.Status.Phase), o.Status.Conditions
	}
	for _, c := range conditions {
		if c.Status != metav1.ConditionTrue && c.Message != "" {
			return phase, c.Message, nil
		}
	}
	return phase, "", nil
}

func notFoundIsFinal(err error) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("the object was deleted: %w", err)
	}
	return err
}
