package seal

import (
	"context"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/fault"
)

// formatV1 is the first byte of every sealed value.
const formatV1 = 1

// ErrShredded reports that a subject's data key was destroyed.
var ErrShredded = errors.New("the data key was destroyed (crypto-shredded)")

// Sealer seals and opens data per subject.
type Sealer struct {
	db    *db.DB
	kek   KeyEncrypter
	clock func() time.Time

	mu    sync.Mutex
	cache map[string]cipher.AEAD
	// maxCache bounds the number of unwrapped data keys held in memory.
	maxCache int
	create   sync.Mutex
}

// NewSealer returns a Sealer over the seal_keys table.
func NewSealer(d *db.DB, kek KeyEncrypter, clock func() time.Time) *Sealer {
	return &Sealer{db: d, kek: kek, clock: clock, cache: map[string]cipher.AEAD{}, maxCache: 200_000}
}

// PatientSubject is the subject name of a patient's data key.
func PatientSubject(patientID string) string { return "patient/" + patientID }

// Directory is the subject of data that belongs to no patient (staff
// directory, organisation records, events without a patient).
const Directory = "directory"

func wrapAAD(subject string) []byte { return []byte("trustward/dek/v1|" + subject) }

func dataAAD(subject, record string) []byte {
	return []byte("trustward/data/v1|" + subject + "|" + record)
}

// CheckKeys verifies at start-up that the key file can open the data keys
// in the store, so that a wrong or missing key file stops start-up with a
// clear message rather than failing on the first read.
func (s *Sealer) CheckKeys(ctx context.Context) error {
	rows, err := s.db.Query(ctx, `SELECT kek_id, COUNT(*) FROM seal_keys WHERE wrapped IS NOT NULL GROUP BY kek_id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return db.Translate(err)
		}
		if !s.kek.HasKey(id) {
			return fault.New(fault.Unavailable, "the key file does not hold key-encryption key %s, which wraps %d data keys in the store: wrong key file?", id, n)
		}
	}
	if err := rows.Err(); err != nil {
		return db.Translate(err)
	}
	// Open one data key to prove the key material (not only the id) is right.
	var subject, kid string
	var wrapped []byte
	err = s.db.QueryRow(ctx, `SELECT subject, kek_id, wrapped FROM seal_keys WHERE wrapped IS NOT NULL LIMIT 1`).Scan(&subject, &kid, &wrapped)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return db.Translate(err)
	}
	_, err = s.kek.Unwrap(ctx, kid, wrapped, wrapAAD(subject))
	return err
}

// StoredKeyCount returns how many data keys the store holds.
func (s *Sealer) StoredKeyCount(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM seal_keys`).Scan(&n)
	return n, db.Translate(err)
}

// aead returns the subject's cipher, creating its data key when create is set.
func (s *Sealer) aead(ctx context.Context, subject string, create bool) (cipher.AEAD, error) {
	s.mu.Lock()
	a, ok := s.cache[subject]
	s.mu.Unlock()
	if ok {
		return a, nil
	}
	a, err := s.load(ctx, subject)
	if fault.Is(err, fault.NotFound) && create {
		s.create.Lock()
		defer s.create.Unlock()
		if a, err = s.load(ctx, subject); fault.Is(err, fault.NotFound) {
			a, err = s.newKey(ctx, subject)
		}
	}
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if len(s.cache) >= s.maxCache {
		for k := range s.cache { // evict an arbitrary tenth
			delete(s.cache, k)
			if len(s.cache) < s.maxCache*9/10 {
				break
			}
		}
	}
	s.cache[subject] = a
	s.mu.Unlock()
	return a, nil
}

func (s *Sealer) load(ctx context.Context, subject string) (cipher.AEAD, error) {
	var kid string
	var wrapped []byte
	err := db.ScanRow(s.db.QueryRow(ctx, `SELECT kek_id, wrapped FROM seal_keys WHERE subject = $1`, subject), "data key", &kid, &wrapped)
	if err != nil {
		return nil, err
	}
	if wrapped == nil {
		return nil, fault.Wrap(fault.NotFound, ErrShredded, "the data of this record was erased")
	}
	dek, err := s.kek.Unwrap(ctx, kid, wrapped, wrapAAD(subject))
	if err != nil {
		return nil, err
	}
	return newAEAD(dek)
}

func (s *Sealer) newKey(ctx context.Context, subject string) (cipher.AEAD, error) {
	dek := make([]byte, 32)
	rand.Read(dek)
	kid, wrapped, err := s.kek.Wrap(ctx, dek, wrapAAD(subject))
	if err != nil {
		return nil, err
	}
	// The key is committed on its own, before any data sealed under it, so
	// that a later rollback of the caller's transaction cannot leave data
	// whose key is missing.
	_, err = s.db.Exec(ctx, `INSERT INTO seal_keys (subject, kek_id, wrapped, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (subject) DO NOTHING`,
		subject, kid, wrapped, s.clock().UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("store data key: %w", err)
	}
	return s.load(ctx, subject)
}

// Seal encrypts plain for subject; record names what is sealed (for example
// "Patient/123") and is bound as associated data, so a sealed value moved to
// another record does not open.
func (s *Sealer) Seal(ctx context.Context, subject, record string, plain []byte) ([]byte, error) {
	a, err := s.aead(ctx, subject, true)
	if err != nil {
		return nil, err
	}
	sealed := sealBytes(a, plain, dataAAD(subject, record))
	out := make([]byte, 1+len(sealed))
	out[0] = formatV1
	copy(out[1:], sealed)
	return out, nil
}

// Open decrypts a value sealed for subject and record.
func (s *Sealer) Open(ctx context.Context, subject, record string, sealed []byte) ([]byte, error) {
	if len(sealed) == 0 || sealed[0] != formatV1 {
		return nil, fault.New(fault.Internal, "sealed value has an unknown format")
	}
	a, err := s.aead(ctx, subject, false)
	if err != nil {
		return nil, err
	}
	plain, err := openBytes(a, sealed[1:], dataAAD(subject, record))
	if err != nil {
		return nil, fault.Wrap(fault.Internal, err, "sealed value of %s does not open: tampered or misplaced", record)
	}
	return plain, nil
}

// Shred destroys a subject's data key. Everything sealed under it becomes
// unreadable; the rows themselves (and any ledger entries) stay.
func (s *Sealer) Shred(ctx context.Context, subject string) error {
	res, err := s.db.Exec(ctx, `UPDATE seal_keys SET wrapped = NULL, destroyed_at = $2 WHERE subject = $1 AND wrapped IS NOT NULL`, subject, s.clock().UnixMicro())
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fault.New(fault.NotFound, "no live data key for this subject")
	}
	s.mu.Lock()
	delete(s.cache, subject)
	s.mu.Unlock()
	return nil
}

// Rewrap re-wraps every data key not already under the active KEK. The data
// sealed under the data keys is not touched. It returns how many keys moved.
func (s *Sealer) Rewrap(ctx context.Context) (int, error) {
	active := s.kek.ActiveKeyID()
	moved := 0
	for {
		rows, err := s.db.Query(ctx, `SELECT subject, kek_id, wrapped FROM seal_keys WHERE wrapped IS NOT NULL AND kek_id <> $1 LIMIT 1000`, active)
		if err != nil {
			return moved, err
		}
		type item struct {
			subject, kid string
			wrapped      []byte
		}
		var batch []item
		for rows.Next() {
			var it item
			if err := rows.Scan(&it.subject, &it.kid, &it.wrapped); err != nil {
				rows.Close()
				return moved, db.Translate(err)
			}
			batch = append(batch, it)
		}
		rows.Close()
		if len(batch) == 0 {
			return moved, nil
		}
		err = s.db.InTx(ctx, func(tx *db.Tx) error {
			for _, it := range batch {
				dek, err := s.kek.Unwrap(ctx, it.kid, it.wrapped, wrapAAD(it.subject))
				if err != nil {
					return err
				}
				kid, w, err := s.kek.Wrap(ctx, dek, wrapAAD(it.subject))
				if err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `UPDATE seal_keys SET kek_id = $1, wrapped = $2 WHERE subject = $3 AND kek_id = $4`, kid, w, it.subject, it.kid); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return moved, err
		}
		moved += len(batch)
	}
}

// KEKsInUse lists the KEK ids that still wrap data keys.
func (s *Sealer) KEKsInUse(ctx context.Context) (map[string]bool, error) {
	rows, err := s.db.Query(ctx, `SELECT DISTINCT kek_id FROM seal_keys WHERE wrapped IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, db.Translate(err)
		}
		out[id] = true
	}
	return out, db.Translate(rows.Err())
}

// Pseudonymizer returns keyed HMAC-SHA256 tokens under a purpose-named key
// kept (wrapped) in the store, for blind indexes and pseudonyms: equal
// inputs give equal tokens; tokens reveal nothing without the key.
func (s *Sealer) Pseudonymizer(ctx context.Context, purpose string) (*Pseudonymizer, error) {
	subject := "hmac/" + purpose
	// The HMAC key is itself a data key; derive it by sealing nothing: load
	// (or create) the subject's AEAD, then use the raw key material through
	// a dedicated derivation so the AEAD key and the HMAC key differ.
	if _, err := s.aead(ctx, subject, true); err != nil {
		return nil, err
	}
	var kid string
	var wrapped []byte
	if err := db.ScanRow(s.db.QueryRow(ctx, `SELECT kek_id, wrapped FROM seal_keys WHERE subject = $1`, subject), "hmac key", &kid, &wrapped); err != nil {
		return nil, err
	}
	dek, err := s.kek.Unwrap(ctx, kid, wrapped, wrapAAD(subject))
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, dek)
	m.Write([]byte("trustward/hmac-key/v1|" + purpose))
	return &Pseudonymizer{key: m.Sum(nil)}, nil
}

// Pseudonymizer computes keyed tokens.
type Pseudonymizer struct{ key []byte }

// Token returns HMAC-SHA256(key, s).
func (p *Pseudonymizer) Token(s string) []byte {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// EnsureKeys creates the data keys of every subject that has none, in one
// transaction (bulk imports would otherwise commit once per patient).
func (s *Sealer) EnsureKeys(ctx context.Context, subjects []string) error {
	s.mu.Lock()
	var missing []string
	seen := map[string]bool{}
	for _, sub := range subjects {
		if _, ok := s.cache[sub]; !ok && !seen[sub] {
			missing = append(missing, sub)
			seen[sub] = true
		}
	}
	s.mu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	s.create.Lock()
	defer s.create.Unlock()
	now := s.clock().UnixMicro()
	type made struct {
		subject string
		aead    cipher.AEAD
	}
	var fresh []made
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		fresh = fresh[:0]
		for _, sub := range missing {
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM seal_keys WHERE subject = $1`, sub).Scan(&n); err != nil {
				return db.Translate(err)
			}
			if n > 0 {
				continue
			}
			dek := make([]byte, 32)
			rand.Read(dek)
			kid, wrapped, err := s.kek.Wrap(ctx, dek, wrapAAD(sub))
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO seal_keys (subject, kek_id, wrapped, created_at) VALUES ($1, $2, $3, $4)`, sub, kid, wrapped, now); err != nil {
				return err
			}
			a, err := newAEAD(dek)
			if err != nil {
				return err
			}
			fresh = append(fresh, made{sub, a})
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	for _, m := range fresh {
		if len(s.cache) < s.maxCache {
			s.cache[m.subject] = m.aead
		}
	}
	s.mu.Unlock()
	return nil
}
