package web

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"strconv"

	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/ledger"
)

// logProver is what the proof endpoints need of the ledger
// (ledger.POSIXLog provides it).
type logProver interface {
	InclusionProof(ctx context.Context, index, treeSize uint64) ([][]byte, error)
	ConsistencyProof(ctx context.Context, from, to uint64) ([][]byte, error)
}

// inclusionProof is the answer of GET /log/proof/inclusion.
type inclusionProof struct {
	Index    uint64   `json:"index"`
	TreeSize uint64   `json:"treeSize"`
	Proof    [][]byte `json:"proof"`
}

// consistencyProof is the answer of GET /log/proof/consistency.
type consistencyProof struct {
	From  uint64   `json:"from"`
	To    uint64   `json:"to"`
	Proof [][]byte `json:"proof"`
}

func (s *Server) logProofRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /log/proof/inclusion", s.logInclusion)
	m.HandleFunc("GET /log/proof/consistency", s.logConsistency)
}

// publishedCheckpoint reads the published checkpoint and verifies it with
// the log's key: Unavailable when none is published (or no log is served
// here), Internal when it does not verify.
func (s *Server) publishedCheckpoint() ([]byte, ledger.Checkpoint, error) {
	if s.LogFiles == nil {
		return nil, ledger.Checkpoint{}, fault.New(fault.Unavailable, "the log is not served here")
	}
	b, err := fs.ReadFile(s.LogFiles, "checkpoint")
	if err != nil {
		return nil, ledger.Checkpoint{}, fault.Wrap(fault.Unavailable, err, "no checkpoint is published yet")
	}
	cp, err := ledger.VerifyCheckpoint(b, s.LogKey)
	if err != nil {
		return nil, ledger.Checkpoint{}, fault.Wrap(fault.Internal, err, "the published checkpoint does not verify")
	}
	return b, cp, nil
}

// proofQuery reads the two numbers of a proof request and the size of the
// published checkpoint: proofs are only given for trees a client can check
// against a checkpoint.
func (s *Server) proofQuery(r *http.Request, first, second string) (a, b, published uint64, err error) {
	if a, err = queryUint(r, first); err != nil {
		return
	}
	if b, err = queryUint(r, second); err != nil {
		return
	}
	if s.LogProofs == nil {
		err = fault.New(fault.Unavailable, "the log is not served here")
		return
	}
	_, cp, err := s.publishedCheckpoint()
	return a, b, cp.Size, err
}

func queryUint(r *http.Request, name string) (uint64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, fault.InvalidField(name, "is required")
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || (len(v) > 1 && v[0] == '0') {
		return 0, fault.InvalidField(name, "%q is not a whole number without leading zeros", v)
	}
	return n, nil
}

func (s *Server) logInclusion(w http.ResponseWriter, r *http.Request) {
	fail := func(err error) { writeProblem(w, r, s.Log, err) }
	index, size, published, err := s.proofQuery(r, "index", "size")
	if err != nil {
		fail(err)
		return
	}
	switch {
	case size > published:
		fail(fault.InvalidField("size", "%d is larger than the published checkpoint (%d)", size, published))
		return
	case index >= size:
		fail(fault.InvalidField("index", "%d is not in a tree of %d leaves", index, size))
		return
	}
	p, err := s.LogProofs.InclusionProof(r.Context(), index, size)
	if err != nil {
		fail(err)
		return
	}
	writeProof(w, inclusionProof{Index: index, TreeSize: size, Proof: nonNil(p)})
}

func (s *Server) logConsistency(w http.ResponseWriter, r *http.Request) {
	fail := func(err error) { writeProblem(w, r, s.Log, err) }
	from, to, published, err := s.proofQuery(r, "from", "to")
	if err != nil {
		fail(err)
		return
	}
	switch {
	case to > published:
		fail(fault.InvalidField("to", "%d is larger than the published checkpoint (%d)", to, published))
		return
	case from > to:
		fail(fault.InvalidField("from", "%d is larger than to (%d)", from, to))
		return
	}
	p, err := s.LogProofs.ConsistencyProof(r.Context(), from, to)
	if err != nil {
		fail(err)
		return
	}
	writeProof(w, consistencyProof{From: from, To: to, Proof: nonNil(p)})
}

func nonNil(p [][]byte) [][]byte {
	if p == nil {
		return [][]byte{}
	}
	return p
}

// writeProof answers with a proof. A proof for given sizes never changes,
// so it may be cached for good, as tlog-tiles says of full tiles.
func writeProof(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	_ = json.NewEncoder(w).Encode(v)
}
