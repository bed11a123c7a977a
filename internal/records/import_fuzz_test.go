package records_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/records"
)

func FuzzSplitImport(f *testing.F) {
	f.Add([]byte(fixtureNDJSON))
	f.Add([]byte(`{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Patient","id":"a"}}]}`))
	f.Add([]byte("{}\n\n{\"a\":1}\n"))
	f.Add([]byte(`{"resourceType":"Bundle","type":"searchset"}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		raws, err := records.SplitImport(bytes.NewReader(b))
		if err != nil {
			if fault.KindOf(err) == fault.Internal {
				t.Fatalf("error without a kind: %v", err)
			}
			return
		}
		if len(raws) == 0 && len(bytes.TrimSpace(b)) > 0 && !strings.Contains(string(b), "Bundle") {
			t.Fatalf("non-empty NDJSON gave no lines")
		}
		for _, r := range raws {
			if r != nil && len(bytes.TrimSpace(r)) == 0 {
				t.Fatal("an empty resource was returned")
			}
		}
	})
}
