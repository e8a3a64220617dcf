package resource

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apiserver/pkg/registry/rest"
)

// Column is one printer column after the Name column.
type Column[T Object] struct {
	Name     string
	Type     string // string, integer, boolean or date, as in the API reference
	Priority int32  // 1 shows only with -o wide
	// Value returns the cell; nil prints as <none>.
	Value func(obj T) interface{}
}

// Table writes kubectl tables of a kind: the Name column, then the kind's columns.
type Table[T Object] struct {
	columns []Column[T]
	defs    []metav1.TableColumnDefinition
}

var _ rest.TableConvertor = &Table[Object]{}

// NewTable returns a table writer for the given columns.
func NewTable[T Object](columns []Column[T]) *Table[T] {
	defs := []metav1.TableColumnDefinition{{
		Name: "Name", Type: "string", Format: "name",
		Description: metav1.ObjectMeta{}.SwaggerDoc()["name"],
	}}
	for _, c := range columns {
		defs = append(defs, metav1.TableColumnDefinition{Name: c.Name, Type: c.Type, Priority: c.Priority})
	}
	return &Table[T]{columns: columns, defs: defs}
}

// Columns returns the column definitions, Name first.
func (t *Table[T]) Columns() []metav1.TableColumnDefinition { return t.defs }

// ConvertToTable implements rest.TableConvertor for one object or a list.
func (t *Table[T]) ConvertToTable(_ context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	table := &metav1.Table{}
	if opts, ok := tableOptions.(*metav1.TableOptions); !ok || !opts.NoHeaders {
		table.ColumnDefinitions = t.defs
	}
	add := func(obj runtime.Object) error {
		o, ok := obj.(T)
		if !ok {
			return fmt.Errorf("unexpected object %T in table", obj)
		}
		cells := make([]interface{}, 0, len(t.defs))
		cells = append(cells, o.GetName())
		for _, c := range t.columns {
			cells = append(cells, c.Value(o))
		}
		table.Rows = append(table.Rows, metav1.TableRow{Cells: cells, Object: runtime.RawExtension{Object: obj}})
		return nil
	}
	if meta.IsListType(object) {
		if err := meta.EachListItem(object, add); err != nil {
			return nil, err
		}
		if l, err := meta.ListAccessor(object); err == nil {
			table.ResourceVersion = l.GetResourceVersion()
			table.Continue = l.GetContinue()
			table.RemainingItemCount = l.GetRemainingItemCount()
		}
	} else {
		if err := add(object); err != nil {
			return nil, err
		}
		if m, err := meta.Accessor(object); err == nil {
			table.ResourceVersion = m.GetResourceVersion()
		}
	}
	return table, nil
}

// Age prints a timestamp as kubectl prints ages; nil when unset.
func Age(ts *metav1.Time) interface{} {
	if ts == nil || ts.IsZero() {
		return nil
	}
	return duration.HumanDuration(time.Since(ts.Time))
}

// CreatedAge is the age column every kind ends with, under the reference's name.
func CreatedAge[T Object](name string) Column[T] {
	return Column[T]{Name: name, Type: "date", Value: func(o T) interface{} {
		ts := o.GetCreationTimestamp()
		return Age(&ts)
	}}
}

// String prints a string cell, nil when empty.
func String[S ~string](s S) interface{} {
	if s == "" {
		return nil
	}
	return string(s)
}

// ConditionStatus prints the status of the condition of the given type, nil when absent.
func ConditionStatus(conds []metav1.Condition, condType string) interface{} {
	c := meta.FindStatusCondition(conds, condType)
	if c == nil {
		return nil
	}
	return string(c.Status)
}

// Bool prints an optional boolean, nil when unset.
func Bool(b *bool) interface{} {
	if b == nil {
		return nil
	}
	return *b
}
