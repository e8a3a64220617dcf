package d8

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/utils/ptr"

	"github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/generated/clientset/versioned"
)

// Exit codes of d8 v start|stop|restart|evict|migrate, for scripts.
const (
	// ExitOperationFailed: the operation failed or was superseded (or d8 could not create it).
	ExitOperationFailed = 1
	// ExitWaitTimedOut: --timeout passed before the operation ended; it may still complete.
	ExitWaitTimedOut = 2
)

// lifecycleAction is one of the commands that create an operation, and its type.
type lifecycleAction struct {
	use    string
	short  string
	opType v1alpha2.VMOPType
	doing  string // "Starting"
	done   string // "started"
	// force is the help of --force; "" when the command has none.
	force string
	// nodeSelector: the command takes --node-selector (spec.migrate.nodeSelector).
	nodeSelector bool
	// tellResult: print the message of the completed operation (where the VM went).
	tellResult bool
}

const (
	stopForce      = "Do not wait for the guest to shut down: stop it at once."
	migrationForce = "Set spec.force: ask for a migration that may slow the guest down to converge (AutoConverge), as the VM's liveMigrationPolicy allows (AlwaysSafe refuses it)."
)

var lifecycleActions = []lifecycleAction{
	{use: "start", short: "Start a virtual machine", opType: v1alpha2.VMOPTypeStart, doing: "Starting", done: "started"},
	{use: "stop", short: "Stop a virtual machine", opType: v1alpha2.VMOPTypeStop, doing: "Stopping", done: "stopped", force: stopForce},
	{use: "restart", short: "Restart a virtual machine (applies the changes that wait for a restart)", opType: v1alpha2.VMOPTypeRestart, doing: "Restarting", done: "restarted", force: stopForce},
	{use: "evict", short: "Evict a virtual machine: live-migrate it to another node", opType: v1alpha2.VMOPTypeEvict,
		doing: "Evicting", done: "evicted", force: migrationForce, tellResult: true},
	{use: "migrate", short: "Live-migrate a virtual machine to another node, one matching --node-selector if given", opType: v1alpha2.VMOPTypeMigrate,
		doing: "Migrating", done: "migrated", force: migrationForce, nodeSelector: true, tellResult: true},
}

type lifecycleOptions struct {
	kubeconfig   string
	context      string
	namespace    string
	nodeSelector string
	force        bool
	wait         bool
	createOnly   bool
	yes          bool
	timeout      time.Duration
}

// newLifecycleCommands returns `d8 v start`, `stop`, `restart`, `evict` and `migrate`.
func newLifecycleCommands(streams Streams) []*cobra.Command {
	var cmds []*cobra.Command
	for _, a := range lifecycleActions {
		cmds = append(cmds, newLifecycleCommand(streams, a))
	}
	return cmds
}

func newLifecycleCommand(streams Streams, a lifecycleAction) *cobra.Command {
	o := &lifecycleOptions{wait: true, timeout: 5 * time.Minute}
	cmd := &cobra.Command{
		Use:   a.use + " NAME[.NAMESPACE]",
		Short: a.short,
		Long: fmt.Sprintf(`Create a VirtualMachineOperation of type %s for the virtual machine NAME (named
NAME-<random>) and wait, by watching it, until it is Completed or Failed.

Exit status: 0 when the operation completed (with --wait=false: when the controller took it
up; with --create-only: when it was created), %d when it failed or was superseded, %d when
--timeout passed first (the operation may still complete: d8 k get vmop shows it).`, a.opType, ExitOperationFailed, ExitWaitTimedOut),
		Example: fmt.Sprintf(`  d8 v %[1]s linux-vm
  d8 v %[1]s linux-vm.prod
  d8 v %[1]s -n prod linux-vm --timeout=1m`, a.use) + nodeSelectorExample(a),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), streams, a, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "Path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config).")
	f.StringVar(&o.context, "context", "", "The kubeconfig context to use.")
	f.StringVarP(&o.namespace, "namespace", "n", "", "Namespace of the virtual machine (default: the context's namespace).")
	f.BoolVarP(&o.wait, "wait", "w", o.wait, "Wait until the operation is Completed or Failed; with --wait=false, only until the controller has taken it up.")
	f.BoolVarP(&o.createOnly, "create-only", "c", false, "Only create the operation; do not wait for it.")
	f.DurationVarP(&o.timeout, "timeout", "t", o.timeout, "How long to wait for the operation.")
	// Accepted for scripts written for the upstream d8, which asks for confirmation; this one does not ask.
	f.BoolVarP(&o.yes, "yes", "y", false, "Do not ask for confirmation (this d8 never asks).")
	if a.force != "" {
		f.BoolVarP(&o.force, "force", "f", false, a.force)
	}
	if a.nodeSelector {
		f.StringVar(&o.nodeSelector, "node-selector", "", "Labels the target node must have, as key=value[,key=value...] (spec.migrate.nodeSelector).")
	}
	return cmd
}

func nodeSelectorExample(a lifecycleAction) string {
	if !a.nodeSelector {
		return ""
	}
	return fmt.Sprintf("\n  d8 v %s linux-vm --node-selector kubernetes.io/hostname=node-2", a.use)
}

// parseNodeSelector reads key=value[,key=value...] into labels, each a valid label.
func parseNodeSelector(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	out := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		key, value, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, fmt.Errorf("--node-selector %q: expected key=value[,key=value...]", s)
		}
		if errs := validation.IsQualifiedName(key); len(errs) > 0 {
			return nil, fmt.Errorf("--node-selector: label key %q: %s", key, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(value); len(errs) > 0 {
			return nil, fmt.Errorf("--node-selector: label value %q: %s", value, strings.Join(errs, "; "))
		}
		out[key] = value
	}
	return out, nil
}

// lifecycleTarget splits NAME.NAMESPACE as the upstream d8 and virtctl do.
func lifecycleTarget(arg string) (name, namespace string, err error) {
	if arg == "" || strings.HasPrefix(arg, ".") || strings.HasSuffix(arg, ".") {
		return "", "", fmt.Errorf("%q: expected NAME or NAME.NAMESPACE", arg)
	}
	name, namespace, _ = strings.Cut(arg, ".")
	return name, namespace, nil
}

func (o *lifecycleOptions) run(ctx context.Context, streams Streams, a lifecycleAction, target string) error {
	name, namespace, err := lifecycleTarget(target)
	if err != nil {
		return err
	}
	selector, err := parseNodeSelector(o.nodeSelector)
	if err != nil {
		return err
	}
	cfg, defaultNamespace, err := o.restConfig()
	if err != nil {
		return err
	}
	if namespace == "" {
		namespace = defaultNamespace
	}
	client, err := versioned.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("building the client: %w", err)
	}
	op := &v1alpha2.VirtualMachineOperation{
		ObjectMeta: metav1.ObjectMeta{GenerateName: name + "-", Namespace: namespace},
		Spec:       v1alpha2.VirtualMachineOperationSpec{Type: a.opType, VirtualMachine: name},
	}
	if o.force {
		op.Spec.Force = ptr.To(true)
	}
	if len(selector) > 0 {
		op.Spec.Migrate = &v1alpha2.VirtualMachineOperationMigrateSpec{NodeSelector: selector}
	}
	created, err := client.VirtualizationV1alpha2().VirtualMachineOperations(namespace).Create(ctx, op, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating the %s operation for VirtualMachine %s/%s: %w", a.opType, namespace, name, err)
	}
	fmt.Fprintf(streams.Out, "%s virtual machine %s/%s: VirtualMachineOperation %s created\n", a.doing, namespace, name, created.Name)
	if o.createOnly {
		return nil
	}

	final := opFinished
	if !o.wait {
		final = opTakenUp
	}
	waitCtx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	last, err := waitForOperation(waitCtx, client, created, final)
	switch {
	case errors.Is(err, errOperationDeleted):
		fmt.Fprintf(streams.ErrOut, "error: VirtualMachineOperation %s/%s was deleted before it finished\n", namespace, created.Name)
		return &exitError{code: ExitOperationFailed}
	case err != nil && waitCtx.Err() != nil && ctx.Err() == nil:
		fmt.Fprintf(streams.ErrOut, "error: gave up waiting after %s: VirtualMachineOperation %s/%s is %s%s\n",
			o.timeout, namespace, created.Name, opPhase(last), opDetail(last))
		return &exitError{code: ExitWaitTimedOut}
	case err != nil:
		return fmt.Errorf("waiting for VirtualMachineOperation %s/%s: %w", namespace, created.Name, err)
	}
	switch last.Status.Phase {
	case v1alpha2.VMOPPhaseCompleted:
		fmt.Fprintf(streams.Out, "Virtual machine %s/%s %s: VirtualMachineOperation %s completed%s\n", namespace, name, a.done, created.Name, opResult(a, last))
		return nil
	case v1alpha2.VMOPPhaseFailed, v1alpha2.VMOPPhaseSuperseded:
		fmt.Fprintf(streams.ErrOut, "error: virtual machine %s/%s was not %s: VirtualMachineOperation %s %s%s\n",
			namespace, name, a.done, created.Name, strings.ToLower(string(last.Status.Phase)), opDetail(last))
		return &exitError{code: ExitOperationFailed}
	}
	fmt.Fprintf(streams.Out, "VirtualMachineOperation %s/%s is %s%s\n", namespace, created.Name, last.Status.Phase, opDetail(last))
	return nil
}

func opFinished(p v1alpha2.VMOPPhase) bool {
	return p == v1alpha2.VMOPPhaseCompleted || p == v1alpha2.VMOPPhaseFailed || p == v1alpha2.VMOPPhaseSuperseded
}

func opTakenUp(p v1alpha2.VMOPPhase) bool {
	return opFinished(p) || p == v1alpha2.VMOPPhaseInProgress
}

func opPhase(op *v1alpha2.VirtualMachineOperation) string {
	if op == nil || op.Status.Phase == "" {
		return "not taken up by the controller yet"
	}
	return string(op.Status.Phase)
}

// opDetail is " (Reason): message" of the Completed condition, when it has a message.
func opDetail(op *v1alpha2.VirtualMachineOperation) string {
	if op == nil {
		return ""
	}
	c := meta.FindStatusCondition(op.Status.Conditions, "Completed")
	if c == nil || c.Message == "" {
		return ""
	}
	return fmt.Sprintf(" (%s): %s", c.Reason, c.Message)
}

// opResult is ": message" of the Completed condition for the commands that tell it.
func opResult(a lifecycleAction, op *v1alpha2.VirtualMachineOperation) string {
	c := meta.FindStatusCondition(op.Status.Conditions, "Completed")
	if !a.tellResult || c == nil || c.Message == "" {
		return ""
	}
	return ": " + c.Message
}

var errOperationDeleted = errors.New("the operation was deleted")

// waitForOperation watches one operation until done(phase); it returns the last state seen.
// The informer behind UntilWithSync re-lists and re-watches when a watch ends.
func waitForOperation(ctx context.Context, client versioned.Interface, op *v1alpha2.VirtualMachineOperation,
	done func(v1alpha2.VMOPPhase) bool) (*v1alpha2.VirtualMachineOperation, error) {
	ops := client.VirtualizationV1alpha2().VirtualMachineOperations(op.Namespace)
	byName := fields.OneTermEqualSelector("metadata.name", op.Name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = byName
			return ops.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = byName
			return ops.Watch(ctx, o)
		},
	}
	last := op
	_, err := watchtools.UntilWithSync(ctx, lw, &v1alpha2.VirtualMachineOperation{}, nil, func(ev watch.Event) (bool, error) {
		got, ok := ev.Object.(*v1alpha2.VirtualMachineOperation)
		if !ok || got.Name != op.Name {
			return false, nil
		}
		if ev.Type == watch.Deleted && got.UID == op.UID {
			return false, errOperationDeleted
		}
		last = got
		return done(got.Status.Phase), nil
	})
	return last, err
}

// restConfig loads the kubeconfig as kubectl does, and the namespace to use.
func (o *lifecycleOptions) restConfig() (*rest.Config, string, error) {
	return loadKubeconfig(o.kubeconfig, o.context, o.namespace)
}
