package audit

import (
	"bytes"
	"encoding/base64"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// This file is the fast path of EventFromFHIR, for bulk ingestion: one pass
// over the bytes into a flat list of nodes, then the mapping of fhir.go
// read off those nodes, with no maps, no reflection and no JSON paths.
//
// It never produces an error of its own. Whatever it does not accept it
// hands to the strict reader of fhir.go, which then accepts or rejects the
// input and names the JSON path at fault, so every message stays exactly
// what it was. fastReject means that the strict reader must reject the
// input as well, fastUnusual that the input has a shape left to the strict
// reader (an escaped object key, an object with many keys); FuzzFastFHIR
// holds the fast reader to both promises and to giving the same event.

// fastOutcome is what the fast reader made of an input.
type fastOutcome uint8

const (
	// fastOK: the event is the one the strict reader gives.
	fastOK fastOutcome = iota
	// fastReject: the strict reader rejects the input too.
	fastReject
	// fastUnusual: a shape the fast reader leaves to the strict one.
	fastUnusual
)

// fastMaxKeys bounds the keys of one object on the fast path: duplicates
// are found by comparing each key with those before it, which is quick
// for the handful of keys an AuditEvent object has and quadratic beyond.
const fastMaxKeys = 32

// Kinds of node.
const (
	nodeObject uint8 = iota + 1
	nodeArray
	nodeString
	nodeNumber
	nodeTrue
	nodeFalse
	nodeNull
	nodeKey
)

// node is one JSON value (or object key) in document order. An object's
// members follow it as key, value, key, value...; an array's elements
// follow it; next is the index just past the node and all it contains.
type node struct {
	kind uint8
	// esc is set on a string holding escapes: its text must be decoded.
	esc bool
	// start, end delimit a string's content (without quotes) or a number.
	start, end int32
	next       int32
}

// fastReader holds one input's nodes; a pool reuses them across calls.
type fastReader struct {
	raw   []byte
	nodes []node
	pos   int
	// bad is set by the mapping at the first check the strict reader would
	// fail; the event is then discarded.
	bad bool
}

var fastReaders = sync.Pool{New: func() any { return &fastReader{nodes: make([]node, 0, 256)} }}

// eventFromFHIRFast reads raw as EventFromFHIR does; see fastOutcome.
func eventFromFHIRFast(raw []byte) (Event, fastOutcome) {
	if len(raw) > maxFHIRSize || !utf8.Valid(raw) {
		return Event{}, fastReject
	}
	r := fastReaders.Get().(*fastReader)
	defer func() {
		r.raw = nil
		if cap(r.nodes) <= 1<<14 {
			fastReaders.Put(r)
		}
	}()
	r.raw, r.nodes, r.pos, r.bad = raw, r.nodes[:0], 0, false
	if out := r.parse(); out != fastOK {
		return Event{}, out
	}
	if r.nodes[0].kind != nodeObject {
		return Event{}, fastReject
	}
	e := r.event(0)
	if r.bad {
		return Event{}, fastReject
	}
	e.V = CanonicalVersion
	e.normalise()
	if e.Validate() != nil {
		return Event{}, fastReject
	}
	return e, fastOK
}

// parse scans the whole input into nodes: one JSON value and nothing after
// it but white space, as decodeTree demands.
func (r *fastReader) parse() fastOutcome {
	if out := r.value(0); out != fastOK {
		return out
	}
	r.skipSpace()
	if r.pos != len(r.raw) {
		return fastReject
	}
	return fastOK
}

func (r *fastReader) skipSpace() {
	for r.pos < len(r.raw) {
		switch r.raw[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

// value scans one value at nesting depth depth (the root is at 0); a
// container at maxFHIRDepth or deeper is rejected, as decodeValue does.
func (r *fastReader) value(depth int) fastOutcome {
	r.skipSpace()
	if r.pos >= len(r.raw) {
		return fastReject
	}
	at := len(r.nodes)
	switch c := r.raw[r.pos]; {
	case c == '{':
		if depth >= maxFHIRDepth {
			return fastReject
		}
		r.pos++
		r.nodes = append(r.nodes, node{kind: nodeObject})
		if out := r.members(depth); out != fastOK {
			return out
		}
	case c == '[':
		if depth >= maxFHIRDepth {
			return fastReject
		}
		r.pos++
		r.nodes = append(r.nodes, node{kind: nodeArray})
		if out := r.elements(depth); out != fastOK {
			return out
		}
	case c == '"':
		if !r.str(nodeString) {
			return fastReject
		}
	case c == '-' || ('0' <= c && c <= '9'):
		if !r.number() {
			return fastReject
		}
	case c == 't':
		if !r.literal("true", nodeTrue) {
			return fastReject
		}
	case c == 'f':
		if !r.literal("false", nodeFalse) {
			return fastReject
		}
	case c == 'n':
		if !r.literal("null", nodeNull) {
			return fastReject
		}
	default:
		return fastReject
	}
	r.nodes[at].next = int32(len(r.nodes))
	return fastOK
}

// members scans an object's members after its '{'.
func (r *fastReader) members(depth int) fastOutcome {
	var keys [fastMaxKeys]int32
	n := 0
	r.skipSpace()
	if r.pos < len(r.raw) && r.raw[r.pos] == '}' {
		r.pos++
		return fastOK
	}
	for {
		r.skipSpace()
		if r.pos >= len(r.raw) || r.raw[r.pos] != '"' {
			return fastReject
		}
		k := int32(len(r.nodes))
		if !r.str(nodeKey) {
			return fastReject
		}
		kn := &r.nodes[k]
		kn.next = k + 1
		if kn.esc || n == fastMaxKeys {
			return fastUnusual
		}
		key := r.raw[kn.start:kn.end]
		for _, prev := range keys[:n] {
			if p := r.nodes[prev]; bytes.Equal(r.raw[p.start:p.end], key) {
				return fastReject
			}
		}
		keys[n] = k
		n++
		r.skipSpace()
		if r.pos >= len(r.raw) || r.raw[r.pos] != ':' {
			return fastReject
		}
		r.pos++
		if out := r.value(depth + 1); out != fastOK {
			return out
		}
		r.skipSpace()
		if r.pos >= len(r.raw) {
			return fastReject
		}
		switch r.raw[r.pos] {
		case ',':
			r.pos++
		case '}':
			r.pos++
			return fastOK
		default:
			return fastReject
		}
	}
}

// elements scans an array's elements after its '['.
func (r *fastReader) elements(depth int) fastOutcome {
	r.skipSpace()
	if r.pos < len(r.raw) && r.raw[r.pos] == ']' {
		r.pos++
		return fastOK
	}
	for {
		if out := r.value(depth + 1); out != fastOK {
			return out
		}
		r.skipSpace()
		if r.pos >= len(r.raw) {
			return fastReject
		}
		switch r.raw[r.pos] {
		case ',':
			r.pos++
		case ']':
			r.pos++
			return fastOK
		default:
			return fastReject
		}
	}
}

// plainByte marks the bytes a JSON string holds as they are: not a quote,
// a backslash or a control character.
var plainByte = func() (t [256]bool) {
	for i := 0x20; i < 256; i++ {
		t[i] = i != '"' && i != '\\'
	}
	return t
}()

// str scans a string at r.pos (its opening quote) into a node of kind.
func (r *fastReader) str(kind uint8) bool {
	raw := r.raw
	i := r.pos + 1
	n := node{kind: kind, start: int32(i)}
	for {
		for i < len(raw) && plainByte[raw[i]] {
			i++
		}
		if i >= len(raw) || raw[i] < 0x20 {
			return false
		}
		if raw[i] == '"' {
			break
		}
		// A backslash: one of the escapes JSON allows.
		n.esc = true
		if i+1 >= len(raw) {
			return false
		}
		switch raw[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
		case 'u':
			if hex4(raw[i+2:]) < 0 {
				return false
			}
			i += 6
		default:
			return false
		}
	}
	n.end = int32(i)
	r.pos = i + 1
	n.next = int32(len(r.nodes)) + 1
	r.nodes = append(r.nodes, n)
	return true
}

// hex4 decodes the four hex digits at the start of b, or returns -1.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var v rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		v = v<<4 | rune(c)
	}
	return v
}

// number scans a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (r *fastReader) number() bool {
	raw, i := r.raw, r.pos
	digits := func() bool {
		s := i
		for i < len(raw) && '0' <= raw[i] && raw[i] <= '9' {
			i++
		}
		return i > s
	}
	if raw[i] == '-' {
		i++
	}
	switch {
	case i < len(raw) && raw[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(raw) && raw[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(raw) && (raw[i] == 'e' || raw[i] == 'E') {
		i++
		if i < len(raw) && (raw[i] == '+' || raw[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	r.nodes = append(r.nodes, node{kind: nodeNumber, start: int32(r.pos), end: int32(i), next: int32(len(r.nodes)) + 1})
	r.pos = i
	return true
}

func (r *fastReader) literal(word string, kind uint8) bool {
	if !bytes.HasPrefix(r.raw[r.pos:], []byte(word)) {
		return false
	}
	r.pos += len(word)
	r.nodes = append(r.nodes, node{kind: kind, next: int32(len(r.nodes)) + 1})
	return true
}

// text is a string node's value: the bytes of the input when it has no
// escapes, else a decoded copy.
func (r *fastReader) text(i int32) []byte {
	n := r.nodes[i]
	s := r.raw[n.start:n.end]
	if !n.esc {
		return s
	}
	return unescape(s)
}

// unescape decodes the escapes of a scanned JSON string as encoding/json
// does, down to a lone or mismatched surrogate becoming U+FFFD.
func unescape(s []byte) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		switch s[i+1] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			rr := hex4(s[i+2:])
			i += 6
			if utf16.IsSurrogate(rr) {
				rr1 := rune(-1)
				if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					rr1 = hex4(s[i+2:])
				}
				if dec := utf16.DecodeRune(rr, rr1); dec != utf8.RuneError {
					out = utf8.AppendRune(out, dec)
					i += 6
					continue
				}
				rr = utf8.RuneError
			}
			out = utf8.AppendRune(out, rr)
			continue
		default: // '"', '\\', '/'
			out = append(out, s[i+1])
		}
		i += 2
	}
	return out
}

// The mapping below follows fhirReader in fhir.go step by step, so that it
// makes every check that fhirReader makes (r.bad where fhirReader fails)
// and reads the same members in the same cases. Changing one means
// changing the other; FuzzFastFHIR compares them.

// member returns the value of key in object o, or -1. A null value is a
// failed check, as in fhirReader.value.
func (r *fastReader) member(o int32, key string) int32 {
	if o < 0 {
		return -1
	}
	end := r.nodes[o].next
	for k := o + 1; k < end; {
		n := r.nodes[k]
		if string(r.raw[n.start:n.end]) == key {
			if r.nodes[k+1].kind == nodeNull {
				r.bad = true
				return -1
			}
			return k + 1
		}
		k = r.nodes[k+1].next
	}
	return -1
}

// strOf returns a string member; absent is nil.
func (r *fastReader) strOf(o int32, key string) []byte {
	v := r.member(o, key)
	if v < 0 {
		return nil
	}
	if r.nodes[v].kind != nodeString {
		r.bad = true
		return nil
	}
	return r.text(v)
}

func (r *fastReader) object(o int32, key string) (int32, bool) {
	v := r.member(o, key)
	if v < 0 {
		return -1, false
	}
	if r.nodes[v].kind != nodeObject {
		r.bad = true
		return -1, false
	}
	return v, true
}

// objects returns an array of objects as the index of the array, or -1
// when absent; first and after walk its elements.
func (r *fastReader) objects(o int32, key string) int32 {
	v := r.member(o, key)
	if v < 0 {
		return -1
	}
	if r.nodes[v].kind != nodeArray {
		r.bad = true
		return -1
	}
	for i := r.first(v); i >= 0; i = r.after(v, i) {
		if r.nodes[i].kind != nodeObject {
			r.bad = true
			return -1
		}
	}
	return v
}

// first is the first element of array a, or -1.
func (r *fastReader) first(a int32) int32 {
	if a < 0 || a+1 >= r.nodes[a].next {
		return -1
	}
	return a + 1
}

// after is the element of array a after element i, or -1.
func (r *fastReader) after(a, i int32) int32 {
	if n := r.nodes[i].next; n < r.nodes[a].next {
		return n
	}
	return -1
}

func (r *fastReader) count(a int32) int {
	n := 0
	for i := r.first(a); i >= 0; i = r.after(a, i) {
		n++
	}
	return n
}

func (r *fastReader) boolean(o int32, key string) bool {
	v := r.member(o, key)
	if v < 0 {
		return false
	}
	switch r.nodes[v].kind {
	case nodeTrue:
		return true
	case nodeFalse:
		return false
	}
	r.bad = true
	return false
}

type fastCoding struct{ system, code, display []byte }

func (r *fastReader) coding(o int32) fastCoding {
	return fastCoding{r.strOf(o, "system"), r.strOf(o, "code"), r.strOf(o, "display")}
}

func (r *fastReader) event(root int32) Event {
	var e Event
	if string(r.strOf(root, "resourceType")) != "AuditEvent" {
		r.bad = true
	}
	if e.ID = string(r.strOf(root, "id")); e.ID == "" {
		r.bad = true
	}
	e.Time = r.recorded(root)
	if _, ok := r.object(root, "type"); !ok {
		r.bad = true
	}
	e.Subtype = r.subtype(root)
	switch e.Action = actionCode(r.strOf(root, "action")); e.Action {
	case ActionCreate, ActionRead, ActionUpdate, ActionDelete, ActionExecute:
	case "":
		e.Action = actionOf(e.Subtype)
	default:
		r.bad = true
	}
	switch e.Outcome = outcomeCode(r.strOf(root, "outcome")); e.Outcome {
	case OutcomeSuccess, OutcomeDenied, OutcomeFailure, OutcomeMajor:
	case "":
		e.Outcome = OutcomeSuccess
	default:
		r.bad = true
	}
	e.OutcomeDesc = string(r.strOf(root, "outcomeDesc"))
	if p := r.purpose(root, "purposeOfEvent"); p != "" {
		e.Purpose = p
	}
	r.agents(root, &e)
	r.source(root, &e)
	r.entities(root, &e)
	return e
}

// actionCode and outcomeCode return the constants for the valid codes, so
// that the common events allocate nothing for them.
func actionCode(b []byte) string {
	switch string(b) {
	case ActionCreate:
		return ActionCreate
	case ActionRead:
		return ActionRead
	case ActionUpdate:
		return ActionUpdate
	case ActionDelete:
		return ActionDelete
	case ActionExecute:
		return ActionExecute
	}
	return string(b)
}

func outcomeCode(b []byte) string {
	switch string(b) {
	case OutcomeSuccess:
		return OutcomeSuccess
	case OutcomeDenied:
		return OutcomeDenied
	case OutcomeFailure:
		return OutcomeFailure
	case OutcomeMajor:
		return OutcomeMajor
	}
	return string(b)
}

func (r *fastReader) recorded(root int32) time.Time {
	s := r.strOf(root, "recorded")
	if len(s) == 0 || !isFHIRInstant(s) {
		r.bad = true
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, string(s))
	if err != nil {
		r.bad = true
		return time.Time{}
	}
	return t
}

// isFHIRInstant matches fhirInstant without the regexp engine.
func isFHIRInstant(s []byte) bool {
	digits := func(b []byte) bool {
		for _, c := range b {
			if c < '0' || c > '9' {
				return false
			}
		}
		return true
	}
	// yyyy-mm-ddThh:mm:ss
	if len(s) < 20 || !digits(s[0:4]) || s[4] != '-' || !digits(s[5:7]) || s[7] != '-' || !digits(s[8:10]) ||
		s[10] != 'T' || !digits(s[11:13]) || s[13] != ':' || !digits(s[14:16]) || s[16] != ':' || !digits(s[17:19]) {
		return false
	}
	rest := s[19:]
	if rest[0] == '.' {
		i := 1
		for i < len(rest) && '0' <= rest[i] && rest[i] <= '9' {
			i++
		}
		if i == 1 {
			return false
		}
		rest = rest[i:]
	}
	switch {
	case len(rest) == 1:
		return rest[0] == 'Z'
	case len(rest) == 6:
		return (rest[0] == '+' || rest[0] == '-') && digits(rest[1:3]) && rest[3] == ':' && digits(rest[4:6])
	}
	return false
}

func (r *fastReader) subtype(root int32) string {
	var first []byte
	a := r.objects(root, "subtype")
	for o := r.first(a); o >= 0; o = r.after(a, o) {
		c := r.coding(o)
		if len(c.code) == 0 {
			continue
		}
		if string(c.system) == systemDICOM {
			switch string(c.code) {
			case "110122":
				return "login"
			case "110123":
				return "logout"
			case "110127":
				return "break-glass"
			}
		}
		if string(c.system) == systemRestful || string(c.system) == systemSubtype {
			return string(c.code)
		}
		if first == nil {
			first = c.code
		}
	}
	return string(first)
}

func (r *fastReader) purpose(o int32, key string) string {
	var first []byte
	ccs := r.objects(o, key)
	for cc := r.first(ccs); cc >= 0; cc = r.after(ccs, cc) {
		cos := r.objects(cc, "coding")
		for co := r.first(cos); co >= 0; co = r.after(cos, co) {
			c := r.coding(co)
			if len(c.code) == 0 {
				continue
			}
			if string(c.system) == systemActReason {
				return string(c.code)
			}
			if first == nil {
				first = c.code
			}
		}
	}
	return string(first)
}

func (r *fastReader) agents(root int32, e *Event) {
	agents := r.objects(root, "agent")
	if r.count(agents) == 0 {
		r.bad = true
		return
	}
	a := r.first(agents)
	for i := a; i >= 0; i = r.after(agents, i) {
		if r.boolean(i, "requestor") {
			a = i
			break
		}
	}
	who, ok := r.object(a, "who")
	if !ok {
		r.bad = true
		return
	}
	ref := r.strOf(who, "reference")
	id, hasID := r.object(who, "identifier")
	switch user := r.strOf(id, "value"); {
	case hasID && len(user) > 0:
		e.Actor.UserID = string(user)
	case len(ref) > 0:
		e.Actor.UserID = string(ref)
	default:
		r.bad = true
	}
	if p, ok := bytes.CutPrefix(ref, []byte("Practitioner/")); ok {
		e.Actor.PractitionerID = string(p)
	} else if typ, p := splitReference(string(ref)); typ == "Practitioner" {
		e.Actor.PractitionerID = p
	}
	if name := r.strOf(who, "display"); len(name) > 0 {
		e.Actor.Name = string(name)
	} else {
		e.Actor.Name = string(r.strOf(a, "name"))
	}
	if e.Actor.Role = r.role(a); e.Actor.Role == "" {
		e.Actor.Role = UnknownRole
	}
	if e.Purpose == "" {
		if p := r.purpose(a, "purposeOfUse"); p != "" {
			e.Purpose = p
		}
	}
	if addr := r.network(a); len(addr) > 0 {
		e.NetworkAddress = string(addr)
	}
	for other := r.first(agents); other >= 0; other = r.after(agents, other) {
		if other == a {
			continue
		}
		if e.NetworkAddress == "" && r.isSourceRole(other) {
			if addr := r.network(other); len(addr) > 0 {
				e.NetworkAddress = string(addr)
			}
		}
		if e.Actor.Organization == "" {
			if org := r.organization(other); org != "" {
				e.Actor.Organization = org
			}
		}
	}
}

func (r *fastReader) role(a int32) string {
	ccs := r.objects(a, "role")
	for cc := r.first(ccs); cc >= 0; cc = r.after(ccs, cc) {
		if t := r.strOf(cc, "text"); len(t) > 0 {
			return string(t)
		}
		cos := r.objects(cc, "coding")
		for co := r.first(cos); co >= 0; co = r.after(cos, co) {
			c := r.coding(co)
			if len(c.display) > 0 {
				return string(c.display)
			}
			if len(c.code) > 0 {
				return string(c.code)
			}
		}
	}
	return ""
}

func (r *fastReader) network(a int32) []byte {
	n, ok := r.object(a, "network")
	if !ok {
		return nil
	}
	switch string(r.strOf(n, "type")) {
	case "", "1", "2", "3", "4", "5":
	default:
		r.bad = true
	}
	return r.strOf(n, "address")
}

func (r *fastReader) isSourceRole(a int32) bool {
	t, ok := r.object(a, "type")
	if !ok {
		return false
	}
	cos := r.objects(t, "coding")
	for co := r.first(cos); co >= 0; co = r.after(cos, co) {
		if c := r.coding(co); string(c.system) == systemDICOM && string(c.code) == "110153" {
			return true
		}
	}
	return false
}

func (r *fastReader) organization(a int32) string {
	who, ok := r.object(a, "who")
	if !ok {
		return ""
	}
	ref := r.strOf(who, "reference")
	if id, ok := r.object(who, "identifier"); ok && string(r.strOf(id, "system")) == identOrganization {
		return string(r.strOf(id, "value"))
	}
	if typ, org := splitReference(string(ref)); typ == "Organization" {
		return org
	}
	if string(r.strOf(who, "type")) == "Organization" {
		if id, ok := r.object(who, "identifier"); ok && len(r.strOf(id, "value")) > 0 {
			return string(r.strOf(id, "value"))
		}
		return string(r.strOf(who, "display"))
	}
	return ""
}

func (r *fastReader) source(root int32, e *Event) {
	src, ok := r.object(root, "source")
	if !ok {
		r.bad = true
		return
	}
	obs, ok := r.object(src, "observer")
	if !ok {
		r.bad = true
		return
	}
	if d := r.strOf(obs, "display"); len(d) > 0 {
		e.Source = string(d)
		return
	}
	if id, ok := r.object(obs, "identifier"); ok && len(r.strOf(id, "value")) > 0 {
		e.Source = string(r.strOf(id, "value"))
		return
	}
	if ref := r.strOf(obs, "reference"); len(ref) > 0 {
		e.Source = string(ref)
		return
	}
	r.bad = true
}

// fastDetails are the entity details the mapping reads; fhirReader keeps
// every type in a map, of which it reads only these.
type fastDetails struct {
	basis, userAgent, reasonCode, reason []byte
}

func (r *fastReader) entities(root int32, e *Event) {
	var havePatient, haveResource bool
	ents := r.objects(root, "entity")
	for ent := r.first(ents); ent >= 0; ent = r.after(ents, ent) {
		var role fastCoding
		if ro, ok := r.object(ent, "role"); ok {
			role = r.coding(ro)
		}
		what, hasWhat := r.object(ent, "what")
		details := r.details(ent)
		objectRole := string(role.system) == systemObjectRole
		switch {
		case objectRole && string(role.code) == "1" && hasWhat && !havePatient:
			ref := r.strOf(what, "reference")
			// As in fhirReader, a reference that names no Patient is the
			// patient's id as it stands.
			id, ok := strings.CutPrefix(string(ref), "Patient/")
			if !ok {
				if typ, rest := splitReference(id); typ == "Patient" {
					id = rest
				}
			}
			if id != "" {
				havePatient = true
				e.PatientID = id
			}
		case objectRole && string(role.code) == "4" && hasWhat && !haveResource:
			if typ, id := r.resource(what); typ != "" || id != "" {
				haveResource = true
				e.ResourceType, e.ResourceID = typ, id
			}
		case objectRole && string(role.code) == "13" && e.BreakGlass == nil:
			if details.reasonCode != nil {
				bg := &BreakGlass{ReasonCode: string(details.reasonCode), Reason: string(details.reason)}
				if hasWhat {
					if id, ok := r.object(what, "identifier"); ok {
						bg.GrantID = string(r.strOf(id, "value"))
					}
				}
				e.BreakGlass = bg
			}
		}
		if details.basis != nil && e.Basis == "" {
			e.Basis = string(details.basis)
		}
		if details.userAgent != nil && e.UserAgent == "" {
			e.UserAgent = string(details.userAgent)
		}
	}
}

func (r *fastReader) resource(what int32) (typ, id string) {
	typ = string(r.strOf(what, "type"))
	if ref := string(r.strOf(what, "reference")); ref != "" {
		if rest, ok := strings.CutPrefix(ref, typ+"/"); typ != "" && ok {
			return typ, rest
		}
		t, rest := splitReference(ref)
		if typ == "" {
			typ = t
		}
		return typ, rest
	}
	if ident, ok := r.object(what, "identifier"); ok {
		return typ, string(r.strOf(ident, "value"))
	}
	return typ, ""
}

// details reads an entity's details as fhirReader.details does: the first
// non-empty value of each type, a base64 value decoded and then UTF-8.
// A value found is never nil.
func (r *fastReader) details(ent int32) fastDetails {
	var out fastDetails
	ds := r.objects(ent, "detail")
	for d := r.first(ds); d >= 0; d = r.after(ds, d) {
		typ := r.strOf(d, "type")
		if len(typ) == 0 {
			r.bad = true
			continue
		}
		v := r.strOf(d, "valueString")
		if len(v) == 0 {
			if b64 := r.strOf(d, "valueBase64Binary"); len(b64) > 0 {
				b, err := base64.StdEncoding.DecodeString(string(b64))
				if err != nil || !utf8.Valid(b) {
					r.bad = true
					continue
				}
				v = b
			}
		}
		if len(v) == 0 {
			continue
		}
		var dst *[]byte
		switch string(typ) {
		case detailBasis:
			dst = &out.basis
		case detailUserAgent:
			dst = &out.userAgent
		case detailReasonCode:
			dst = &out.reasonCode
		case detailReason:
			dst = &out.reason
		default:
			continue
		}
		if *dst == nil {
			*dst = v
		}
	}
	return out
}
