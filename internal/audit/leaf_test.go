package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/fault"
)

func filled(b byte) [32]byte {
	var a [32]byte
	for i := range a {
		a[i] = b
	}
	return a
}

func testSalt() []byte {
	s := make([]byte, 32)
	for i := range s {
		s[i] = byte(i)
	}
	return s
}

// TestLeafLayout pins the version 1 layout byte by byte, as docs/ledger.md
// specifies it.
func TestLeafLayout(t *testing.T) {
	ev := testEvents()[0].e // a chart read with a patient, purpose TREAT
	canonical, err := ev.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLeaf(canonical, testSalt(), filled(0xaa), filled(0xbb))
	if err != nil {
		t.Fatal(err)
	}
	got, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	commit := sha256.Sum256(append(testSalt(), canonical...))
	want := "01" + "01" + // version, flags (patient)
		hex.EncodeToString(binary.BigEndian.AppendUint64(nil, uint64(ev.Time.Truncate(time.Microsecond).UnixMicro()))) +
		strings.Repeat("aa", 32) + strings.Repeat("bb", 32) +
		hex.EncodeToString([]byte(ev.Action)) + "00" + // action, outcome 0
		"05" + hex.EncodeToString([]byte("TREAT")) +
		hex.EncodeToString(commit[:])
	if hex.EncodeToString(got) != want {
		t.Fatalf("leaf\n got %x\nwant %s", got, want)
	}
	if len(got) != 114 {
		t.Fatalf("leaf has %d bytes, want 114", len(got))
	}
	// 2025-03-14T09:26:53.589793Z is 1,741,944,413,589,793 µs.
	if hex.EncodeToString(got[2:10]) != "0006304a09fd9121" {
		t.Fatalf("time field %x", got[2:10])
	}
}

func TestLeafWithoutPatientAndErased(t *testing.T) {
	for _, ne := range testEvents() {
		if ne.e.PatientID != "" {
			continue
		}
		canonical, err := ne.e.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		// The patient pseudonym passed is ignored: the event has none.
		l, err := NewLeaf(canonical, testSalt(), filled(0xaa), filled(0xbb))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := l.Marshal()
		if b[1] != 0 || !bytes.Equal(b[10:42], make([]byte, 32)) {
			t.Fatalf("%s: flags %d, patient %x; want none", ne.name, b[1], b[10:42])
		}
	}
	e := erasedLeaf("ev-1", time.Date(2026, 1, 2, 3, 4, 5, 6789, time.UTC), filled(0xbb), ActionRead, OutcomeSuccess, "TREAT")
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256([]byte("trustward/ledger/erased/v1|ev-1"))
	if b[1] != 3 || !bytes.Equal(b[10:42], make([]byte, 32)) || !bytes.Equal(b[len(b)-32:], want[:]) {
		t.Fatalf("erased leaf %x", b)
	}
	back, err := ParseLeaf(b)
	if err != nil || !back.Erased || !back.HasPatient || !back.Time.Equal(time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)) {
		t.Fatalf("ParseLeaf(erased) = %+v, %v", back, err)
	}
}

func TestLeafRoundTrip(t *testing.T) {
	for _, ne := range testEvents() {
		canonical, err := ne.e.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		l, err := NewLeaf(canonical, testSalt(), filled(1), filled(2))
		if err != nil {
			t.Fatalf("%s: %v", ne.name, err)
		}
		b, err := l.Marshal()
		if err != nil {
			t.Fatalf("%s: %v", ne.name, err)
		}
		if len(b) < 109 || len(b) > 125 {
			t.Fatalf("%s: %d bytes", ne.name, len(b))
		}
		back, err := ParseLeaf(b)
		if err != nil {
			t.Fatalf("%s: %v", ne.name, err)
		}
		if back != l && !(back.Time.Equal(l.Time) && back.Commitment == l.Commitment) {
			t.Fatalf("%s: %+v came back as %+v", ne.name, l, back)
		}
		if back.Commitment != LeafCommitment(testSalt(), canonical) {
			t.Fatalf("%s: commitment does not open with salt and event", ne.name)
		}
	}
}

func TestLeafPurpose(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "TREAT": "TREAT", "ETREAT": "ETREAT", "HPAYMT": "HPAYMT", "HOPERAT": "HOPERAT", "PATRQT": "PATRQT",
		"treat": "OTHER", "Dr Okafor asked me to look": "OTHER", "JOHNSMITH": "OTHER", strings.Repeat("A", 300): "OTHER",
	} {
		if got := LeafPurpose(in); got != want {
			t.Errorf("LeafPurpose(%.20q) = %q, want %q", in, got, want)
		}
	}
}

// TestLeafCarriesNoPHI: nothing of an event's text reaches its leaf.
func TestLeafCarriesNoPHI(t *testing.T) {
	ev := Event{V: CanonicalVersion, ID: "event-id-7f3a", Time: time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC),
		Actor:     Actor{UserID: "user-okafor", Name: "Dr. Ada Okafor", Role: "clinician", PractitionerID: "pract-0042", Organization: "dept-oncology"},
		PatientID: "patient-jane-roe", ResourceType: "Condition", ResourceID: "cond-hiv-positive",
		Action: ActionRead, Subtype: "chart", Purpose: "Jane's HIV follow-up", Outcome: OutcomeDenied,
		OutcomeDesc: "not on care team", Basis: "care-team", Source: "ehr-feed", NetworkAddress: "10.1.2.3",
		UserAgent: "Mozilla/5.0", BreakGlass: &BreakGlass{GrantID: "grant-9", ReasonCode: "EMERG", Reason: "unconscious in ED"}}
	canonical, err := ev.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLeaf(canonical, testSalt(), PatientPseudonym([]byte("secret"), ev.PatientID), filled(2))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := l.Marshal()
	for _, s := range []string{ev.ID, ev.Actor.UserID, "Okafor", "pract", "oncology", "jane", "Jane", "roe", "Condition", "hiv", "HIV",
		"chart", "care", "ehr", "10.1", "Mozilla", "grant", "EMERG", "unconscious"} {
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("leaf contains %q", s)
		}
	}
	if l.Purpose != "OTHER" {
		t.Errorf("free-text purpose became %q", l.Purpose)
	}
}

func TestPatientPseudonym(t *testing.T) {
	m := hmac.New(sha256.New, []byte("k1"))
	m.Write([]byte("trustward/ledger/patient/v1|p1"))
	if got := PatientPseudonym([]byte("k1"), "p1"); !bytes.Equal(got[:], m.Sum(nil)) {
		t.Fatal("pseudonym is not HMAC-SHA256(secret, label || id)")
	}
	if PatientPseudonym([]byte("k1"), "p1") == PatientPseudonym([]byte("k2"), "p1") {
		t.Fatal("pseudonym does not depend on the secret")
	}
}

func validLeafBytes(t testing.TB) []byte {
	t.Helper()
	canonical, err := testEvents()[0].e.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLeaf(canonical, testSalt(), filled(0xaa), filled(0xbb))
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseLeafRejects(t *testing.T) {
	good := validLeafBytes(t)
	edit := func(f func(b []byte) []byte) []byte { return f(append([]byte{}, good...)) }
	for name, b := range map[string][]byte{
		"empty":                    {},
		"truncated":                good[:len(good)-1],
		"extended":                 append(append([]byte{}, good...), 0),
		"version 2":                edit(func(b []byte) []byte { b[0] = 2; return b }),
		"unknown flag":             edit(func(b []byte) []byte { b[1] |= 4; return b }),
		"erased without patient":   edit(func(b []byte) []byte { b[1] = 2; copy(b[10:42], make([]byte, 32)); return b }),
		"no patient but pseudonym": edit(func(b []byte) []byte { b[1] = 0; return b }),
		"erased with pseudonym":    edit(func(b []byte) []byte { b[1] = 3; return b }),
		"action X":                 edit(func(b []byte) []byte { b[74] = 'X'; return b }),
		"outcome 5":                edit(func(b []byte) []byte { b[75] = 5; return b }),
		"purpose length":           edit(func(b []byte) []byte { b[76] = 4; return b }),
		"purpose not a code":       edit(func(b []byte) []byte { copy(b[77:82], "TRXAT"); return b }),
		"lower-case purpose":       edit(func(b []byte) []byte { copy(b[77:82], "treat"); return b }),
		"year 10000": edit(func(b []byte) []byte {
			binary.BigEndian.PutUint64(b[2:10], uint64(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC).UnixMicro()+366*24*3600e6))
			return b
		}),
		"year 0": edit(func(b []byte) []byte {
			binary.BigEndian.PutUint64(b[2:10], uint64(time.Date(0, 6, 1, 0, 0, 0, 0, time.UTC).UnixMicro()))
			return b
		}),
	} {
		if _, err := ParseLeaf(b); !fault.Is(err, fault.Invalid) {
			t.Errorf("%s: ParseLeaf = %v, want invalid", name, err)
		}
	}
	if _, err := NewLeaf([]byte(`{"v":1}`), testSalt(), filled(1), filled(2)); err == nil {
		t.Error("NewLeaf accepted a non-event")
	}
	canonical, _ := testEvents()[0].e.Canonical()
	if _, err := NewLeaf(canonical, testSalt()[:31], filled(1), filled(2)); !fault.Is(err, fault.Invalid) {
		t.Errorf("short salt: %v", err)
	}
}

// FuzzParseLeaf: the parser never panics, and what it accepts encodes back
// to the same bytes.
func FuzzParseLeaf(f *testing.F) {
	f.Add(validLeafBytes(f))
	e, _ := erasedLeaf("x", time.Unix(0, 0), filled(3), ActionExecute, OutcomeMajor, "").Marshal()
	f.Add(e)
	f.Add(make([]byte, 109))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseLeaf(b)
		if err != nil {
			return
		}
		again, err := l.Marshal()
		if err != nil {
			t.Fatalf("parsed leaf does not encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("leaf %x encodes back as %x", b, again)
		}
	})
}

// TestLeafDocumentedVector is the worked example of docs/ledger.md.
func TestLeafDocumentedVector(t *testing.T) {
	canonical, err := testEvents()[0].e.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile("testdata/canonical/chart-read.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(canonical, bytes.TrimSuffix(golden, []byte("\n"))) {
		t.Fatal("the documented event is not testdata/canonical/chart-read.json")
	}
	patient := PatientPseudonym(make([]byte, 32), "pt-7f3a")
	if hex.EncodeToString(patient[:]) != "1646c9c58cb06199e24467c0fc74c6c68d0c7075737baedfec88d37e96a502c4" {
		t.Fatalf("patient pseudonym %x", patient)
	}
	var actor [32]byte
	hex.Decode(actor[:], []byte("263354a6795f90fe99819c0d06b46c08f623ca4660d60cd7e585264c837e3c17"))
	l, err := NewLeaf(canonical, testSalt(), patient, actor)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := l.Marshal()
	const want = "01010006304a09fd9121" +
		"1646c9c58cb06199e24467c0fc74c6c68d0c7075737baedfec88d37e96a502c4" +
		"263354a6795f90fe99819c0d06b46c08f623ca4660d60cd7e585264c837e3c17" +
		"520005" + "5452454154" +
		"b9802e14d73e7afb4687c4e5f73a47af52103f4d89fe73127b76f347d4778ff0"
	if hex.EncodeToString(b) != want {
		t.Fatalf("leaf %x\nwant %s", b, want)
	}
	if h := sha256.Sum256(append([]byte{0}, b...)); hex.EncodeToString(h[:]) != "52475c19d53bd1a30197ea9dd559f42c14d12f21c32ef0d8d088c7b91aa63a15" {
		t.Fatalf("RFC 6962 leaf hash %x", h)
	}
}
