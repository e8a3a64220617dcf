package importer

import (
	"context"
	"errors"
	"fmt"
)

// Reasons in Result.Reason. The controller copies them into conditions, so they are part of
// the importer's output contract alongside contract.go.
const (
	ReasonSourceNotFound    = "SourceNotFound"
	ReasonSourceError       = "SourceError"
	ReasonUnsupportedFormat = "UnsupportedFormat"
	ReasonTruncated         = "Truncated"
	ReasonCorrupt           = "Corrupt"
	ReasonChecksumMismatch  = "ChecksumMismatch"
	ReasonTargetTooSmall    = "TargetTooSmall"
	ReasonDestinationError  = "DestinationError"
	ReasonConversionFailed  = "ConversionFailed"
	ReasonConfiguration     = "InvalidConfiguration"
	ReasonUploadConflict    = "UploadConflict"
	ReasonCanceled          = "Canceled"
	ReasonInternal          = "InternalError"
)

// Error is a failure with the reason and retryability the Result reports. Errors from deeper
// layers are wrapped in one as soon as their cause is known, and stay recognisable through
// any further fmt.Errorf("...: %w") wrapping.
type Error struct {
	Reason    string
	Retryable bool
	Err       error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// newError builds an *Error with a formatted message.
func newError(reason string, retryable bool, format string, args ...any) error {
	return &Error{Reason: reason, Retryable: retryable, Err: fmt.Errorf(format, args...)}
}

// withReason wraps err in an *Error unless it already carries a reason.
func withReason(reason string, retryable bool, err error) error {
	if err == nil {
		return nil
	}
	var ie *Error
	if errors.As(err, &ie) {
		return err
	}
	return &Error{Reason: reason, Retryable: retryable, Err: err}
}

// ReasonOf returns the reason carried by err, or ReasonInternal.
func ReasonOf(err error) string {
	var ie *Error
	if errors.As(err, &ie) {
		return ie.Reason
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return ReasonCanceled
	}
	return ReasonInternal
}

// failureResult turns err into the Result of a failed run.
func failureResult(err error) Result {
	r := Result{Error: err.Error(), Reason: ReasonOf(err)}
	var ie *Error
	if errors.As(err, &ie) {
		r.Retryable = ie.Retryable
	} else {
		// Unclassified failures are usually environmental; another attempt is cheap.
		r.Retryable = true
	}
	return r
}
