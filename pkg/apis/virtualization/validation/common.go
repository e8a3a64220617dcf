// Package validation checks objects of the virtualization group against the API contract:
// enums, patterns, bounds, required fields, cross-field rules and update rules. Every error
// carries the field path of the offending value so the server answers 422 Invalid with it.
package validation

import (
	"fmt"
	"regexp"

	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	metaPath   = field.NewPath("metadata")
	specPath   = field.NewPath("spec")
	statusPath = field.NewPath("status")
)

// ValidateMeta checks the object's metadata; names must be DNS-1123 subdomains.
func ValidateMeta(meta *metav1.ObjectMeta, namespaced bool) field.ErrorList {
	return apivalidation.ValidateObjectMeta(meta, namespaced, apivalidation.NameIsDNSSubdomain, metaPath)
}

// ValidateMetaLabelName checks metadata for kinds whose names end up as DNS labels
// (pod names, host names): at most 63 characters, no dots.
func ValidateMetaLabelName(meta *metav1.ObjectMeta, namespaced bool) field.ErrorList {
	return apivalidation.ValidateObjectMeta(meta, namespaced, apivalidation.NameIsDNSLabel, metaPath)
}

// ValidateMetaUpdate checks the metadata rules of an update (immutable name, namespace, uid...).
func ValidateMetaUpdate(meta, old *metav1.ObjectMeta) field.ErrorList {
	return apivalidation.ValidateObjectMetaUpdate(meta, old, metaPath)
}

// ValidateConditions checks status.conditions: type, status enum, reason pattern, message
// length, observedGeneration and transition time.
func ValidateConditions(conds []metav1.Condition, fldPath *field.Path) field.ErrorList {
	return metav1validation.ValidateConditions(conds, fldPath)
}

// validateEnum reports a value outside the allowed set; an empty value is an error only when
// the field is required.
func validateEnum[T ~string](v T, required bool, fldPath *field.Path, allowed ...T) field.ErrorList {
	if v == "" {
		if required {
			return field.ErrorList{field.Required(fldPath, "")}
		}
		return nil
	}
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	return field.ErrorList{field.NotSupported(fldPath, v, names)}
}

// validatePattern reports a value that does not match re; empty values are skipped.
func validatePattern(v string, re *regexp.Regexp, fldPath *field.Path, what string) field.ErrorList {
	if v == "" || re.MatchString(v) {
		return nil
	}
	return field.ErrorList{field.Invalid(fldPath, v, fmt.Sprintf("must be %s", what))}
}

// requireNonEmpty reports a missing string.
func requireNonEmpty(v string, fldPath *field.Path) field.ErrorList {
	if v == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	return nil
}

// parseQuantity parses a Kubernetes quantity, reporting the field on failure.
func parseQuantity(v string, fldPath *field.Path) (resource.Quantity, *field.Error) {
	q, err := resource.ParseQuantity(v)
	if err != nil {
		return q, field.Invalid(fldPath, v, "must be a quantity such as 512Mi or 10Gi")
	}
	return q, nil
}

// parseIntOrStringQuantity parses an int-or-string quantity field; nil is allowed and returns nil.
func parseIntOrStringQuantity(v *intstr.IntOrString, fldPath *field.Path) (*resource.Quantity, *field.Error) {
	if v == nil {
		return nil, nil
	}
	if v.Type == intstr.Int {
		q := resource.NewQuantity(int64(v.IntVal), resource.BinarySI)
		return q, nil
	}
	q, err := parseQuantity(v.StrVal, fldPath)
	if err != nil {
		return nil, err
	}
	return &q, nil
}
