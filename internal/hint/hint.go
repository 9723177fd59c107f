// Package hint carries, with an error, what the person who meets it should
// do about it. The CLI prints the error as "Error: …" and the hint as
// "Try: …"; the scheduler puts the hint in its log line and alerts.
package hint

import "errors"

// Error is an error with a hint on what to do about it.
type Error struct {
	Err  error
	Hint string
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Wrap returns err with hint, or nil for a nil err.
func Wrap(err error, hint string) error {
	if err == nil {
		return nil
	}
	return &Error{Err: err, Hint: hint}
}

// Of returns the hint of the first error in err's chain that has one.
func Of(err error) string {
	var h interface{ Hint() string }
	if errors.As(err, &h) {
		return h.Hint()
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Hint
	}
	return ""
}
