// Package importer moves image data: from an HTTP server, a container registry or DVCR, or
// from a user's upload, into a DVCR image or onto a volume, detecting the format, unpacking
// gz/xz as a stream and verifying checksums. virtualization-importer runs it in importer Pods.
//
// This file is the contract between the controller, which writes importer Pods, and the
// importer, which runs in them: the mode is the first argument, everything else is an
// environment variable (so secrets can come from secretKeyRef), the result is the Pod's
// termination message, and progress is served over HTTP on the Pod's address.
package importer

// Modes: the first argument of virtualization-importer.
const (
	// ModeImport copies a source (HTTP, registry, DVCR, volume) into a DVCR image.
	ModeImport = "import"
	// ModeUpload serves one upload (plain body or tus 1.0) and writes it into a DVCR image.
	ModeUpload = "upload"
	// ModeFill writes a DVCR image (or another volume) onto a volume (block device or file),
	// converted to raw; with source type blank it only checks the volume.
	ModeFill = "fill"
)

// Source types (EnvSourceType).
const (
	SourceHTTP     = "http"     // EnvSourceURL is an http(s) URL
	SourceRegistry = "registry" // EnvSourceURL is an image reference; the disk is the file under /disk/
	SourceDVCR     = "dvcr"     // EnvSourceURL is a DVCR image reference written by this importer
	SourceVolume   = "volume"   // EnvSourceURL is the path of a block device or file holding a raw disk (another PVC)
	SourceBlank    = "blank"    // fill only: nothing to copy
)

// Environment variables of importer Pods.
const (
	EnvSourceType = "IMPORTER_SOURCE_TYPE"
	EnvSourceURL  = "IMPORTER_SOURCE_URL"
	// EnvSourceCABundle is a PEM bundle trusted for the source's TLS.
	EnvSourceCABundle = "IMPORTER_SOURCE_CA_BUNDLE"
	// EnvSourceDockerConfig is the content of a kubernetes.io/dockerconfigjson Secret
	// (.dockerconfigjson) with credentials for a registry source.
	EnvSourceDockerConfig = "IMPORTER_SOURCE_DOCKER_CONFIG_JSON"
	// Expected digests (hex) of the source file as downloaded or uploaded (before unpacking).
	EnvChecksumMD5    = "IMPORTER_CHECKSUM_MD5"
	EnvChecksumSHA1   = "IMPORTER_CHECKSUM_SHA1"
	EnvChecksumSHA256 = "IMPORTER_CHECKSUM_SHA256"
	EnvChecksumSHA512 = "IMPORTER_CHECKSUM_SHA512"
	// EnvDestImage is the DVCR image reference to write (import, upload).
	EnvDestImage = "IMPORTER_DEST_IMAGE"
	// EnvDestPath is the block device or file to fill (fill).
	EnvDestPath = "IMPORTER_DEST_PATH"
	// EnvScratchDir is a directory (an emptyDir) for formats that must be converted to raw
	// with qemu-img before they can be written to a volume.
	EnvScratchDir = "IMPORTER_SCRATCH_DIR"
	// EnvDVCRToken is a bearer token for DVCR, scoped to the repositories this Pod needs.
	EnvDVCRToken = "IMPORTER_DVCR_TOKEN"
	// EnvDVCRDockerConfig is a dockerconfigjson document with credentials for an external
	// OCI registry configured in place of DVCR (which takes EnvDVCRToken instead).
	EnvDVCRDockerConfig = "IMPORTER_DVCR_DOCKER_CONFIG_JSON"
	// EnvDVCRInsecure "true" talks plain HTTP to DVCR.
	EnvDVCRInsecure = "IMPORTER_DVCR_INSECURE"
	// EnvDVCRCABundle is a PEM bundle trusted for DVCR's TLS.
	EnvDVCRCABundle = "IMPORTER_DVCR_CA_BUNDLE"
	// EnvListen is host:port where the importer serves GET /progress (and, in upload mode,
	// the upload endpoints). Usually "$(POD_IP):8080".
	EnvListen = "IMPORTER_LISTEN"
	// EnvUploadToken is the secret path element of the upload URL: /upload/<token>.
	EnvUploadToken = "IMPORTER_UPLOAD_TOKEN"
)

// Port is the container port the controller gives EnvListen.
const Port = 8080

// Paths served on EnvListen.
const (
	// PathProgress answers GET with a Progress document.
	PathProgress = "/progress"
	// PathUpload + "/" + token takes the upload: PUT/POST with the whole file as the body,
	// or the tus 1.0 protocol (requests with a Tus-Resumable header: POST creates the upload,
	// HEAD tells its offset, PATCH appends) on the same URL: there is one upload per Pod.
	PathUpload = "/upload"
)

// Progress is what GET /progress returns while the importer works.
type Progress struct {
	// Stage: "Waiting" (upload not started), "Transferring", "Converting", "Done".
	Stage string `json:"stage"`
	// Percent of the source read, 0-100; -1 while the total is unknown.
	Percent float64 `json:"percent"`
	// BytesDone and BytesTotal count source bytes (BytesTotal 0 when unknown).
	BytesDone  int64 `json:"bytesDone"`
	BytesTotal int64 `json:"bytesTotal"`
	// AvgSpeed and CurrentSpeed in bytes per second.
	AvgSpeed     int64 `json:"avgSpeed"`
	CurrentSpeed int64 `json:"currentSpeed"`
}

// Result is the termination message (JSON, at the container's terminationMessagePath) the
// importer writes when it ends, successfully or not.
type Result struct {
	// Format detected from the content: qcow2, raw, vmdk, vdi or iso.
	Format string `json:"format,omitempty"`
	// StoredBytes is the size of the image as stored in DVCR (unpacked from gz/xz).
	StoredBytes int64 `json:"storedBytes,omitempty"`
	// UnpackedBytes is the virtual size of the disk.
	UnpackedBytes int64 `json:"unpackedBytes,omitempty"`
	CDROM         bool  `json:"cdrom,omitempty"`
	// Digest of the written DVCR manifest ("sha256:...").
	Digest string `json:"digest,omitempty"`
	// Error says what went wrong, in a sentence a user can act on; empty on success.
	Error string `json:"error,omitempty"`
	// Reason is a CamelCase cause for Error (e.g. ChecksumMismatch, SourceNotFound,
	// UnsupportedFormat, Truncated, TargetTooSmall).
	Reason string `json:"reason,omitempty"`
	// Retryable is true when running again may succeed (network, server errors).
	Retryable bool `json:"retryable,omitempty"`
}
