package db

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCheckpointerCopiesTheWAL: with the writer's automatic checkpoint off,
// the background checkpointer copies the WAL back into the database file
// (which only a checkpoint writes), so that the WAL can start over
// instead of growing for ever.
func TestCheckpointerCopiesTheWAL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ckpt.db")
	d, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Exec(ctx, `CREATE TABLE t (a INTEGER PRIMARY KEY, b BLOB)`); err != nil {
		t.Fatal(err)
	}
	blob := make([]byte, 6000)
	const rows = 2000 // 12 MB: far past the automatic checkpoint's 1,000 pages
	for range rows {
		if _, err := d.Exec(ctx, `INSERT INTO t (b) VALUES ($1)`, blob); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() >= rows*int64(len(blob)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the database file has %d bytes: the WAL was not copied back", st.Size())
		}
		time.Sleep(checkpointEvery)
	}
}
