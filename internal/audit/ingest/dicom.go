package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/fault"
)

// This file maps a DICOM PS3.15 (Annex A.5) audit message, the XML an IHE
// ATNA actor sends, onto an access event. Older RFC 3881 senders write
// coded values with "code" instead of "csd-code"; both are read.

type dicomCode struct {
	Code         string `xml:"csd-code,attr"`
	OldCode      string `xml:"code,attr"`
	System       string `xml:"codeSystemName,attr"`
	Display      string `xml:"displayName,attr"`
	OriginalText string `xml:"originalText,attr"`
}

func (c dicomCode) code() string {
	if c.Code != "" {
		return c.Code
	}
	return c.OldCode
}

// text is how a person would name the code.
func (c dicomCode) text() string {
	switch {
	case c.OriginalText != "":
		return c.OriginalText
	case c.Display != "":
		return c.Display
	}
	return c.code()
}

type dicomAuditMessage struct {
	XMLName xml.Name `xml:"AuditMessage"`
	Event   struct {
		Action   string      `xml:"EventActionCode,attr"`
		DateTime string      `xml:"EventDateTime,attr"`
		Outcome  string      `xml:"EventOutcomeIndicator,attr"`
		ID       dicomCode   `xml:"EventID"`
		Types    []dicomCode `xml:"EventTypeCode"`
		Purposes []dicomCode `xml:"PurposeOfUse"`
	} `xml:"EventIdentification"`
	Participants []struct {
		UserID    string      `xml:"UserID,attr"`
		AltUserID string      `xml:"AlternativeUserID,attr"`
		UserName  string      `xml:"UserName,attr"`
		Requestor string      `xml:"UserIsRequestor,attr"`
		NetworkID string      `xml:"NetworkAccessPointID,attr"`
		Roles     []dicomCode `xml:"RoleIDCode"`
		MediaType *dicomCode  `xml:"MediaType"`
	} `xml:"ActiveParticipant"`
	Source struct {
		ID     string `xml:"AuditSourceID,attr"`
		SiteID string `xml:"AuditEnterpriseSiteID,attr"`
	} `xml:"AuditSourceIdentification"`
	Objects []struct {
		ID     string    `xml:"ParticipantObjectID,attr"`
		Type   string    `xml:"ParticipantObjectTypeCode,attr"`
		Role   string    `xml:"ParticipantObjectTypeCodeRole,attr"`
		IDType dicomCode `xml:"ParticipantObjectIDTypeCode"`
	} `xml:"ParticipantObjectIdentification"`
}

// MaxDICOMMessage bounds one audit message.
const MaxDICOMMessage = 1 << 20

// errNotXML marks a message that is not well-formed XML or not an
// AuditMessage, so that counters can tell it from an incomplete event.
var errNotXML = errors.New("not a DICOM audit message")

// EventFromDICOM maps a DICOM audit message onto an event. Its id is
// "atna-" and the first 16 bytes of SHA-256 over source and message, in
// hex: a message sent twice is one event. A message that is not
// well-formed XML or not an AuditMessage wraps errNotXML; a well-formed
// one that lacks what an event needs is fault.Invalid naming the element.
// Errors never quote the message.
func EventFromDICOM(source string, msg []byte) (audit.Event, error) {
	var m dicomAuditMessage
	if len(msg) > MaxDICOMMessage {
		return audit.Event{}, fault.New(fault.TooLarge, "the audit message is larger than 1 MiB")
	}
	if !utf8.Valid(msg) {
		return audit.Event{}, fault.Wrap(fault.Invalid, errNotXML, "the audit message is not UTF-8")
	}
	if err := wellFormed(msg); err != nil {
		return audit.Event{}, err
	}
	if err := xml.Unmarshal(msg, &m); err != nil {
		return audit.Event{}, fault.Wrap(fault.Invalid, errNotXML, "the XML is not a DICOM AuditMessage")
	}
	ev := audit.Event{V: audit.CanonicalVersion, Outcome: audit.OutcomeSuccess, Action: audit.ActionExecute}
	sum := sha256.Sum256(append([]byte(source+"\x00"), msg...))
	ev.ID = "atna-" + hex.EncodeToString(sum[:16])

	e := m.Event
	if e.DateTime == "" {
		return ev, fault.InvalidField("EventIdentification@EventDateTime", "is missing")
	}
	t, err := time.Parse(time.RFC3339Nano, e.DateTime)
	if err != nil {
		return ev, fault.InvalidField("EventIdentification@EventDateTime", "is not an xs:dateTime with a zone")
	}
	ev.Time = t.UTC().Truncate(time.Microsecond)
	switch e.Action {
	case "":
	case audit.ActionCreate, audit.ActionRead, audit.ActionUpdate, audit.ActionDelete, audit.ActionExecute:
		ev.Action = e.Action
	default:
		return ev, fault.InvalidField("EventIdentification@EventActionCode", "is not one of C, R, U, D, E")
	}
	switch e.Outcome {
	case "":
	case audit.OutcomeSuccess, audit.OutcomeDenied, audit.OutcomeFailure, audit.OutcomeMajor:
		ev.Outcome = e.Outcome
	default:
		return ev, fault.InvalidField("EventIdentification@EventOutcomeIndicator", "is not one of 0, 4, 8, 12")
	}
	if e.ID.code() == "" {
		return ev, fault.InvalidField("EventIdentification/EventID", "is missing")
	}
	ev.Subtype = e.ID.code()
	for _, t := range e.Types {
		switch t.code() {
		case "110122":
			ev.Subtype = "login"
		case "110123":
			ev.Subtype = "logout"
		case "110127":
			ev.Subtype = "break-glass"
		}
	}
	if len(e.Purposes) > 0 {
		ev.Purpose = e.Purposes[0].code()
	}

	if len(m.Participants) == 0 {
		return ev, fault.InvalidField("ActiveParticipant", "is missing")
	}
	actor := -1
	for i, p := range m.Participants {
		// A participant with a MediaType is media, not a person.
		if strings.EqualFold(p.Requestor, "true") && p.MediaType == nil {
			actor = i
			break
		}
	}
	if actor < 0 {
		actor = 0
	}
	a := m.Participants[actor]
	if a.UserID == "" {
		return ev, fault.InvalidField("ActiveParticipant@UserID", "is missing")
	}
	ev.Actor.UserID = a.UserID
	ev.Actor.Name = a.UserName
	ev.Actor.Role = audit.UnknownRole
	if len(a.Roles) > 0 && a.Roles[0].text() != "" {
		ev.Actor.Role = a.Roles[0].text()
	}
	ev.NetworkAddress = a.NetworkID
	if ev.NetworkAddress == "" {
		// BALP and DICOM put the client's address on the Source Role ID
		// participant when the requestor is a person.
		for i, p := range m.Participants {
			if i != actor && p.NetworkID != "" && hasRole(p.Roles, "110153") {
				ev.NetworkAddress = p.NetworkID
				break
			}
		}
	}

	if m.Source.ID == "" {
		return ev, fault.InvalidField("AuditSourceIdentification@AuditSourceID", "is missing")
	}
	ev.Source = m.Source.ID

	for _, o := range m.Objects {
		switch {
		case o.Type == "1" && o.Role == "1" && ev.PatientID == "":
			ev.PatientID = patientID(o.ID)
		case o.Type == "2" && ev.ResourceID == "":
			ev.ResourceID = o.ID
			ev.ResourceType = o.IDType.text()
		}
	}
	if ev.ResourceID == "" && ev.PatientID != "" {
		ev.ResourceType, ev.ResourceID = "Patient", ev.PatientID
	}
	if err := ev.Validate(); err != nil {
		return ev, dicomFieldError(err)
	}
	return ev, nil
}

func hasRole(roles []dicomCode, code string) bool {
	for _, r := range roles {
		if r.code() == code {
			return true
		}
	}
	return false
}

// patientID takes the ID component of an HL7 v2 CX identifier
// ("MRN^^^&1.2.3&ISO"); a plain id is returned as is.
func patientID(cx string) string {
	id, _, _ := strings.Cut(cx, "^")
	return strings.TrimSpace(id)
}

// dicomFieldError names the DICOM element behind an event validation error.
func dicomFieldError(err error) error {
	var fe *fault.Error
	if !errors.As(err, &fe) {
		return err
	}
	el := map[string]string{
		"actor.user": "ActiveParticipant@UserID", "actor.name": "ActiveParticipant@UserName",
		"actor.role": "ActiveParticipant/RoleIDCode", "patient": "ParticipantObjectIdentification@ParticipantObjectID",
		"resourceId": "ParticipantObjectIdentification@ParticipantObjectID", "resourceType": "ParticipantObjectIDTypeCode",
		"subtype": "EventIdentification/EventID", "purpose": "EventIdentification/PurposeOfUse",
		"source": "AuditSourceIdentification@AuditSourceID", "address": "ActiveParticipant@NetworkAccessPointID",
		"time": "EventIdentification@EventDateTime",
	}[fe.Field]
	if el == "" {
		return err
	}
	return fault.InvalidField(el, "%s", fe.Msg)
}

// wellFormed checks that msg is one well-formed XML document: tokens all
// read, elements balanced, nothing after the root element. encoding/xml
// reads no external entities or DTDs, so no document can reach outside.
func wellFormed(msg []byte) error {
	dec := xml.NewDecoder(bytes.NewReader(msg))
	depth, roots := 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fault.Wrap(fault.Invalid, errNotXML, "the XML is not well-formed")
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if roots > 1 {
					return fault.Wrap(fault.Invalid, errNotXML, "the XML has more than one root element")
				}
				if t.Name.Local != "AuditMessage" {
					return fault.Wrap(fault.Invalid, errNotXML, "the root element is not AuditMessage")
				}
			}
			depth++
			if depth > 32 {
				return fault.Wrap(fault.Invalid, errNotXML, "the XML is nested deeper than 32 levels")
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return fault.Wrap(fault.Invalid, errNotXML, "the XML has text outside the root element")
			}
		}
	}
	if roots == 0 {
		return fault.Wrap(fault.Invalid, errNotXML, "the message holds no XML element")
	}
	return nil
}
