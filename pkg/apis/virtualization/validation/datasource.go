package validation

import (
	"fmt"
	"regexp"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
)

// Patterns of the data sources shared by ClusterVirtualImage, VirtualImage and VirtualDisk.
// They are the published schema patterns, compiled once.
var (
	// containerImageRe matches registry/repository[:tag][@digest].
	containerImageRe = regexp.MustCompile(`^(?P<name>(?:(?P<domain>(?:(?:localhost|[\w-]+(?:\.[\w-]+)+)(?::\d+)?)|[\w]+:\d+)/)?(?P<image>[a-z0-9_.-]+(?:/[a-z0-9_.-]+)*))(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[+.-_][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$`)
	// httpURLRe matches an http:// or https:// URL made of URL-safe characters.
	httpURLRe = regexp.MustCompile(`^http[s]?:\/\/(?:[a-zA-Z]|[0-9]|[$-_@.&+]|[!*\(\),]|(?:%[0-9a-fA-F][0-9a-fA-F]))+$`)

	hex32Re  = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)
	hex40Re  = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)
	hex64Re  = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	hex128Re = regexp.MustCompile(`^[0-9a-fA-F]{128}$`)
)

// dataSourceTypes are the accepted values of dataSource.type.
var dataSourceTypes = []virtualization.DataSourceType{
	virtualization.DataSourceTypeHTTP,
	virtualization.DataSourceTypeContainerImage,
	virtualization.DataSourceTypeObjectRef,
	virtualization.DataSourceTypeUpload,
}

// dataSourceShape says which parts of a dataSource are set, independently of the kind.
type dataSourceShape struct {
	typ            virtualization.DataSourceType
	typeRequired   bool
	http           bool
	containerImage bool
	objectRef      bool
	upload         bool
}

// dataSource is what the three data source types of images and disks share; the objectRef
// differs per kind and is checked by the caller.
type dataSource struct {
	typ          virtualization.DataSourceType
	typeRequired bool
	http         *virtualization.DataSourceHTTP
	upload       *virtualization.DataSourceUpload
	image        *string // containerImage.image, nil without containerImage
	hasObjectRef bool
}

// validateDataSource checks the one-of rule and the shared sources of a dataSource.
func validateDataSource(ds dataSource, dsPath *field.Path) field.ErrorList {
	errs := validateDataSourceShape(dataSourceShape{
		typ:            ds.typ,
		typeRequired:   ds.typeRequired,
		http:           ds.http != nil,
		containerImage: ds.image != nil,
		objectRef:      ds.hasObjectRef,
		upload:         ds.upload != nil,
	}, dsPath)
	errs = append(errs, validateHTTPSource(ds.http, dsPath.Child("http"))...)
	errs = append(errs, validateUploadSource(ds.upload, dsPath.Child("upload"))...)
	if ds.image != nil {
		errs = append(errs, validateContainerImageRef(*ds.image, dsPath.Child("containerImage", "image"))...)
	}
	return errs
}

func (s dataSourceShape) any() bool {
	return s.http || s.containerImage || s.objectRef || s.upload
}

// validateDataSourceShape checks dataSource.type and the one-of rule between the type and the
// http, containerImage, objectRef and upload sub-objects. A missing sub-object is reported at
// its own path (Required), an extra one at its own path (Forbidden).
func validateDataSourceShape(s dataSourceShape, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	typePath := fldPath.Child("type")
	if s.typ == "" {
		if s.typeRequired {
			return append(errs, field.Required(typePath, "choose HTTP, ContainerImage, ObjectRef or Upload"))
		}
		if s.any() {
			errs = append(errs, field.Required(typePath, "must name the kind of source when a source is given"))
		}
		return errs
	}
	if e := validateEnum(s.typ, true, typePath, dataSourceTypes...); len(e) > 0 {
		return e
	}

	type part struct {
		name string
		set  bool
		typ  virtualization.DataSourceType
	}
	parts := []part{
		{"http", s.http, virtualization.DataSourceTypeHTTP},
		{"containerImage", s.containerImage, virtualization.DataSourceTypeContainerImage},
		{"objectRef", s.objectRef, virtualization.DataSourceTypeObjectRef},
		{"upload", s.upload, virtualization.DataSourceTypeUpload},
	}
	for _, p := range parts {
		switch {
		case p.typ == s.typ && !p.set && p.typ != virtualization.DataSourceTypeUpload:
			errs = append(errs, field.Required(fldPath.Child(p.name), fmt.Sprintf("needed by type %s", s.typ)))
		case p.typ != s.typ && p.set:
			errs = append(errs, field.Forbidden(fldPath.Child(p.name), fmt.Sprintf("not allowed with type %s", s.typ)))
		}
	}
	return errs
}

// validateChecksum checks that every digest given has the exact hex length of its algorithm.
func validateChecksum(c *virtualization.Checksum, fldPath *field.Path) field.ErrorList {
	if c == nil {
		return nil
	}
	var errs field.ErrorList
	check := func(v string, re *regexp.Regexp, n int, name string) {
		if v != "" && !re.MatchString(v) {
			errs = append(errs, field.Invalid(fldPath.Child(name), v, fmt.Sprintf("must be exactly %d hexadecimal characters", n)))
		}
	}
	check(c.MD5, hex32Re, 32, "md5")
	check(c.SHA1, hex40Re, 40, "sha1")
	check(c.SHA256, hex64Re, 64, "sha256")
	check(c.SHA512, hex128Re, 128, "sha512")
	check(c.Streebog256, hex64Re, 64, "streebog256")
	check(c.Streebog512, hex128Re, 128, "streebog512")
	return errs
}

// validateHTTPSource checks an http data source: a required http(s) URL and optional checksums.
func validateHTTPSource(h *virtualization.DataSourceHTTP, fldPath *field.Path) field.ErrorList {
	if h == nil {
		return nil
	}
	var errs field.ErrorList
	urlPath := fldPath.Child("url")
	if h.URL == "" {
		errs = append(errs, field.Required(urlPath, "the http(s) address of the file"))
	} else {
		errs = append(errs, validatePattern(h.URL, httpURLRe, urlPath, "an http:// or https:// URL without spaces or unsafe characters")...)
	}
	errs = append(errs, validateChecksum(h.Checksum, fldPath.Child("checksum"))...)
	return errs
}

// validateUploadSource checks an upload data source.
func validateUploadSource(u *virtualization.DataSourceUpload, fldPath *field.Path) field.ErrorList {
	if u == nil {
		return nil
	}
	return validateChecksum(u.Checksum, fldPath.Child("checksum"))
}

// validateContainerImageRef checks the required image reference of a containerImage source.
func validateContainerImageRef(image string, fldPath *field.Path) field.ErrorList {
	if image == "" {
		return field.ErrorList{field.Required(fldPath, "the image reference, such as registry.example.com/images/ubuntu:22.04")}
	}
	return validatePattern(image, containerImageRe, fldPath, "an image reference of the form [registry/]repository[:tag][@digest]")
}

// validateObjectRefName checks the required name of an objectRef.
func validateObjectRefName(name string, fldPath *field.Path) field.ErrorList {
	return requireNonEmpty(name, fldPath)
}

// validateFrozenOnceReady forbids any change of spec once the object reached the Ready phase.
func validateFrozenOnceReady(ready bool, spec, oldSpec any, fldPath *field.Path, what string) field.ErrorList {
	if !ready || apiequality.Semantic.DeepEqual(spec, oldSpec) {
		return nil
	}
	return field.ErrorList{field.Forbidden(fldPath, fmt.Sprintf("cannot be changed once the %s is Ready", what))}
}

// validateSpecImmutable forbids any change of spec after creation (one-shot requests).
func validateSpecImmutable(spec, oldSpec any, what string) field.ErrorList {
	if apiequality.Semantic.DeepEqual(spec, oldSpec) {
		return nil
	}
	return field.ErrorList{field.Forbidden(specPath, fmt.Sprintf("is immutable: create a new %s instead", what))}
}
