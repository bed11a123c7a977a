package audit

import "context"

// keyEnsurer is a Sealer that creates the data keys of many subjects in
// one transaction (seal.Sealer does).
type keyEnsurer interface {
	EnsureKeys(ctx context.Context, subjects []string) error
}

// EnsureKeys creates the data keys of the patients that have none yet
// ("" stands for the directory key), in one transaction. Bulk ingestion
// calls it before Prepare: sealing alone would commit each new patient's
// key on its own, one disk sync per patient. With a Sealer that cannot,
// it does nothing and Prepare creates the keys one by one.
func (r *Recorder) EnsureKeys(ctx context.Context, patientIDs []string) error {
	k, ok := r.sealer.(keyEnsurer)
	if !ok {
		return nil
	}
	subjects := make([]string, len(patientIDs))
	for i, p := range patientIDs {
		subjects[i] = Subject(p)
	}
	return k.EnsureKeys(ctx, subjects)
}
