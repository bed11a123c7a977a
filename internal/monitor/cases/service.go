package cases

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trustward/trustward/internal/audit"
	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/monitor/detect"
	"github.com/trustward/trustward/internal/monitor/explain"
)

// Options tune the service; zero values take the defaults.
type Options struct {
	// Config holds the detectors' thresholds (default detect.DefaultConfig).
	Config *detect.Config
	// Poll is how often new events are looked for (default 500 ms); Wake
	// looks at once.
	Poll time.Duration
	// Warn, when set, is called once per case when its score first
	// reaches the case threshold: the warning message to the user at
	// detection. It gets the user id as the events gave it.
	Warn func(ctx context.Context, userID string) error
}

// Late is how far back in time an arriving event may lie behind the
// newest event already scored before the service re-scores the whole
// history in time order (a bulk import of older events).
const Late = time.Hour

// Status is what the office sees of the service.
type Status struct {
	// Events is how many events the detectors have seen since the last
	// rebuild; Seq the highest audit_events.seq among them.
	Events int64
	Seq    int64
	// Synced is when the service last caught up; zero before the first
	// pass.
	Synced time.Time
	// Rebuilt is when the history was last re-scored, and how long it took.
	Rebuilt     time.Time
	RebuildTook time.Duration
	// Err is the last pass's error, empty when it succeeded.
	Err string
}

// Service runs the explanation engine and detectors over the audit store
// and keeps the cases.
type Service struct {
	db     *db.DB
	sealer Sealer
	clock  func() time.Time
	log    *slog.Logger
	opt    Options
	cfg    detect.Config

	runMu   sync.Mutex // one pass at a time; guards det, seq, newest
	det     *detect.Detector
	seq     int64
	newest  time.Time
	stale   atomic.Bool
	status  atomic.Pointer[Status]
	wake    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
	started sync.Once

	cxMu sync.RWMutex
	cx   *explain.Context // the context of the last rebuild, read-only
}

// New returns the service; Start runs its loop, or the caller calls Sync.
func New(d *db.DB, sealer Sealer, clock func() time.Time, log *slog.Logger, opt Options) *Service {
	if opt.Poll <= 0 {
		opt.Poll = 500 * time.Millisecond
	}
	cfg := detect.DefaultConfig()
	if opt.Config != nil {
		cfg = *opt.Config
	}
	s := &Service{db: d, sealer: sealer, clock: clock, log: log, opt: opt, cfg: cfg,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	s.status.Store(&Status{})
	return s
}

// Start runs the loop in the background until Close.
func (s *Service) Start() {
	s.started.Do(func() { go s.run() })
}

// Close stops the loop after the pass in progress.
func (s *Service) Close() {
	s.once.Do(func() {
		close(s.stop)
		ran := true
		s.started.Do(func() { ran = false })
		if ran {
			<-s.stopped
		}
	})
}

// Wake asks the loop to look for new events now.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Status returns the service's state.
func (s *Service) Status() Status { return *s.status.Load() }

// CaseThreshold is the case score from which a case is in the queue.
func (s *Service) CaseThreshold() float64 { return s.cfg.CaseAt }

func (s *Service) contextChanged() {
	s.stale.Store(true)
	s.Wake()
}

func (s *Service) run() {
	defer close(s.stopped)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.stop
		cancel()
	}()
	for {
		if err := s.Sync(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("privacy monitoring pass failed", "err", err)
		}
		select {
		case <-s.stop:
			return
		case <-s.wake:
		case <-time.After(s.opt.Poll):
		}
	}
}

// Sync scores every event not yet scored: after a context change, at the
// first pass, or when older events arrived, it re-scores the whole
// history in time order; otherwise it scores the new events.
func (s *Service) Sync(ctx context.Context) error {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	var err error
	if stale := s.stale.Swap(false); s.det == nil || stale {
		err = s.rebuild(ctx, stale)
	} else {
		err = s.tail(ctx)
	}
	st := *s.status.Load()
	st.Events, st.Seq = 0, s.seq
	if s.det != nil {
		st.Events = int64(s.det.Events)
	}
	switch {
	case err == nil:
		st.Err, st.Synced = "", s.clock()
	case ctx.Err() != nil:
		// Interrupted by Close (or the caller's deadline): not a failure
		// of the pass; the next one goes on from what was written.
	default:
		st.Err = err.Error()
	}
	s.status.Store(&st)
	return err
}

// scored is one event after the detectors, waiting to be written.
type scored struct {
	seq    int64
	ev     *audit.Event
	kind   string
	alerts []detect.Alert
}

const page = 5000

// rebuild loads the context and runs the whole history through a fresh
// detector. Explanations are written for the events past the explained
// mark, and for every event when rewrite is set (the context changed and
// may explain more than before).
func (s *Service) rebuild(ctx context.Context, rewrite bool) error {
	start := time.Now()
	cx, err := s.loadContext(ctx)
	if err != nil {
		s.det = nil
		return err
	}
	s.cxMu.Lock()
	s.cx = cx
	s.cxMu.Unlock()
	det := detect.New(cx, s.cfg)
	var mark int64
	if err := s.db.QueryRow(ctx, `SELECT COALESCE(MAX(value), 0) FROM monitor_state WHERE name = 'explained_seq'`).Scan(&mark); err != nil {
		return db.Translate(err)
	}
	var maxSeq int64
	var newest time.Time
	var afterT, afterSeq int64 = math.MinInt64, 0
	for {
		evs, err := s.read(ctx, `SELECT seq, id, patient_id, body, occurred_at FROM audit_events WHERE occurred_at > $1 OR (occurred_at = $1 AND seq > $2) ORDER BY occurred_at, seq LIMIT `+fmt.Sprint(page), afterT, afterSeq)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			break
		}
		out := make([]scored, len(evs))
		for i := range evs {
			ex, alerts := det.ProcessEvent(evs[i].ev)
			out[i] = scored{seq: evs[i].seq, ev: evs[i].ev, kind: ex.Kind, alerts: alerts}
			maxSeq = max(maxSeq, evs[i].seq)
			if evs[i].ev.Time.After(newest) {
				newest = evs[i].ev.Time
			}
		}
		last := evs[len(evs)-1]
		afterT, afterSeq = last.at, last.seq
		skip := mark
		if rewrite {
			skip = 0
		}
		if err := s.write(ctx, out, max(mark, maxSeq), skip); err != nil {
			return err
		}
	}
	s.det, s.seq, s.newest = det, max(maxSeq, mark), newest
	took := time.Since(start)
	st := *s.status.Load()
	st.Rebuilt, st.RebuildTook = s.clock(), took
	s.status.Store(&st)
	s.log.Info("privacy monitoring re-scored the history", "events", det.Events, "took", took.Round(time.Millisecond))
	return nil
}

// tail scores the events recorded since the last pass, in time order.
func (s *Service) tail(ctx context.Context) error {
	for {
		evs, err := s.read(ctx, `SELECT seq, id, patient_id, body, occurred_at FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT `+fmt.Sprint(page), s.seq)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			return nil
		}
		slices.SortStableFunc(evs, func(a, b stored) int { return a.ev.Time.Compare(b.ev.Time) })
		if evs[0].ev.Time.Before(s.newest.Add(-Late)) {
			// History arrived (a bulk import): score it in time order.
			return s.rebuild(ctx, false)
		}
		out := make([]scored, len(evs))
		maxSeq := s.seq
		for i := range evs {
			ex, alerts := s.det.ProcessEvent(evs[i].ev)
			out[i] = scored{seq: evs[i].seq, ev: evs[i].ev, kind: ex.Kind, alerts: alerts}
			maxSeq = max(maxSeq, evs[i].seq)
			if evs[i].ev.Time.After(s.newest) {
				s.newest = evs[i].ev.Time
			}
		}
		if err := s.write(ctx, out, maxSeq, s.seq); err != nil {
			// The detector has seen these events; score them again from
			// the start next time rather than lose their alerts.
			s.stale.Store(true)
			return err
		}
		s.seq = maxSeq
	}
}

type stored struct {
	seq int64
	at  int64
	ev  *audit.Event
}

// read opens a page of events.
func (s *Service) read(ctx context.Context, q string, args ...any) ([]stored, error) {
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []stored
	for rows.Next() {
		var st stored
		var id string
		var patient sql.NullString
		var body []byte
		if err := rows.Scan(&st.seq, &id, &patient, &body, &st.at); err != nil {
			return nil, db.Translate(err)
		}
		plain, err := s.sealer.Open(ctx, audit.Subject(patient.String), "AuditEvent/"+id, body)
		if err != nil {
			return nil, fmt.Errorf("open event %s: %w", id, err)
		}
		ev, err := audit.ParseCanonical(plain)
		if err != nil {
			return nil, fmt.Errorf("decode event %s: %w", id, err)
		}
		st.ev = &ev
		out = append(out, st)
	}
	return out, db.Translate(rows.Err())
}

// write stores a page's explanations (of events after seq skip) and
// alerts, files the alerts into cases and moves the explained mark, in
// one transaction; then it sends the warnings of cases that reached the
// threshold.
func (s *Service) write(ctx context.Context, out []scored, mark, skip int64) error {
	var warn []string
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		warn = warn[:0]
		for _, o := range out {
			if o.ev.PatientID != "" && o.seq > skip {
				if _, err := tx.Exec(ctx, `INSERT INTO monitor_explanations (event_id, kind) VALUES ($1, $2) ON CONFLICT (event_id) DO UPDATE SET kind = excluded.kind`, o.ev.ID, o.kind); err != nil {
					return err
				}
			}
			for _, a := range o.alerts {
				w, err := s.file(ctx, tx, o.ev, a)
				if err != nil {
					return err
				}
				if w != "" {
					warn = append(warn, w)
				}
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO monitor_state (name, value) VALUES ('explained_seq', $1) ON CONFLICT (name) DO UPDATE SET value = excluded.value`, mark)
		return err
	})
	if err != nil {
		return err
	}
	for _, id := range warn {
		s.sendWarning(ctx, id)
	}
	return nil
}

// file stores an alert once and puts it in its user's open case (opening
// one if needed), unless an earlier verdict suppresses it. It returns the
// case id when the case just reached the threshold and should warn.
func (s *Service) file(ctx context.Context, tx *db.Tx, ev *audit.Event, a detect.Alert) (string, error) {
	reasons, _ := json.Marshal(a.Reasons)
	var patient any
	if a.Patient != "" {
		patient = a.Patient
	}
	res, err := tx.Exec(ctx, `INSERT INTO monitor_alerts (event_id, user_id, patient_id, occurred_at, score, reasons) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING`,
		a.EventID, a.User, patient, a.Time.UnixMicro(), int64(math.Round(a.Score*100)), string(reasons))
	if err != nil {
		return "", err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return "", nil // filed in an earlier pass
	}
	if a.Patient != "" {
		by, err := s.suppressedBy(ctx, tx, a)
		if err != nil {
			return "", err
		}
		if by != "" {
			_, err := tx.Exec(ctx, `UPDATE monitor_alerts SET suppressed_by = $1 WHERE event_id = $2`, by, a.EventID)
			return "", err
		}
	}
	var id string
	var warned sql.NullInt64
	var score int64
	err = tx.QueryRow(ctx, `SELECT id, score, warned_at FROM monitor_cases WHERE user_id = $1 AND status <> 'decided' ORDER BY opened_at DESC LIMIT 1`, a.User).Scan(&id, &score, &warned)
	switch {
	case err == sql.ErrNoRows:
		id = newCaseID()
		if _, err := tx.Exec(ctx, `INSERT INTO monitor_cases (id, user_id, user_name, user_role, status, score, alerts, patients, opened_at, updated_at) VALUES ($1, $2, $3, $4, 'new', 0, 0, 0, $5, $5)`,
			id, a.User, ev.Actor.Name, ev.Actor.Role, a.Time.UnixMicro()); err != nil {
			return "", err
		}
		if err := s.logStep(ctx, tx, id, "trustward", "opened", nil); err != nil {
			return "", err
		}
	case err != nil:
		return "", db.Translate(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE monitor_alerts SET case_id = $1 WHERE event_id = $2`, id, a.EventID); err != nil {
		return "", err
	}
	var top, alerts, patients int64
	if err := tx.QueryRow(ctx, `SELECT MAX(score), COUNT(*), COUNT(DISTINCT patient_id) FROM monitor_alerts WHERE case_id = $1`, id).Scan(&top, &alerts, &patients); err != nil {
		return "", db.Translate(err)
	}
	newScore := caseScore(top, alerts, patients)
	if _, err := tx.Exec(ctx, `UPDATE monitor_cases SET score = $1, alerts = $2, patients = $3, updated_at = CASE WHEN updated_at > $4 THEN updated_at ELSE $4 END WHERE id = $5`,
		newScore, alerts, patients, a.Time.UnixMicro(), id); err != nil {
		return "", err
	}
	if s.opt.Warn != nil && !warned.Valid && float64(newScore) >= s.cfg.CaseAt*100 {
		return id, nil
	}
	return "", nil
}

// caseScore is the detectors' case score (detect.Detector.addToCase): the
// highest alert plus up to 3 for repetition over alerts and patients, in
// hundredths.
func caseScore(top, alerts, patients int64) int64 {
	extra := math.Min(300, 30*float64(alerts-1)+30*float64(max(patients, 1)-1))
	return top + int64(math.Round(extra))
}

// suppressedBy returns the case whose "appropriate" verdict covers every
// reason of the alert for its user and patient, or "".
func (s *Service) suppressedBy(ctx context.Context, tx *db.Tx, a detect.Alert) (string, error) {
	rows, err := tx.Query(ctx, `SELECT reason_key, case_id FROM monitor_suppressions WHERE user_id = $1 AND patient_id = $2`, a.User, a.Patient)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	keys := map[string]string{}
	for rows.Next() {
		var k, c string
		if err := rows.Scan(&k, &c); err != nil {
			return "", db.Translate(err)
		}
		keys[k] = c
	}
	if err := rows.Err(); err != nil {
		return "", db.Translate(err)
	}
	by := ""
	for _, r := range a.Reasons {
		c, ok := keys[r.Key]
		if !ok {
			return "", nil
		}
		by = c
	}
	return by, nil
}

// sendWarning warns the user of a case once; a failure is logged and
// tried again at the next alert of the case.
func (s *Service) sendWarning(ctx context.Context, caseID string) {
	var user string
	if err := s.db.QueryRow(ctx, `SELECT user_id FROM monitor_cases WHERE id = $1 AND warned_at IS NULL`, caseID).Scan(&user); err != nil {
		return
	}
	if err := s.opt.Warn(ctx, user); err != nil {
		s.log.Warn("the warning to a user could not be sent", "case", caseID, "err", err)
		return
	}
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE monitor_cases SET warned_at = $1 WHERE id = $2`, s.clock().UnixMicro(), caseID); err != nil {
			return err
		}
		return s.logStep(ctx, tx, caseID, "trustward", "warned", nil)
	})
	if err != nil {
		s.log.Warn("the warning was sent but not noted", "case", caseID, "err", err)
	}
}

func newCaseID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "case-" + hex.EncodeToString(b)
}
