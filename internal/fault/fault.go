// Package fault defines the small set of error kinds that every part of
// Trustward returns to its callers: not found, invalid input, conflict,
// forbidden, unauthenticated and unavailable. The web layer maps a kind to an
// HTTP status in one place; the message of a fault is safe to show to the
// client, while the wrapped cause is only logged.
//
// It must never carry patient data in a message.
package fault

import (
	"errors"
	"fmt"
)

// Kind is the class of an error as a client should see it.
type Kind int

const (
	// Internal is any error that is not one of the kinds below.
	Internal Kind = iota
	NotFound
	Invalid
	Conflict
	Forbidden
	Unauthenticated
	Unavailable
	TooLarge
)

func (k Kind) String() string {
	switch k {
	case NotFound:
		return "not found"
	case Invalid:
		return "invalid input"
	case Conflict:
		return "conflict"
	case Forbidden:
		return "forbidden"
	case Unauthenticated:
		return "unauthenticated"
	case Unavailable:
		return "unavailable"
	case TooLarge:
		return "too large"
	}
	return "internal error"
}

// Error is an error of a known kind. Msg is written for the client; Err is the
// underlying cause, kept for logs.
type Error struct {
	Kind Kind
	Msg  string
	// Field names the input that was wrong, when there is one (a setting, a
	// JSON path, a form field).
	Field string
	Err   error
}

func (e *Error) Error() string {
	s := e.Msg
	if e.Field != "" {
		s = e.Field + ": " + s
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error of kind k with a client message.
func New(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of kind k that keeps err as its cause.
func Wrap(k Kind, err error, format string, args ...any) error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...), Err: err}
}

// InvalidField reports invalid input in a named field.
func InvalidField(field, format string, args ...any) error {
	return &Error{Kind: Invalid, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Message returns what a client may be told about err: the message of the
// outermost *Error, or a generic text for internal errors, whose details
// belong in the log only.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) {
		if e.Field != "" {
			return e.Field + ": " + e.Msg
		}
		return e.Msg
	}
	return "internal error"
}

// Is reports whether err is of kind k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }
