package importer

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// DefaultTerminationMessagePath is where the Result goes when EnvTerminationMessagePath is
// unset: the kubelet's default terminationMessagePath.
const DefaultTerminationMessagePath = "/dev/termination-log"

// EnvTerminationMessagePath overrides DefaultTerminationMessagePath; the local node, which
// runs importer Pods as processes, points it into the Pod's directory.
const EnvTerminationMessagePath = "IMPORTER_TERMINATION_MESSAGE_PATH"

// Config is everything an importer run needs. LoadConfig fills it from the environment of an
// importer Pod; the timing fields have production defaults and exist so tests can shorten them.
type Config struct {
	SourceType       string
	SourceURL        string
	SourceCABundle   []byte
	SourceDockerJSON []byte

	// Checksums maps an algorithm (md5, sha1, sha256, sha512) to the expected hex digest.
	Checksums map[string]string

	DestImage  string
	DestPath   string
	ScratchDir string

	DVCRToken      string
	DVCRDockerJSON []byte
	DVCRInsecure   bool
	DVCRCABundle   []byte

	Listen      string
	UploadToken string

	TerminationMessagePath string

	// HTTPAttempts bounds the tries of an HTTP download; HTTPBackoff is the first wait
	// between them, doubled each time.
	HTTPAttempts int
	HTTPBackoff  time.Duration
	// DVCRUnavailableWait bounds how long to wait for DVCR while it answers 503 (read-only
	// during garbage collection); DVCRUnavailablePoll is the wait between tries.
	DVCRUnavailableWait time.Duration
	DVCRUnavailablePoll time.Duration
	// ProgressInterval is how often the current speed is recomputed.
	ProgressInterval time.Duration
}

// withDefaults fills the timing fields left zero.
func (c Config) withDefaults() Config {
	if c.HTTPAttempts <= 0 {
		c.HTTPAttempts = 5
	}
	if c.HTTPBackoff <= 0 {
		c.HTTPBackoff = time.Second
	}
	if c.DVCRUnavailableWait <= 0 {
		c.DVCRUnavailableWait = 10 * time.Minute
	}
	if c.DVCRUnavailablePoll <= 0 {
		c.DVCRUnavailablePoll = 10 * time.Second
	}
	if c.ProgressInterval <= 0 {
		c.ProgressInterval = time.Second
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = DefaultTerminationMessagePath
	}
	return c
}

// LoadConfig reads the importer Pod's environment through getenv (os.Getenv in main).
func LoadConfig(getenv func(string) string) Config {
	c := Config{
		SourceType:             strings.TrimSpace(getenv(EnvSourceType)),
		SourceURL:              strings.TrimSpace(getenv(EnvSourceURL)),
		SourceCABundle:         []byte(getenv(EnvSourceCABundle)),
		SourceDockerJSON:       []byte(getenv(EnvSourceDockerConfig)),
		Checksums:              map[string]string{},
		DestImage:              strings.TrimSpace(getenv(EnvDestImage)),
		DestPath:               strings.TrimSpace(getenv(EnvDestPath)),
		ScratchDir:             strings.TrimSpace(getenv(EnvScratchDir)),
		DVCRToken:              strings.TrimSpace(getenv(EnvDVCRToken)),
		DVCRDockerJSON:         []byte(getenv(EnvDVCRDockerConfig)),
		DVCRInsecure:           strings.EqualFold(strings.TrimSpace(getenv(EnvDVCRInsecure)), "true"),
		DVCRCABundle:           []byte(getenv(EnvDVCRCABundle)),
		Listen:                 strings.TrimSpace(getenv(EnvListen)),
		UploadToken:            strings.TrimSpace(getenv(EnvUploadToken)),
		TerminationMessagePath: strings.TrimSpace(getenv(EnvTerminationMessagePath)),
	}
	for algo, env := range map[string]string{
		"md5": EnvChecksumMD5, "sha1": EnvChecksumSHA1, "sha256": EnvChecksumSHA256, "sha512": EnvChecksumSHA512,
	} {
		if v := strings.ToLower(strings.TrimSpace(getenv(env))); v != "" {
			c.Checksums[algo] = v
		}
	}
	return c.withDefaults()
}

// validate checks that the fields a mode needs are present.
func (c Config) validate(mode string) error {
	need := func(v, env string) error {
		if v == "" {
			return newError(ReasonConfiguration, false, "%s is required in %s mode", env, mode)
		}
		return nil
	}
	var errs []error
	switch mode {
	case ModeImport:
		errs = append(errs, need(c.SourceType, EnvSourceType), need(c.SourceURL, EnvSourceURL), need(c.DestImage, EnvDestImage))
		if c.SourceType == SourceBlank {
			errs = append(errs, newError(ReasonConfiguration, false, "source type %q cannot be imported into an image", c.SourceType))
		}
	case ModeUpload:
		errs = append(errs, need(c.DestImage, EnvDestImage), need(c.UploadToken, EnvUploadToken))
	case ModeFill:
		errs = append(errs, need(c.SourceType, EnvSourceType), need(c.DestPath, EnvDestPath))
		if c.SourceType != SourceBlank {
			errs = append(errs, need(c.SourceURL, EnvSourceURL))
		}
	default:
		return newError(ReasonConfiguration, false, "unknown mode %q: want %s, %s or %s", mode, ModeImport, ModeUpload, ModeFill)
	}
	switch c.SourceType {
	case "", SourceHTTP, SourceRegistry, SourceDVCR, SourceVolume, SourceBlank:
	default:
		errs = append(errs, newError(ReasonConfiguration, false, "unknown %s %q", EnvSourceType, c.SourceType))
	}
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// certPool returns the system pool with pemBundle added, or nil (the system pool) when the
// bundle is empty.
func certPool(pemBundle []byte) (*x509.CertPool, error) {
	if len(strings.TrimSpace(string(pemBundle))) == 0 {
		return nil, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pemBundle) {
		return nil, newError(ReasonConfiguration, false, "CA bundle holds no PEM certificate")
	}
	return pool, nil
}

// String names the run for logs without leaking secrets.
func (c Config) String() string {
	return fmt.Sprintf("source=%s:%s dest=%s%s", c.SourceType, redactURL(c.SourceURL), c.DestImage, c.DestPath)
}

// redactURL hides the password of a URL with credentials (http://user:pass@host/...) before
// it reaches the Pod's log.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}
