package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trustward/trustward/internal/fault"
)

// Actions follow FHIR AuditEvent.action: C create, R read, U update,
// D delete, E execute (search, sign-in, break-the-glass).
const (
	ActionCreate  = "C"
	ActionRead    = "R"
	ActionUpdate  = "U"
	ActionDelete  = "D"
	ActionExecute = "E"
)

// Outcomes follow FHIR AuditEvent.outcome: 0 success, 4 minor failure
// (denied), 8 serious failure, 12 major failure.
const (
	OutcomeSuccess = "0"
	OutcomeDenied  = "4"
	OutcomeFailure = "8"
	OutcomeMajor   = "12"
)

// Encoding version of the canonical form.
const CanonicalVersion = 1

// Event is one access to patient data (or one security-relevant action).
type Event struct {
	V  int    `json:"v"`
	ID string `json:"id"`
	// Time is when the access happened (UTC, microsecond precision).
	Time time.Time `json:"time"`
	// Actor is who acted.
	Actor Actor `json:"actor"`
	// PatientID is the internal id of the patient whose data was touched;
	// empty for events about no patient (sign-in).
	PatientID    string `json:"patient,omitempty"`
	ResourceType string `json:"resourceType,omitempty"`
	ResourceID   string `json:"resourceId,omitempty"`
	Action       string `json:"action"`
	// Subtype names the operation more precisely: "chart", "search",
	// "login", "break-glass", a FHIR interaction.
	Subtype string `json:"subtype,omitempty"`
	// Purpose is an HL7 PurposeOfUse code (TREAT, ETREAT, HPAYMT, ...).
	Purpose string `json:"purpose,omitempty"`
	Outcome string `json:"outcome"`
	// OutcomeDesc explains a denial or failure.
	OutcomeDesc string `json:"outcomeDesc,omitempty"`
	// Basis is why the policy allowed the access (care-team, encounter,
	// department, break-glass, self, role).
	Basis          string      `json:"basis,omitempty"`
	Source         string      `json:"source"`
	NetworkAddress string      `json:"address,omitempty"`
	UserAgent      string      `json:"userAgent,omitempty"`
	BreakGlass     *BreakGlass `json:"breakGlass,omitempty"`
}

// Actor is the person or system that acted.
type Actor struct {
	UserID string `json:"user"`
	Name   string `json:"name,omitempty"`
	Role   string `json:"role"`
	// PractitionerID links to the FHIR Practitioner when the user is staff.
	PractitionerID string `json:"practitioner,omitempty"`
	// Organization is the department or organisation the actor acted for.
	Organization string `json:"org,omitempty"`
}

// BreakGlass records an emergency access: a reason code and the
// clinician's own words.
type BreakGlass struct {
	GrantID    string `json:"grant"`
	ReasonCode string `json:"code"`
	Reason     string `json:"text"`
}

// Limits on field sizes keep a canonical event small and bound memory.
const (
	maxField = 256
	maxText  = 2000
	// maxCanonicalSize bounds the encoding of a valid event: 16 fields of
	// maxField and 3 of maxText bytes, each byte escaped to at most 6
	// (\u001f), come to 60,576 bytes, plus names and punctuation.
	maxCanonicalSize = 64 << 10
)

// Validate checks that an event is complete and well-formed.
func (e *Event) Validate() error {
	if e.V != CanonicalVersion {
		return fault.InvalidField("v", "unsupported event version %d", e.V)
	}
	check := func(name, v string, required bool, max int) error {
		if required && v == "" {
			return fault.InvalidField(name, "is required")
		}
		if len(v) > max {
			return fault.InvalidField(name, "is longer than %d bytes", max)
		}
		if !utf8.ValidString(v) {
			return fault.InvalidField(name, "is not valid UTF-8")
		}
		return nil
	}
	for _, f := range []struct {
		name, v  string
		required bool
		max      int
	}{
		{"id", e.ID, true, maxField},
		{"actor.user", e.Actor.UserID, true, maxField},
		{"actor.name", e.Actor.Name, false, maxField},
		{"actor.role", e.Actor.Role, true, maxField},
		{"actor.practitioner", e.Actor.PractitionerID, false, maxField},
		{"actor.org", e.Actor.Organization, false, maxField},
		{"patient", e.PatientID, false, maxField},
		{"resourceType", e.ResourceType, false, maxField},
		{"resourceId", e.ResourceID, false, maxField},
		{"subtype", e.Subtype, false, maxField},
		{"purpose", e.Purpose, false, maxField},
		{"outcomeDesc", e.OutcomeDesc, false, maxText},
		{"basis", e.Basis, false, maxField},
		{"source", e.Source, true, maxField},
		{"address", e.NetworkAddress, false, maxField},
		{"userAgent", e.UserAgent, false, maxText},
	} {
		if err := check(f.name, f.v, f.required, f.max); err != nil {
			return err
		}
	}
	switch e.Action {
	case ActionCreate, ActionRead, ActionUpdate, ActionDelete, ActionExecute:
	default:
		return fault.InvalidField("action", "%q is not one of C, R, U, D, E", e.Action)
	}
	switch e.Outcome {
	case OutcomeSuccess, OutcomeDenied, OutcomeFailure, OutcomeMajor:
	default:
		return fault.InvalidField("outcome", "%q is not one of 0, 4, 8, 12", e.Outcome)
	}
	// Judge the time as Canonical will write it: UTC, microseconds, and a
	// four-digit year, which RFC 3339 parsers and FHIR's instant (no year
	// 0) require.
	t := e.Time.UTC().Truncate(time.Microsecond)
	if t.IsZero() {
		return fault.InvalidField("time", "is required")
	}
	if y := t.Year(); y < 1 || y > 9999 {
		return fault.InvalidField("time", "year %d is outside 1 to 9999", y)
	}
	if e.BreakGlass != nil {
		if err := check("breakGlass.grant", e.BreakGlass.GrantID, false, maxField); err != nil {
			return err
		}
		if err := check("breakGlass.code", e.BreakGlass.ReasonCode, true, maxField); err != nil {
			return err
		}
		if err := check("breakGlass.text", e.BreakGlass.Reason, false, maxText); err != nil {
			return err
		}
	}
	return nil
}

// normalise puts an event in canonical shape: UTC time at microsecond
// precision (what both stores keep).
func (e *Event) normalise() {
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
}

// Canonical returns the canonical encoding of the event: compact JSON with
// fields in the fixed order of the Event type, empty optional fields
// omitted, no HTML escaping, UTC times with microseconds. Equal events have
// equal encodings, so a hash of the encoding commits to the event.
func (e Event) Canonical() ([]byte, error) {
	e.normalise()
	if err := e.Validate(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(canonicalForm(e)); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// canonicalTime fixes the time format: RFC 3339 with exactly six
// fractional digits, so that equal instants encode equally.
type canonicalTime time.Time

func (t canonicalTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format("2006-01-02T15:04:05.000000Z") + `"`), nil
}

type canonicalEvent struct {
	V              int           `json:"v"`
	ID             string        `json:"id"`
	Time           canonicalTime `json:"time"`
	Actor          Actor         `json:"actor"`
	PatientID      string        `json:"patient,omitempty"`
	ResourceType   string        `json:"resourceType,omitempty"`
	ResourceID     string        `json:"resourceId,omitempty"`
	Action         string        `json:"action"`
	Subtype        string        `json:"subtype,omitempty"`
	Purpose        string        `json:"purpose,omitempty"`
	Outcome        string        `json:"outcome"`
	OutcomeDesc    string        `json:"outcomeDesc,omitempty"`
	Basis          string        `json:"basis,omitempty"`
	Source         string        `json:"source"`
	NetworkAddress string        `json:"address,omitempty"`
	UserAgent      string        `json:"userAgent,omitempty"`
	BreakGlass     *BreakGlass   `json:"breakGlass,omitempty"`
}

func canonicalForm(e Event) canonicalEvent {
	return canonicalEvent{e.V, e.ID, canonicalTime(e.Time), e.Actor, e.PatientID, e.ResourceType, e.ResourceID,
		e.Action, e.Subtype, e.Purpose, e.Outcome, e.OutcomeDesc, e.Basis, e.Source, e.NetworkAddress, e.UserAgent, e.BreakGlass}
}

// ParseCanonical decodes a canonical encoding strictly: unknown fields,
// trailing data, invalid events and non-canonical forms are rejected, so
// that exactly one byte string stands for each event.
func ParseCanonical(b []byte) (Event, error) {
	var e Event
	if len(b) > maxCanonicalSize {
		return e, fault.New(fault.TooLarge, "canonical event is larger than 64 KiB")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, fault.Wrap(fault.Invalid, err, "canonical event is not valid")
	}
	if dec.More() {
		return e, fault.New(fault.Invalid, "canonical event has trailing data")
	}
	again, err := e.Canonical()
	if err != nil {
		return e, err
	}
	if !bytes.Equal(again, b) {
		return e, fault.New(fault.Invalid, "event encoding is not canonical")
	}
	e.normalise()
	return e, nil
}

// String describes an event for debugging without its contents.
func (e Event) String() string {
	return fmt.Sprintf("event %s action=%s outcome=%s", e.ID, e.Action, e.Outcome)
}

// trimUA keeps user agents within the field limit.
func trimUA(s string) string {
	if len(s) <= maxText {
		return s
	}
	s = s[:maxText]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return strings.ToValidUTF8(s, "")
}
