package audit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trustward/trustward/internal/fault"
)

// This file maps an Event to and from a FHIR R4 AuditEvent, in the style of
// the IHE Basic Audit Log Patterns (BALP). It does not claim a BALP profile
// in meta.profile: BALP also asks for client and server agents that an
// Event does not know.
//
// Where each Event field lives (ToFHIR writes it there; EventFromFHIR
// reads it back from there first, then from the places noted):
//
//	ID                    id (verbatim; Trustward's hex ids are valid FHIR ids)
//	Time                  recorded, UTC with six fractional digits
//	Action                action
//	Subtype               subtype[0]: login/logout are DCM 110122/110123,
//	                      break-glass is DCM 110127 "Emergency Override
//	                      Started", FHIR interactions use restful-interaction,
//	                      anything else the Trustward subtype code system.
//	                      type is derived from it (see eventType) and not
//	                      read back.
//	Purpose               purposeOfEvent[0] coded in v3-ActReason
//	                      (read: also agent.purposeOfUse)
//	Outcome, OutcomeDesc  outcome, outcomeDesc
//	Actor.UserID          agent[0].who.identifier (system urn:trustward:user)
//	                      (read: the requestor agent, else agent[0]; its
//	                      who.identifier.value, else who.reference)
//	Actor.PractitionerID  agent[0].who.reference "Practitioner/<id>"
//	Actor.Name            agent[0].who.display (read: also agent.name)
//	Actor.Role            agent[0].role[0].text (read: also role coding)
//	Actor.Organization    agent[1], a non-requestor agent whose who is the
//	                      Organization (identifier system
//	                      urn:trustward:organization). R4 has no element for
//	                      "acted for": agent.location is a Location and
//	                      altId is another id of the same user, so the
//	                      organisation is the agent it is in FHIR's model.
//	NetworkAddress        agent[0].network, type 2 (IP) or 1 (name)
//	                      (read: also the DCM 110153 Source Role ID agent,
//	                      where BALP puts the client's address)
//	Source                source.observer display and identifier
//	                      (read: display, else identifier, else reference)
//	PatientID             entity what "Patient/<id>", type 1 Person,
//	                      role 1 Patient
//	ResourceType/ID       entity what "<type>/<id>" (and what.type), type 2
//	                      System Object, role 4 Domain Resource. It is written
//	                      even when the resource is the Patient itself, as
//	                      BALP does, so that a read of a Patient resource and
//	                      an access to a patient's chart stay distinct.
//	BreakGlass            entity role 13 Security Resource: the grant id in
//	                      what.identifier, details "reasonCode" and "reason"
//	Basis, UserAgent      details "basis" and "userAgent" of an entity of
//	                      type 4 Other (read: from any entity)
//
// A FHIR string may not be empty, so empty optional fields are left out, and
// an empty string read from outside counts as absent. Every valid Event
// survives ToFHIR and EventFromFHIR unchanged; the output is also valid
// against the R4 JSON schema as long as the event's ids and codes fit FHIR's
// id and code types, which Trustward's own do.

// Code systems and identifier systems used in the mapping.
const (
	systemDICOM          = "http://dicom.nema.org/resources/ontology/DCM"
	systemEventType      = "http://terminology.hl7.org/CodeSystem/audit-event-type"
	systemRestful        = "http://hl7.org/fhir/restful-interaction"
	systemActReason      = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
	systemParticipation  = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	systemRoleClass      = "http://terminology.hl7.org/CodeSystem/v3-RoleClass"
	systemSecurityRole   = "http://terminology.hl7.org/CodeSystem/extra-security-role-type"
	systemSourceType     = "http://terminology.hl7.org/CodeSystem/security-source-type"
	systemEntityType     = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
	systemObjectRole     = "http://terminology.hl7.org/CodeSystem/object-role"
	systemSubtype        = "https://trustward.example/fhir/CodeSystem/event-subtype"
	identUser            = "urn:trustward:user"
	identOrganization    = "urn:trustward:organization"
	identSource          = "urn:trustward:source"
	identResource        = "urn:trustward:resource"
	identBreakGlassGrant = "urn:trustward:break-glass-grant"
)

// Names of entity details.
const (
	detailBasis      = "basis"
	detailUserAgent  = "userAgent"
	detailReasonCode = "reasonCode"
	detailReason     = "reason"
)

// UnknownRole is the Actor.Role of an event read from an external system
// whose actor carries no role: an Event requires one, and inventing a real
// role would be worse than saying it is not known.
const UnknownRole = "unknown"

// Limits on an AuditEvent read from outside.
const (
	maxFHIRSize  = 1 << 20
	maxFHIRDepth = 64
)

// fhirInstant is the R4 instant type: seconds and a zone are required.
var fhirInstant = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$`)

// isRestfulInteraction reports whether a subtype is a code of
// http://hl7.org/fhir/restful-interaction in R4: a RESTful operation.
func isRestfulInteraction(subtype string) bool {
	switch subtype {
	case "read", "vread", "update", "patch", "delete",
		"history", "history-instance", "history-type", "history-system",
		"create", "search", "search-type", "search-system",
		"capabilities", "transaction", "batch", "operation":
		return true
	}
	return false
}

// dicomSubtype is the DICOM code of the Trustward subtypes that DICOM names.
func dicomSubtype(subtype string) (fhirCoding, bool) {
	switch subtype {
	case "login":
		return fhirCoding{System: systemDICOM, Code: "110122", Display: "Login"}, true
	case "logout":
		return fhirCoding{System: systemDICOM, Code: "110123", Display: "Logout"}, true
	case "break-glass":
		return fhirCoding{System: systemDICOM, Code: "110127", Display: "Emergency Override Started"}, true
	}
	return fhirCoding{}, false
}

// purposeDisplay is the display of the v3-ActReason codes Trustward uses.
func purposeDisplay(code string) string {
	switch code {
	case "TREAT":
		return "treatment"
	case "ETREAT":
		return "Emergency Treatment"
	case "HPAYMT":
		return "healthcare payment"
	case "HOPERAT":
		return "healthcare operations"
	case "PATRQT":
		return "patient requested"
	}
	return ""
}

type fhirCoding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

type fhirConcept struct {
	Coding []fhirCoding `json:"coding,omitempty"`
	Text   string       `json:"text,omitempty"`
}

type fhirIdentifier struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value,omitempty"`
}

type fhirReference struct {
	Reference  string          `json:"reference,omitempty"`
	Type       string          `json:"type,omitempty"`
	Identifier *fhirIdentifier `json:"identifier,omitempty"`
	Display    string          `json:"display,omitempty"`
}

type fhirNetwork struct {
	Address string `json:"address"`
	Type    string `json:"type"`
}

type fhirAgent struct {
	Type      *fhirConcept  `json:"type,omitempty"`
	Role      []fhirConcept `json:"role,omitempty"`
	Who       fhirReference `json:"who"`
	Requestor bool          `json:"requestor"`
	Network   *fhirNetwork  `json:"network,omitempty"`
}

type fhirSource struct {
	Observer fhirReference `json:"observer"`
	Type     []fhirCoding  `json:"type"`
}

type fhirDetail struct {
	Type        string `json:"type"`
	ValueString string `json:"valueString"`
}

type fhirEntity struct {
	What        *fhirReference `json:"what,omitempty"`
	Type        fhirCoding     `json:"type"`
	Role        *fhirCoding    `json:"role,omitempty"`
	Description string         `json:"description,omitempty"`
	Detail      []fhirDetail   `json:"detail,omitempty"`
}

type fhirAuditEvent struct {
	ResourceType   string        `json:"resourceType"`
	ID             string        `json:"id"`
	Type           fhirCoding    `json:"type"`
	Subtype        []fhirCoding  `json:"subtype,omitempty"`
	Action         string        `json:"action"`
	Recorded       string        `json:"recorded"`
	Outcome        string        `json:"outcome"`
	OutcomeDesc    string        `json:"outcomeDesc,omitempty"`
	PurposeOfEvent []fhirConcept `json:"purposeOfEvent,omitempty"`
	Agent          []fhirAgent   `json:"agent"`
	Source         fhirSource    `json:"source"`
	Entity         []fhirEntity  `json:"entity,omitempty"`
}

// ToFHIR returns the event as a FHIR R4 AuditEvent in JSON. The event is
// normalised (UTC, microseconds) and validated first.
func (e Event) ToFHIR() ([]byte, error) {
	e.normalise()
	if err := e.Validate(); err != nil {
		return nil, err
	}
	ae := fhirAuditEvent{
		ResourceType: "AuditEvent",
		ID:           e.ID,
		Type:         eventType(e),
		Action:       e.Action,
		Recorded:     e.Time.Format("2006-01-02T15:04:05.000000Z"),
		Outcome:      e.Outcome,
		OutcomeDesc:  e.OutcomeDesc,
		Agent:        []fhirAgent{actorAgent(e)},
		Source: fhirSource{
			Observer: fhirReference{
				Type:       "Device",
				Identifier: &fhirIdentifier{System: identSource, Value: e.Source},
				Display:    e.Source,
			},
			Type: []fhirCoding{{System: systemSourceType, Code: "4", Display: "Application Server"}},
		},
	}
	if e.Subtype != "" {
		ae.Subtype = []fhirCoding{subtypeCoding(e.Subtype)}
	}
	if e.Purpose != "" {
		ae.PurposeOfEvent = []fhirConcept{{Coding: []fhirCoding{{System: systemActReason, Code: e.Purpose, Display: purposeDisplay(e.Purpose)}}}}
	}
	if org := e.Actor.Organization; org != "" {
		ae.Agent = append(ae.Agent, fhirAgent{
			Type: &fhirConcept{Coding: []fhirCoding{{System: systemRoleClass, Code: "PROV", Display: "healthcare provider"}}},
			Who: fhirReference{
				Type:       "Organization",
				Identifier: &fhirIdentifier{System: identOrganization, Value: org},
			},
		})
	}
	ae.Entity = entities(e)

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ae); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// eventType chooses AuditEvent.type. It carries no information of its own:
// it follows from the subtype and the patient, so it is not read back.
func eventType(e Event) fhirCoding {
	switch {
	case e.Subtype == "login" || e.Subtype == "logout":
		return fhirCoding{System: systemDICOM, Code: "110114", Display: "User Authentication"}
	case e.Subtype == "break-glass":
		return fhirCoding{System: systemDICOM, Code: "110113", Display: "Security Alert"}
	case isRestfulInteraction(e.Subtype):
		return fhirCoding{System: systemEventType, Code: "rest", Display: "Restful Operation"}
	case e.PatientID != "":
		return fhirCoding{System: systemDICOM, Code: "110110", Display: "Patient Record"}
	case strings.HasSuffix(e.Subtype, "search"):
		return fhirCoding{System: systemDICOM, Code: "110112", Display: "Query"}
	}
	return fhirCoding{System: systemDICOM, Code: "110100", Display: "Application Activity"}
}

func subtypeCoding(subtype string) fhirCoding {
	if c, ok := dicomSubtype(subtype); ok {
		return c
	}
	if isRestfulInteraction(subtype) {
		return fhirCoding{System: systemRestful, Code: subtype}
	}
	return fhirCoding{System: systemSubtype, Code: subtype}
}

// actorAgent is the user who acted, typed as BALP types the user agent.
func actorAgent(e Event) fhirAgent {
	a := fhirAgent{
		Who: fhirReference{
			Identifier: &fhirIdentifier{System: identUser, Value: e.Actor.UserID},
			Display:    e.Actor.Name,
		},
		Requestor: true,
		Role:      []fhirConcept{{Text: e.Actor.Role}},
	}
	if e.Actor.PractitionerID != "" {
		a.Who.Reference = "Practitioner/" + e.Actor.PractitionerID
	}
	var t fhirCoding
	switch {
	case e.Actor.Role == "patient":
		t = fhirCoding{System: systemRoleClass, Code: "PAT", Display: "patient"}
	case e.Subtype == "login" || e.Subtype == "logout":
		t = fhirCoding{System: systemSecurityRole, Code: "humanuser", Display: "human user"}
	case e.Action == ActionCreate || e.Action == ActionUpdate || e.Action == ActionDelete:
		t = fhirCoding{System: systemRoleClass, Code: "AGNT", Display: "agent"}
	default:
		t = fhirCoding{System: systemParticipation, Code: "IRCP", Display: "information recipient"}
	}
	a.Type = &fhirConcept{Coding: []fhirCoding{t}}
	if addr := e.NetworkAddress; addr != "" {
		a.Network = &fhirNetwork{Address: addr, Type: "1"}
		if _, err := netip.ParseAddr(addr); err == nil {
			a.Network.Type = "2"
		}
	}
	return a
}

func entities(e Event) []fhirEntity {
	var out []fhirEntity
	if e.PatientID != "" {
		out = append(out, fhirEntity{
			What: &fhirReference{Reference: "Patient/" + e.PatientID},
			Type: fhirCoding{System: systemEntityType, Code: "1", Display: "Person"},
			Role: &fhirCoding{System: systemObjectRole, Code: "1", Display: "Patient"},
		})
	}
	if e.ResourceType != "" || e.ResourceID != "" {
		what := &fhirReference{Type: e.ResourceType}
		switch {
		case e.ResourceType != "" && e.ResourceID != "":
			what.Reference = e.ResourceType + "/" + e.ResourceID
		case e.ResourceID != "":
			what.Identifier = &fhirIdentifier{System: identResource, Value: e.ResourceID}
		}
		out = append(out, fhirEntity{
			What: what,
			Type: fhirCoding{System: systemEntityType, Code: "2", Display: "System Object"},
			Role: &fhirCoding{System: systemObjectRole, Code: "4", Display: "Domain Resource"},
		})
	}
	if bg := e.BreakGlass; bg != nil {
		ent := fhirEntity{
			Type:        fhirCoding{System: systemEntityType, Code: "2", Display: "System Object"},
			Role:        &fhirCoding{System: systemObjectRole, Code: "13", Display: "Security Resource"},
			Description: "break-the-glass grant",
			Detail:      details(detailReasonCode, bg.ReasonCode, detailReason, bg.Reason),
		}
		if bg.GrantID != "" {
			ent.What = &fhirReference{Identifier: &fhirIdentifier{System: identBreakGlassGrant, Value: bg.GrantID}}
		}
		out = append(out, ent)
	}
	if d := details(detailBasis, e.Basis, detailUserAgent, e.UserAgent); len(d) > 0 {
		out = append(out, fhirEntity{
			Type:        fhirCoding{System: systemEntityType, Code: "4", Display: "Other"},
			Description: "access context",
			Detail:      d,
		})
	}
	return out
}

// details builds entity details from name, value pairs, leaving out empty
// values (a FHIR string is never empty).
func details(pairs ...string) []fhirDetail {
	var out []fhirDetail
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			out = append(out, fhirDetail{Type: pairs[i], ValueString: pairs[i+1]})
		}
	}
	return out
}

// EventFromFHIR reads a FHIR R4 AuditEvent in JSON, as ToFHIR writes it or
// as an external system sends it. It is strict about the shape (one JSON
// object, no duplicate keys, the elements it reads of the right JSON type,
// the codes it reads valid) and tolerant of anything else: unknown elements
// are ignored. A missing action is taken from a RESTful subtype (else E), a
// missing outcome counts as success, so that an access of unknown result is
// reviewed as an access. Errors are fault.Invalid and name the JSON path
// (fault.TooLarge above 1 MiB); nesting is bounded at 64 levels.
//
// Most inputs are read by the fast reader of fhir_fast.go; any input it
// does not accept is read again by eventFromFHIRStrict, which gives the
// result and the message.
func EventFromFHIR(raw []byte) (Event, error) {
	if e, out := eventFromFHIRFast(raw); out == fastOK {
		return e, nil
	}
	return eventFromFHIRStrict(raw)
}

// eventFromFHIRStrict is EventFromFHIR over a decoded tree: slower, and the
// reference for the fast reader.
func eventFromFHIRStrict(raw []byte) (Event, error) {
	var e Event
	if len(raw) > maxFHIRSize {
		return e, fault.New(fault.TooLarge, "AuditEvent is larger than 1 MiB")
	}
	if !utf8.Valid(raw) {
		return e, fault.InvalidField("AuditEvent", "is not valid UTF-8")
	}
	tree, err := decodeTree(raw)
	if err != nil {
		return e, err
	}
	root, ok := tree.(map[string]any)
	if !ok {
		return e, fault.InvalidField("AuditEvent", "is not a JSON object")
	}
	r := &fhirReader{paths: map[string]string{}}
	e = r.event(jsonObject{path: "AuditEvent", m: root})
	if r.err != nil {
		return Event{}, r.err
	}
	e.V = CanonicalVersion
	e.normalise()
	if err := e.Validate(); err != nil {
		var fe *fault.Error
		if errors.As(err, &fe) && fe.Field != "" {
			path, ok := r.paths[fe.Field]
			if !ok {
				path = "AuditEvent"
			}
			return Event{}, fault.InvalidField(path, "%s", fe.Msg)
		}
		return Event{}, err
	}
	return e, nil
}

// decodeTree decodes JSON into maps, slices, strings, json.Numbers, bools
// and nils, rejecting duplicate keys (which encoding/json would silently
// merge), nesting deeper than maxFHIRDepth and trailing data.
func decodeTree(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := decodeValue(dec, "AuditEvent", 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fault.InvalidField("AuditEvent", "has trailing data")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder, path string, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fault.InvalidField(path, "is not valid JSON")
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	if depth >= maxFHIRDepth {
		return nil, fault.InvalidField(path, "is nested deeper than %d levels", maxFHIRDepth)
	}
	switch d {
	case '{':
		m := map[string]any{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return nil, fault.InvalidField(path, "is not valid JSON")
			}
			key, _ := tok.(string)
			if _, dup := m[key]; dup {
				return nil, fault.InvalidField(path, "has the key %q twice", key)
			}
			v, err := decodeValue(dec, path+"."+key, depth+1)
			if err != nil {
				return nil, err
			}
			m[key] = v
		}
		if _, err := dec.Token(); err != nil {
			return nil, fault.InvalidField(path, "is not valid JSON")
		}
		return m, nil
	case '[':
		var a []any
		for dec.More() {
			v, err := decodeValue(dec, path+"["+strconv.Itoa(len(a))+"]", depth+1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		if _, err := dec.Token(); err != nil {
			return nil, fault.InvalidField(path, "is not valid JSON")
		}
		if a == nil {
			a = []any{}
		}
		return a, nil
	}
	return nil, fault.InvalidField(path, "is not valid JSON")
}

// jsonObject is a decoded JSON object and its path, for error messages.
type jsonObject struct {
	path string
	m    map[string]any
}

// fhirReader reads an AuditEvent tree. It keeps the first error, so that
// the mapping reads straight through, and the path each Event field was
// read from, so that a failed Validate names the JSON path.
type fhirReader struct {
	err   error
	paths map[string]string
}

func (r *fhirReader) fail(path, format string, args ...any) {
	if r.err == nil {
		r.err = fault.InvalidField(path, format, args...)
	}
}

// value returns the member key of o; absent is nil, false.
func (r *fhirReader) value(o jsonObject, key string) (any, bool) {
	v, ok := o.m[key]
	if ok && v == nil {
		r.fail(o.path+"."+key, "is null")
		return nil, false
	}
	return v, ok
}

// str returns a string member; absent (or empty) is "".
func (r *fhirReader) str(o jsonObject, key string) string {
	v, ok := r.value(o, key)
	if !ok {
		return ""
	}
	s, isStr := v.(string)
	if !isStr {
		r.fail(o.path+"."+key, "is not a string")
	}
	return s
}

func (r *fhirReader) object(o jsonObject, key string) (jsonObject, bool) {
	v, ok := r.value(o, key)
	if !ok {
		return jsonObject{}, false
	}
	m, isObj := v.(map[string]any)
	if !isObj {
		r.fail(o.path+"."+key, "is not a JSON object")
		return jsonObject{}, false
	}
	return jsonObject{path: o.path + "." + key, m: m}, true
}

// objects returns an array of objects; absent is nil.
func (r *fhirReader) objects(o jsonObject, key string) []jsonObject {
	v, ok := r.value(o, key)
	if !ok {
		return nil
	}
	a, isArr := v.([]any)
	if !isArr {
		r.fail(o.path+"."+key, "is not a JSON array")
		return nil
	}
	out := make([]jsonObject, 0, len(a))
	for i, item := range a {
		path := o.path + "." + key + "[" + strconv.Itoa(i) + "]"
		m, isObj := item.(map[string]any)
		if !isObj {
			r.fail(path, "is not a JSON object")
			return nil
		}
		out = append(out, jsonObject{path: path, m: m})
	}
	return out
}

func (r *fhirReader) boolean(o jsonObject, key string) bool {
	v, ok := r.value(o, key)
	if !ok {
		return false
	}
	b, isBool := v.(bool)
	if !isBool {
		r.fail(o.path+"."+key, "is not true or false")
	}
	return b
}

func (r *fhirReader) coding(o jsonObject) fhirCoding {
	return fhirCoding{System: r.str(o, "system"), Code: r.str(o, "code"), Display: r.str(o, "display")}
}

// set records where an Event field came from.
func (r *fhirReader) set(field, path string, dst *string, v string) {
	*dst = v
	r.paths[field] = path
}

func (r *fhirReader) event(root jsonObject) Event {
	var e Event
	switch rt := r.str(root, "resourceType"); rt {
	case "AuditEvent":
	case "":
		r.fail("AuditEvent.resourceType", "missing")
	default:
		r.fail("AuditEvent.resourceType", "is %q, not AuditEvent", rt)
	}
	if r.set("id", "AuditEvent.id", &e.ID, r.str(root, "id")); e.ID == "" {
		r.fail("AuditEvent.id", "missing")
	}
	e.Time = r.recorded(root)
	r.paths["time"] = "AuditEvent.recorded"
	if _, ok := r.object(root, "type"); !ok {
		r.fail("AuditEvent.type", "missing")
	}
	r.set("subtype", "AuditEvent.subtype", &e.Subtype, r.subtype(root))

	r.paths["action"] = "AuditEvent.action"
	switch e.Action = r.str(root, "action"); e.Action {
	case ActionCreate, ActionRead, ActionUpdate, ActionDelete, ActionExecute:
	case "":
		e.Action = actionOf(e.Subtype)
	default:
		r.fail("AuditEvent.action", "%q is not one of C, R, U, D, E", e.Action)
	}
	r.paths["outcome"] = "AuditEvent.outcome"
	switch e.Outcome = r.str(root, "outcome"); e.Outcome {
	case OutcomeSuccess, OutcomeDenied, OutcomeFailure, OutcomeMajor:
	case "":
		e.Outcome = OutcomeSuccess
	default:
		r.fail("AuditEvent.outcome", "%q is not one of 0, 4, 8, 12", e.Outcome)
	}
	r.set("outcomeDesc", "AuditEvent.outcomeDesc", &e.OutcomeDesc, r.str(root, "outcomeDesc"))
	if p, path := r.purpose(root, "purposeOfEvent"); p != "" {
		r.set("purpose", path, &e.Purpose, p)
	}

	r.agents(root, &e)
	r.source(root, &e)
	r.entities(root, &e)
	return e
}

func (r *fhirReader) recorded(root jsonObject) time.Time {
	const path = "AuditEvent.recorded"
	s := r.str(root, "recorded")
	if s == "" {
		r.fail(path, "missing")
		return time.Time{}
	}
	if !fhirInstant.MatchString(s) {
		r.fail(path, "is not a FHIR instant")
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		r.fail(path, "is not a FHIR instant")
		return time.Time{}
	}
	return t
}

// subtype picks the subtype of the event: a DICOM code Trustward knows, a
// RESTful interaction or a Trustward subtype first, else the first code.
func (r *fhirReader) subtype(root jsonObject) string {
	first := ""
	for _, o := range r.objects(root, "subtype") {
		c := r.coding(o)
		if c.Code == "" {
			continue
		}
		if c.System == systemDICOM {
			switch c.Code {
			case "110122":
				return "login"
			case "110123":
				return "logout"
			case "110127":
				return "break-glass"
			}
		}
		if c.System == systemRestful || c.System == systemSubtype {
			return c.Code
		}
		if first == "" {
			first = c.Code
		}
	}
	return first
}

// actionOf is the action implied by a RESTful subtype, for events that
// leave action out.
func actionOf(subtype string) string {
	switch subtype {
	case "create":
		return ActionCreate
	case "read", "vread", "history", "history-instance", "history-type", "history-system":
		return ActionRead
	case "update", "patch":
		return ActionUpdate
	case "delete":
		return ActionDelete
	}
	return ActionExecute
}

// purpose reads a purpose of use from an array of CodeableConcept: the
// first v3-ActReason code, else the first code.
func (r *fhirReader) purpose(o jsonObject, key string) (string, string) {
	first, firstPath := "", ""
	for _, cc := range r.objects(o, key) {
		for _, co := range r.objects(cc, "coding") {
			c := r.coding(co)
			if c.Code == "" {
				continue
			}
			if c.System == systemActReason {
				return c.Code, co.path + ".code"
			}
			if first == "" {
				first, firstPath = c.Code, co.path+".code"
			}
		}
	}
	return first, firstPath
}

func (r *fhirReader) agents(root jsonObject, e *Event) {
	agents := r.objects(root, "agent")
	if len(agents) == 0 {
		r.fail("AuditEvent.agent", "missing")
		return
	}
	actor := 0
	for i, a := range agents {
		if r.boolean(a, "requestor") {
			actor = i
			break
		}
	}
	a := agents[actor]
	who, ok := r.object(a, "who")
	if !ok {
		r.fail(a.path+".who", "missing")
		return
	}
	ref := r.str(who, "reference")
	id, hasID := r.object(who, "identifier")
	switch user := r.str(id, "value"); {
	case hasID && user != "":
		r.set("actor.user", id.path+".value", &e.Actor.UserID, user)
	case ref != "":
		r.set("actor.user", who.path+".reference", &e.Actor.UserID, ref)
	default:
		r.fail(who.path, "has neither an identifier nor a reference")
	}
	if p, ok := strings.CutPrefix(ref, "Practitioner/"); ok {
		r.set("actor.practitioner", who.path+".reference", &e.Actor.PractitionerID, p)
	} else if typ, p := splitReference(ref); typ == "Practitioner" {
		r.set("actor.practitioner", who.path+".reference", &e.Actor.PractitionerID, p)
	}
	if name := r.str(who, "display"); name != "" {
		r.set("actor.name", who.path+".display", &e.Actor.Name, name)
	} else {
		r.set("actor.name", a.path+".name", &e.Actor.Name, r.str(a, "name"))
	}
	r.set("actor.role", a.path+".role", &e.Actor.Role, r.role(a))
	if e.Actor.Role == "" {
		e.Actor.Role = UnknownRole
	}
	if e.Purpose == "" {
		if p, path := r.purpose(a, "purposeOfUse"); p != "" {
			r.set("purpose", path, &e.Purpose, p)
		}
	}
	if addr, path := r.network(a); addr != "" {
		r.set("address", path, &e.NetworkAddress, addr)
	}
	for i, other := range agents {
		if i == actor {
			continue
		}
		if e.NetworkAddress == "" && r.isSourceRole(other) {
			if addr, path := r.network(other); addr != "" {
				r.set("address", path, &e.NetworkAddress, addr)
			}
		}
		if e.Actor.Organization == "" {
			if org, path := r.organization(other); org != "" {
				r.set("actor.org", path, &e.Actor.Organization, org)
			}
		}
	}
}

// role is the first role's text, else its first coding's display or code.
func (r *fhirReader) role(a jsonObject) string {
	for _, cc := range r.objects(a, "role") {
		if t := r.str(cc, "text"); t != "" {
			return t
		}
		for _, co := range r.objects(cc, "coding") {
			c := r.coding(co)
			if c.Display != "" {
				return c.Display
			}
			if c.Code != "" {
				return c.Code
			}
		}
	}
	return ""
}

func (r *fhirReader) network(a jsonObject) (string, string) {
	n, ok := r.object(a, "network")
	if !ok {
		return "", ""
	}
	switch t := r.str(n, "type"); t {
	case "", "1", "2", "3", "4", "5":
	default:
		r.fail(n.path+".type", "%q is not one of 1, 2, 3, 4, 5", t)
	}
	return r.str(n, "address"), n.path + ".address"
}

// isSourceRole reports whether an agent is DICOM's Source Role ID: in BALP,
// the client whose network address the user acted from.
func (r *fhirReader) isSourceRole(a jsonObject) bool {
	t, ok := r.object(a, "type")
	if !ok {
		return false
	}
	for _, co := range r.objects(t, "coding") {
		if c := r.coding(co); c.System == systemDICOM && c.Code == "110153" {
			return true
		}
	}
	return false
}

// organization returns the organisation an agent stands for, if it is one.
func (r *fhirReader) organization(a jsonObject) (string, string) {
	who, ok := r.object(a, "who")
	if !ok {
		return "", ""
	}
	ref := r.str(who, "reference")
	if id, ok := r.object(who, "identifier"); ok && r.str(id, "system") == identOrganization {
		return r.str(id, "value"), id.path + ".value"
	}
	if typ, org := splitReference(ref); typ == "Organization" {
		return org, who.path + ".reference"
	}
	if r.str(who, "type") == "Organization" {
		if id, ok := r.object(who, "identifier"); ok && r.str(id, "value") != "" {
			return r.str(id, "value"), id.path + ".value"
		}
		return r.str(who, "display"), who.path + ".display"
	}
	return "", ""
}

func (r *fhirReader) source(root jsonObject, e *Event) {
	src, ok := r.object(root, "source")
	if !ok {
		r.fail("AuditEvent.source", "missing")
		return
	}
	obs, ok := r.object(src, "observer")
	if !ok {
		r.fail(src.path+".observer", "missing")
		return
	}
	if d := r.str(obs, "display"); d != "" {
		r.set("source", obs.path+".display", &e.Source, d)
		return
	}
	if id, ok := r.object(obs, "identifier"); ok && r.str(id, "value") != "" {
		r.set("source", id.path+".value", &e.Source, r.str(id, "value"))
		return
	}
	if ref := r.str(obs, "reference"); ref != "" {
		r.set("source", obs.path+".reference", &e.Source, ref)
		return
	}
	r.fail(obs.path, "has no display, identifier or reference")
}

func (r *fhirReader) entities(root jsonObject, e *Event) {
	var havePatient, haveResource bool
	for _, ent := range r.objects(root, "entity") {
		role := fhirCoding{}
		if ro, ok := r.object(ent, "role"); ok {
			role = r.coding(ro)
		}
		what, hasWhat := r.object(ent, "what")
		details := r.details(ent)
		switch {
		case role.System == systemObjectRole && role.Code == "1" && hasWhat && !havePatient:
			ref := r.str(what, "reference")
			id, ok := strings.CutPrefix(ref, "Patient/")
			if !ok {
				if typ, rest := splitReference(ref); typ == "Patient" {
					id = rest
				}
			}
			if id != "" {
				havePatient = true
				r.set("patient", what.path+".reference", &e.PatientID, id)
			}
		case role.System == systemObjectRole && role.Code == "4" && hasWhat && !haveResource:
			typ, id, path := r.resource(what)
			if typ != "" || id != "" {
				haveResource = true
				r.set("resourceType", what.path, &e.ResourceType, typ)
				r.set("resourceId", path, &e.ResourceID, id)
			}
		case role.System == systemObjectRole && role.Code == "13" && e.BreakGlass == nil:
			if code, ok := details[detailReasonCode]; ok {
				bg := &BreakGlass{}
				r.set("breakGlass.code", code.path, &bg.ReasonCode, code.value)
				if reason, ok := details[detailReason]; ok {
					r.set("breakGlass.text", reason.path, &bg.Reason, reason.value)
				}
				if hasWhat {
					if id, ok := r.object(what, "identifier"); ok {
						r.set("breakGlass.grant", id.path+".value", &bg.GrantID, r.str(id, "value"))
					}
				}
				e.BreakGlass = bg
			}
		}
		if d, ok := details[detailBasis]; ok && e.Basis == "" {
			r.set("basis", d.path, &e.Basis, d.value)
		}
		if d, ok := details[detailUserAgent]; ok && e.UserAgent == "" {
			r.set("userAgent", d.path, &e.UserAgent, d.value)
		}
	}
}

// resource reads the type and id of a data entity's what.
func (r *fhirReader) resource(what jsonObject) (typ, id, path string) {
	typ = r.str(what, "type")
	if ref := r.str(what, "reference"); ref != "" {
		path = what.path + ".reference"
		if rest, ok := strings.CutPrefix(ref, typ+"/"); typ != "" && ok {
			return typ, rest, path
		}
		t, rest := splitReference(ref)
		if typ == "" {
			typ = t
		}
		return typ, rest, path
	}
	if ident, ok := r.object(what, "identifier"); ok {
		return typ, r.str(ident, "value"), ident.path + ".value"
	}
	return typ, "", what.path
}

type detailValue struct {
	value, path string
}

// details reads an entity's details by type; the first of each type wins.
// A base64 value is decoded, and must then be UTF-8 text.
func (r *fhirReader) details(ent jsonObject) map[string]detailValue {
	out := map[string]detailValue{}
	for _, d := range r.objects(ent, "detail") {
		typ := r.str(d, "type")
		if typ == "" {
			r.fail(d.path+".type", "missing")
			continue
		}
		v, path := r.str(d, "valueString"), d.path+".valueString"
		if v == "" {
			path = d.path + ".valueBase64Binary"
			if b64 := r.str(d, "valueBase64Binary"); b64 != "" {
				b, err := base64.StdEncoding.DecodeString(b64)
				if err != nil || !utf8.Valid(b) {
					r.fail(path, "is not base64 of UTF-8 text")
					continue
				}
				v = string(b)
			}
		}
		if _, seen := out[typ]; !seen && v != "" {
			out[typ] = detailValue{value: v, path: path}
		}
	}
	return out
}

// splitReference splits a literal reference, relative ("Observation/1") or
// absolute ("https://ehr.example/fhir/Observation/1/_history/2"), into its
// type and id. A reference without a type gives "" and the reference.
func splitReference(ref string) (typ, id string) {
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	i := strings.LastIndexByte(ref, '/')
	if i < 0 {
		return "", ref
	}
	id, rest := ref[i+1:], ref[:i]
	return rest[strings.LastIndexByte(rest, '/')+1:], id
}
