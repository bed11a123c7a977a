package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/trustward/trustward/internal/fault"
)

// A leaf is the commitment of one access event in the transparency log.
// It holds no patient data: time, keyed pseudonyms of patient and actor,
// action, outcome, a purpose code from a fixed list, and a salted hash of
// the full canonical event. docs/ledger.md specifies the layout so that an
// independent client can recompute a leaf from an event and its salt.
//
// Layout of version 1 (integers big-endian), 109 to 125 bytes:
//
//	offset  size  field
//	0       1     version, 0x01
//	1       1     flags: bit 0 the event is about a patient; bit 1 the
//	              patient's key was destroyed before the event was ledgered
//	              (bit 1 requires bit 0; other bits are zero)
//	2       8     time of the access, int64 microseconds since the Unix epoch
//	10      32    patient pseudonym (zero without a patient, or erased)
//	42      32    actor pseudonym
//	74      1     action: 'C', 'R', 'U', 'D' or 'E'
//	75      1     outcome: 0, 4, 8 or 12
//	76      1     n, the length of the purpose (0 to 16)
//	77      n     purpose: "" or a code of LeafPurpose's list or "OTHER"
//	77+n    32    commitment: SHA-256(salt || canonical event), or, erased,
//	              SHA-256("trustward/ledger/erased/v1|" || event id)
const LeafVersion = 1

const (
	leafFlagPatient = 1 << 0
	leafFlagErased  = 1 << 1

	leafFixedSize    = 1 + 1 + 8 + 32 + 32 + 1 + 1 + 1 + 32
	maxLeafPurpose   = 16
	maxLeafSize      = leafFixedSize + maxLeafPurpose
	leafSaltSize     = 32
	leafPurposeOther = "OTHER"
	leafPatientLabel = "trustward/ledger/patient/v1|"
	leafErasedLabel  = "trustward/ledger/erased/v1|"
)

// Leaf is a decoded commitment leaf.
type Leaf struct {
	// Time is the time of the access, UTC at microsecond precision.
	Time time.Time
	// HasPatient is set when the event is about a patient.
	HasPatient bool
	// Erased is set when the patient's key was destroyed before the event
	// was ledgered: Patient is zero and Commitment commits to the event id
	// only.
	Erased     bool
	Patient    [32]byte
	Actor      [32]byte
	Action     string
	Outcome    string
	Purpose    string
	Commitment [32]byte
}

// LeafPurpose maps an event's purpose of use to what a leaf may carry: the
// code itself when it is one of the HL7 v3 PurposeOfUse codes below, ""
// when there is none, and "OTHER" for anything else, so that free text from
// an external feed can never reach the public log. The list is part of the
// leaf format: changing it needs a new LeafVersion.
func LeafPurpose(p string) string {
	switch p {
	case "":
		return ""
	case "TREAT", "ETREAT", "BTG", "ERTREAT", "CLINTRL", "COC", "POPHLTH",
		"HPAYMT", "CLMATTCH", "COVAUTH", "COVERAGE", "ELIGDTRM", "ELIGVER", "ENROLLM", "REMITADV",
		"HOPERAT", "CAREMGT", "DONAT", "FRAUD", "GOV", "HACCRED", "HCOMPL", "HDECD", "HDIRECT",
		"HLEGAL", "HOUTCOMS", "HPRGRP", "HQUALIMP", "HSYSADMIN", "MEMADMIN", "PATADMIN", "PATSFTY",
		"PERFMSR", "RECORDMGT", "TRAIN", "HMARKT", "HRESCH", "CLINTRCH", "PATRQT", "FAMRQT",
		"PWATRNY", "SUPNWK", "PUBHLTH", "DISASTER", "THREAT", "HTEST", "SYSDEV":
		return p
	}
	return leafPurposeOther
}

// validLeafPurpose reports whether p is what LeafPurpose can return.
func validLeafPurpose(p string) bool {
	return p == leafPurposeOther || LeafPurpose(p) == p
}

// LeafCommitment is SHA-256(salt || canonical): it binds a leaf to one
// event without revealing it; the salt (32 random bytes, sealed with the
// event) keeps anyone without it from confirming a guessed event.
func LeafCommitment(salt, canonical []byte) [32]byte {
	h := sha256.New()
	h.Write(salt)
	h.Write(canonical)
	return [32]byte(h.Sum(nil))
}

// erasedCommitment keeps leaves of erased events distinct from each other.
func erasedCommitment(eventID string) [32]byte {
	return sha256.Sum256([]byte(leafErasedLabel + eventID))
}

// PatientPseudonym is HMAC-SHA256(secret, "trustward/ledger/patient/v1|" ||
// patient id), under the patient's own ledger secret (sealed with the
// patient's data key, so crypto-shredding the patient makes it
// unrecomputable).
func PatientPseudonym(secret []byte, patientID string) [32]byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(leafPatientLabel + patientID))
	return [32]byte(m.Sum(nil))
}

// NewLeaf builds the leaf of an event from its canonical encoding, its
// salt and the pseudonyms of its patient (ignored when it has none) and
// actor.
func NewLeaf(canonical, salt []byte, patient, actor [32]byte) (Leaf, error) {
	if len(salt) != leafSaltSize {
		return Leaf{}, fault.New(fault.Invalid, "a leaf salt has %d bytes, not %d", len(salt), leafSaltSize)
	}
	ev, err := ParseCanonical(canonical)
	if err != nil {
		return Leaf{}, err
	}
	l := Leaf{Time: ev.Time, Actor: actor, Action: ev.Action, Outcome: ev.Outcome,
		Purpose: LeafPurpose(ev.Purpose), Commitment: LeafCommitment(salt, canonical)}
	if ev.PatientID != "" {
		l.HasPatient, l.Patient = true, patient
	}
	return l, nil
}

// erasedLeaf is the leaf of an event whose sealed body can no longer be
// opened, built from the clear columns of the store: the access stays in
// the log, with neither patient pseudonym nor commitment to its contents.
func erasedLeaf(eventID string, at time.Time, actor [32]byte, action, outcome, purpose string) Leaf {
	return Leaf{Time: at.UTC().Truncate(time.Microsecond), HasPatient: true, Erased: true, Actor: actor,
		Action: action, Outcome: outcome, Purpose: LeafPurpose(purpose), Commitment: erasedCommitment(eventID)}
}

// Marshal encodes the leaf in the version 1 layout.
func (l Leaf) Marshal() ([]byte, error) {
	t := l.Time.UTC()
	if t.Truncate(time.Microsecond) != t || t.Year() < 1 || t.Year() > 9999 {
		return nil, fault.InvalidField("time", "must be in years 1 to 9999 at microsecond precision")
	}
	if l.Erased && !l.HasPatient {
		return nil, fault.InvalidField("erased", "only events about a patient can be erased")
	}
	if (l.Erased || !l.HasPatient) && l.Patient != ([32]byte{}) {
		return nil, fault.InvalidField("patient", "must be zero without a patient or when erased")
	}
	outcome, ok := outcomeByte(l.Outcome)
	if !ok {
		return nil, fault.InvalidField("outcome", "%q is not one of 0, 4, 8, 12", l.Outcome)
	}
	switch l.Action {
	case ActionCreate, ActionRead, ActionUpdate, ActionDelete, ActionExecute:
	default:
		return nil, fault.InvalidField("action", "%q is not one of C, R, U, D, E", l.Action)
	}
	if !validLeafPurpose(l.Purpose) || len(l.Purpose) > maxLeafPurpose {
		return nil, fault.InvalidField("purpose", "%q is not a leaf purpose code", l.Purpose)
	}
	b := make([]byte, 0, leafFixedSize+len(l.Purpose))
	b = append(b, LeafVersion)
	var flags byte
	if l.HasPatient {
		flags |= leafFlagPatient
	}
	if l.Erased {
		flags |= leafFlagErased
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint64(b, uint64(t.UnixMicro()))
	b = append(b, l.Patient[:]...)
	b = append(b, l.Actor[:]...)
	b = append(b, l.Action[0], outcome, byte(len(l.Purpose)))
	b = append(b, l.Purpose...)
	b = append(b, l.Commitment[:]...)
	return b, nil
}

func outcomeByte(o string) (byte, bool) {
	switch o {
	case OutcomeSuccess:
		return 0, true
	case OutcomeDenied:
		return 4, true
	case OutcomeFailure:
		return 8, true
	case OutcomeMajor:
		return 12, true
	}
	return 0, false
}

// ParseLeaf decodes a leaf strictly: a leaf that does not re-encode to the
// same bytes is rejected, so that one byte string stands for each leaf.
func ParseLeaf(b []byte) (Leaf, error) {
	var l Leaf
	if len(b) < leafFixedSize || len(b) > maxLeafSize {
		return l, fault.New(fault.Invalid, "a leaf has %d to %d bytes, not %d", leafFixedSize, maxLeafSize, len(b))
	}
	if b[0] != LeafVersion {
		return l, fault.New(fault.Invalid, "leaf version %d is not supported", b[0])
	}
	flags := b[1]
	if flags&^(leafFlagPatient|leafFlagErased) != 0 {
		return l, fault.New(fault.Invalid, "leaf flags %#x are not defined", flags)
	}
	l.HasPatient = flags&leafFlagPatient != 0
	l.Erased = flags&leafFlagErased != 0
	us := int64(binary.BigEndian.Uint64(b[2:10]))
	l.Time = time.UnixMicro(us).UTC()
	copy(l.Patient[:], b[10:42])
	copy(l.Actor[:], b[42:74])
	l.Action = string(b[74 : 74+1])
	switch b[75] {
	case 0:
		l.Outcome = OutcomeSuccess
	case 4:
		l.Outcome = OutcomeDenied
	case 8:
		l.Outcome = OutcomeFailure
	case 12:
		l.Outcome = OutcomeMajor
	default:
		return Leaf{}, fault.New(fault.Invalid, "leaf outcome %d is not defined", b[75])
	}
	n := int(b[76])
	if len(b) != leafFixedSize+n {
		return Leaf{}, fault.New(fault.Invalid, "leaf of %d bytes does not match its purpose length %d", len(b), n)
	}
	l.Purpose = string(b[77 : 77+n])
	copy(l.Commitment[:], b[77+n:])
	again, err := l.Marshal()
	if err != nil {
		return Leaf{}, err
	}
	if !bytes.Equal(again, b) {
		return Leaf{}, fault.New(fault.Invalid, "leaf encoding is not canonical")
	}
	return l, nil
}

// String describes a leaf for debugging: no pseudonyms.
func (l Leaf) String() string {
	return fmt.Sprintf("leaf v%d %s action=%s outcome=%s purpose=%s", LeafVersion, l.Time.Format(time.RFC3339Nano), l.Action, l.Outcome, l.Purpose)
}
