package devices

import (
	"context"
	"database/sql"
	"time"

	"github.com/trustward/trustward/internal/db"
	"github.com/trustward/trustward/internal/fault"
)

// Tiers lists the risk tiers, most urgent first.
var Tiers = []string{"critical", "high", "medium", "low"}

// ExposureDay counts the findings open at the end of one day (UTC) by
// risk tier.
type ExposureDay struct {
	Day    time.Time      `json:"day"`
	ByTier map[string]int `json:"byTier"`
	Total  int            `json:"total"`
}

// Exposure replays the findings' history and counts, for each day from
// from to to (UTC days, both included), the findings whose status at the
// end of the day was open or affected, by the risk tier they had then.
// Mitigated, suppressed, fixed and resolved findings do not count.
func (s *Findings) Exposure(ctx context.Context, from, to time.Time) ([]ExposureDay, error) {
	from, to = from.UTC().Truncate(24*time.Hour), to.UTC().Truncate(24*time.Hour)
	if to.Before(from) {
		return nil, fault.New(fault.Invalid, "the exposure period ends before it starts")
	}
	if to.Sub(from) > 3*366*24*time.Hour {
		return nil, fault.New(fault.Invalid, "the exposure period is longer than three years")
	}
	end := to.Add(24 * time.Hour)
	rows, err := s.db.Query(ctx, `SELECT device_id, component, advisory, at, status, tier FROM device_finding_events WHERE at < $1 AND status IS NOT NULL ORDER BY at, id`, end.UnixMicro())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type state struct{ status, tier string }
	current := map[string]state{}
	var out []ExposureDay
	day := from
	emit := func() {
		d := ExposureDay{Day: day, ByTier: map[string]int{}}
		for _, t := range Tiers {
			d.ByTier[t] = 0
		}
		for _, st := range current {
			if st.status == StatusOpen || st.status == StatusAffected {
				d.ByTier[st.tier]++
				d.Total++
			}
		}
		out = append(out, d)
		day = day.Add(24 * time.Hour)
	}
	for rows.Next() {
		var dev, comp, adv string
		var at int64
		var st, tier sql.NullString
		if err := rows.Scan(&dev, &comp, &adv, &at, &st, &tier); err != nil {
			return nil, db.Translate(err)
		}
		t := time.UnixMicro(at).UTC()
		for !day.After(to) && !t.Before(day.Add(24*time.Hour)) {
			emit()
		}
		current[dev+"\x00"+comp+"\x00"+adv] = state{st.String, tier.String}
	}
	if err := rows.Err(); err != nil {
		return nil, db.Translate(err)
	}
	for !day.After(to) {
		emit()
	}
	return out, nil
}
