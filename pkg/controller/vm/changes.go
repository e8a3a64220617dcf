package vm

import (
	"encoding/json"
	"reflect"
	"sort"

	"k8s.io/apimachinery/pkg/runtime"

	v1alpha2 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

// Change is one entry of status.restartAwaitingChanges, shaped as the user guide shows it.
type Change struct {
	Operation    string `json:"operation"`
	Path         string `json:"path"`
	CurrentValue any    `json:"currentValue,omitempty"`
	DesiredValue any    `json:"desiredValue,omitempty"`
}

// Fields of the spec that a running VM takes without a restart (the guide's table).
var appliedLive = map[string]bool{
	"runPolicy":           true,
	"liveMigrationPolicy": true,
	"disruptions":         true,
}

// PendingChanges lists what differs between the spec a VM runs with and its current spec,
// leaving out what applies at once. Lists are compared whole, as a user edits them.
func PendingChanges(running, desired *v1alpha2.VirtualMachineSpec) ([]Change, error) {
	a, err := specMap(running)
	if err != nil {
		return nil, err
	}
	b, err := specMap(desired)
	if err != nil {
		return nil, err
	}
	for k := range appliedLive {
		delete(a, k)
		delete(b, k)
	}
	var out []Change
	diff("", a, b, &out)
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func specMap(spec *v1alpha2.VirtualMachineSpec) (map[string]any, error) {
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	return m, json.Unmarshal(raw, &m)
}

func diff(prefix string, a, b map[string]any, out *[]Change) {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	for k := range keys {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		av, inA := a[k]
		bv, inB := b[k]
		switch {
		case !inA:
			*out = append(*out, Change{Operation: "add", Path: path, DesiredValue: bv})
		case !inB:
			*out = append(*out, Change{Operation: "remove", Path: path, CurrentValue: av})
		default:
			am, aIsMap := av.(map[string]any)
			bm, bIsMap := bv.(map[string]any)
			if aIsMap && bIsMap {
				diff(path, am, bm, out)
			} else if !reflect.DeepEqual(av, bv) {
				*out = append(*out, Change{Operation: "replace", Path: path, CurrentValue: av, DesiredValue: bv})
			}
		}
	}
}

// RawChanges renders changes for the status field.
func RawChanges(changes []Change) ([]runtime.RawExtension, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	out := make([]runtime.RawExtension, 0, len(changes))
	for _, c := range changes {
		raw, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		out = append(out, runtime.RawExtension{Raw: raw})
	}
	return out, nil
}
