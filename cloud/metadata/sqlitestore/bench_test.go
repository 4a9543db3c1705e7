package sqlitestore_test

import (
	"path/filepath"
	"testing"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	"github.com/imageflowcanvas/ifc/cloud/metadata/storetest"
)

// benchStore returns a SQLite store holding storetest.BenchRecords
// records (synchronous=off only to seed it faster; queries do not write).
func benchStore(b *testing.B) metadata.Store {
	b.Helper()
	s, err := metadata.Open("sqlite://" + filepath.Join(b.TempDir(), "ifc.db") + "?synchronous=off")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	storetest.SeedRecords(b, s, storetest.BenchRecords)
	return s
}

// BenchmarkStats: dashboard statistics over 10,000 records (docs/benchmarks.md).
func BenchmarkStats(b *testing.B) { storetest.BenchStats(b, benchStore(b)) }

// BenchmarkSearchRecords: one page of record search over 10,000 records.
func BenchmarkSearchRecords(b *testing.B) { storetest.BenchSearchRecords(b, benchStore(b)) }
