package app_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"testing"

	"github.com/trustward/trustward/internal/app"
	"github.com/trustward/trustward/internal/config"
	"github.com/trustward/trustward/internal/db/dbtest"
)

func loadDemo(t *testing.T, engine string) *app.App {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	if engine == "postgres" {
		cfg.DB = dbtest.PostgresURL(t)
	}
	cfg.DemoPatients, cfg.DemoStaff, cfg.DemoDate = 80, 20, "2026-03-01"
	a, err := app.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	res, err := a.LoadDemo(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Patients != 80 || res.Staff != 20 || len(res.Demo) != 7 {
		t.Fatalf("demo: %+v", res)
	}
	return a
}

// withoutMeta drops the server-written meta (write times differ).
func withoutMeta(t *testing.T, js []byte) map[string]any {
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "meta")
	return m
}

// TestDemoIsReproducible loads the same seed, size and date on SQLite and
// PostgreSQL and compares what is stored.
func TestDemoIsReproducible(t *testing.T) {
	a, b := loadDemo(t, "sqlite"), loadDemo(t, "postgres")
	ctx := context.Background()
	for _, typ := range []string{"", "Patient", "Observation", "Encounter"} {
		na, _ := a.Records.Count(ctx, typ)
		nb, _ := b.Records.Count(ctx, typ)
		if na != nb || na == 0 {
			t.Fatalf("%s: %d vs %d resources", typ, na, nb)
		}
	}
	for _, id := range []string{"pat-00001", "pat-00040", "pat-00080"} {
		ra, err := a.Records.ByPatient(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		rb, err := b.Records.ByPatient(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(ra) != len(rb) {
			t.Fatalf("%s: %d vs %d resources", id, len(ra), len(rb))
		}
		for i := range ra {
			if !reflect.DeepEqual(withoutMeta(t, ra[i].JSON), withoutMeta(t, rb[i].JSON)) {
				t.Fatalf("%s/%s differs between two loads", ra[i].Type, ra[i].ID)
			}
		}
	}
	if _, err := a.LoadDemo(ctx, nil); err == nil {
		t.Fatal("a second demo load into a filled store was accepted")
	}
}
