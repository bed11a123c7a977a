package ledger

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/transparency-dev/tessera"

	"github.com/trustward/trustward/internal/fault"
)

// Witnesses are independent services that cosign our checkpoints after
// checking that the log only grew since the last checkpoint they saw
// (C2SP tlog-witness). With a witness policy configured, Tessera publishes
// a checkpoint only when the policy's quorum has cosigned it, so a log
// rewritten or forked by anyone holding our signing key is refused by
// every honest witness and never published.
//
// The policy is C2SP's policy file format, as Tessera reads it:
//
//	witness w1 <cosignature verifier key> https://witness.example/
//	witness w2 <cosignature verifier key> https://other.example/
//	group both all w1 w2
//	quorum both
//
// The witnessWatch below sits in the HTTP client Tessera uses to talk to
// witnesses: it keeps each witness's status for the office page and raises
// an alert (an error log line, and Alert in the status) when a witness
// refuses a checkpoint — a 409 that is not the protocol's size
// calibration (the witness holds a different tree of the same size: a
// fork), a 409 claiming a tree larger than ours (our log was rolled back),
// 422 (the consistency proof failed), 403 (the witness does not trust our
// key) or 404 (the witness does not know our log).

// WitnessStatus is what the log knows of one witness.
type WitnessStatus struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	// LastAttempt and LastCosigned are the times of the last request and
	// of the last cosignature received (zero when never).
	LastAttempt  time.Time `json:"lastAttempt,omitzero"`
	LastCosigned time.Time `json:"lastCosigned,omitzero"`
	// CosignedSize is the tree size of the last checkpoint it cosigned.
	CosignedSize uint64 `json:"cosignedSize"`
	// LastStatus is the HTTP status of the last answer (0: no answer).
	LastStatus int `json:"lastStatus"`
	// Problem describes the last failure; empty after a cosignature.
	Problem string `json:"problem,omitempty"`
	// Alert is set when the witness refused a checkpoint (see above): a
	// person must look, since it may mean the log was tampered with.
	Alert bool `json:"alert"`
}

// parseWitnessPolicy checks a policy with Tessera's own parser and
// returns the group and the witnesses' names by their add-checkpoint URL.
func parseWitnessPolicy(policy []byte) (tessera.WitnessGroup, map[string]string, error) {
	wg, err := tessera.NewWitnessGroupFromPolicy(policy)
	if err != nil {
		return wg, nil, fault.Wrap(fault.Invalid, err, "the witness policy is not valid")
	}
	names := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(policy))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 4 && f[0] == "witness" {
			u, err := url.Parse(f[3])
			if err != nil {
				return wg, nil, fault.Wrap(fault.Invalid, err, "witness %s: bad URL", f[1])
			}
			names[u.JoinPath("/add-checkpoint").String()] = f[1]
		}
	}
	return wg, names, nil
}

// witnessWatch is an http.RoundTripper that observes witness answers.
type witnessWatch struct {
	base   http.RoundTripper
	logger *slog.Logger
	clock  func() time.Time

	mu     sync.Mutex
	status map[string]*WitnessStatus // by add-checkpoint URL
}

func newWitnessWatch(base http.RoundTripper, names map[string]string, logger *slog.Logger) *witnessWatch {
	w := &witnessWatch{base: base, logger: logger, clock: time.Now, status: map[string]*WitnessStatus{}}
	for u, n := range names {
		w.status[u] = &WitnessStatus{Name: n, URL: u}
	}
	return w
}

// maxWitnessAnswer bounds what is read of an answer to classify it; a
// cosignature line or a size is well under 1 KiB.
const maxWitnessAnswer = 64 << 10

func (w *witnessWatch) RoundTrip(req *http.Request) (*http.Response, error) {
	// The request body is "old N\n", proof lines, a blank line, then the
	// checkpoint: its second line after the blank is our tree size.
	var ourSize uint64
	if req.Body != nil {
		body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		if _, cp, ok := bytes.Cut(body, []byte("\n\n")); ok {
			if lines := strings.SplitN(string(cp), "\n", 3); len(lines) >= 2 {
				ourSize, _ = strconv.ParseUint(lines[1], 10, 64)
			}
		}
	}
	key := req.URL.String()
	res, err := w.base.RoundTrip(req)
	if err != nil {
		w.record(key, ourSize, 0, nil, "", err.Error())
		return nil, err
	}
	answer, rerr := io.ReadAll(io.LimitReader(res.Body, maxWitnessAnswer))
	res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(answer))
	if rerr != nil {
		w.record(key, ourSize, res.StatusCode, nil, "", rerr.Error())
		return res, nil
	}
	w.record(key, ourSize, res.StatusCode, answer, res.Header.Get("Content-Type"), "")
	return res, nil
}

func (w *witnessWatch) record(key string, ourSize uint64, code int, answer []byte, contentType, failure string) {
	now := w.clock()
	w.mu.Lock()
	defer w.mu.Unlock()
	st, ok := w.status[key]
	if !ok {
		st = &WitnessStatus{Name: key, URL: key}
		w.status[key] = st
	}
	st.LastAttempt, st.LastStatus = now, code
	alert := false
	switch {
	case failure != "":
		st.Problem = "unreachable: " + failure
	case code == http.StatusOK:
		st.LastCosigned, st.CosignedSize, st.Problem, st.Alert = now, ourSize, "", false
		return
	case code == http.StatusConflict && contentType == "text/x.tlog.size":
		theirs, err := strconv.ParseUint(strings.TrimSpace(string(answer)), 10, 64)
		switch {
		case err != nil:
			st.Problem = "answered 409 with a size that is not a number"
		case theirs > ourSize:
			st.Problem = "has cosigned a tree of " + strconv.FormatUint(theirs, 10) + " leaves, larger than ours (" + strconv.FormatUint(ourSize, 10) + "): was the log rolled back?"
			alert = true
		default:
			// The protocol's calibration: Tessera retries from its size.
			st.Problem = ""
			return
		}
	case code == http.StatusConflict:
		st.Problem = "refused: it holds a different tree of the same size (a fork)"
		alert = true
	case code == http.StatusUnprocessableEntity:
		st.Problem = "refused: the consistency proof from its last cosigned tree does not verify"
		alert = true
	case code == http.StatusForbidden:
		st.Problem = "refused: it does not trust this log's key"
		alert = true
	case code == http.StatusNotFound:
		st.Problem = "refused: it does not know this log's origin"
		alert = true
	default:
		st.Problem = "answered HTTP " + strconv.Itoa(code)
	}
	if alert {
		st.Alert = true
		w.logger.Error("ALERT: a witness refused the ledger's checkpoint", "witness", st.Name, "status", code, "problem", st.Problem, "size", ourSize)
	} else {
		w.logger.Warn("a witness did not cosign the ledger's checkpoint", "witness", st.Name, "problem", st.Problem)
	}
}

func (w *witnessWatch) snapshot() []WitnessStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]WitnessStatus, 0, len(w.status))
	for _, st := range w.status {
		out = append(out, *st)
	}
	slices.SortFunc(out, func(a, b WitnessStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}
