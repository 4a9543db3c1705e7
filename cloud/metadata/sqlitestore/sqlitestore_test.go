package sqlitestore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	"github.com/imageflowcanvas/ifc/cloud/metadata/sqlitestore"
	"github.com/imageflowcanvas/ifc/cloud/metadata/storetest"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newStore(t *testing.T) metadata.Store {
	t.Helper()
	s, err := metadata.Open("sqlite://" + filepath.Join(t.TempDir(), "ifc.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestContract(t *testing.T) { storetest.Run(t, newStore) }

func TestOpenURLs(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"sqlite://" + filepath.Join(dir, "a.db"), true},
		{"sqlite://" + filepath.Join(dir, "b.db") + "?synchronous=full&busy_timeout=100", true},
		{"sqlite://" + filepath.Join(dir, "c.db") + "?synchronous=sometimes", false},
		{"sqlite://" + filepath.Join(dir, "d.db") + "?busy_timeout=soon", false},
		{"sqlite://" + filepath.Join(dir, "e.db") + "?cache=shared", false},
		{"sqlite://host" + filepath.Join(dir, "f.db"), false},
		{"sqlite:relative.db", false},
		{"sqlite://" + filepath.Join(dir, "no", "such", "dir", "g.db"), false},
		{"mysql://x", false},
	} {
		s, err := metadata.Open(tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("Open(%q) error = %v, want ok=%v", tc.url, err, tc.ok)
		}
		if s != nil {
			s.Close()
		}
	}
}

// TestMigrationsIdempotentAndConcurrent opens one file from several
// goroutines at once and again later: the schema is applied once.
func TestMigrationsIdempotentAndConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	var wg sync.WaitGroup
	stores := make([]*sqlitestore.Store, 4)
	errs := make([]error, 4)
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = sqlitestore.New(context.Background(), path, sqlitestore.Options{}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("opener %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	s := stores[0]
	v, err := s.SchemaVersion(context.Background())
	if err != nil || v < 1 {
		t.Fatalf("schema version = %d, %v", v, err)
	}
	var rows int
	if err := s.DB().QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&rows); err != nil || rows != v {
		t.Fatalf("schema_migrations has %d rows for version %d (%v)", rows, v, err)
	}
	var mode string
	if err := s.DB().QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
	var fk int
	if err := s.DB().QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign_keys = %d, %v", fk, err)
	}
	var busy int
	if err := s.DB().QueryRow(`PRAGMA busy_timeout`).Scan(&busy); err != nil || busy != 5000 {
		t.Fatalf("busy_timeout = %d, %v", busy, err)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n.db")
	s, err := sqlitestore.New(context.Background(), path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := sqlitestore.New(context.Background(), path, sqlitestore.Options{}); err == nil {
		s.Close()
		t.Fatal("opened a database with a newer schema")
	}
}

func TestPersistsAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	ctx := context.Background()
	s, err := sqlitestore.New(ctx, path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, metadata.User{Username: "u", Role: "admin"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlitestore.New(ctx, path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if u, err := s.GetUser(ctx, "u"); err != nil || u.Role != "admin" {
		t.Fatalf("after reopen: %+v, %v", u, err)
	}
}

// TestMigration3BackfillsDefectTypes opens a database as migration 2 left
// it (records with NG verdicts and overrides) and checks that migration 3
// fills the effective defect type the search filters on.
func TestMigration3BackfillsDefectTypes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ifc.db")
	s, err := metadata.Open("sqlite://" + path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.PutMaster(ctx, &ifcv1.InspectionMaster{Product: &ifcv1.Product{Code: "P", Name: "P"}}); err != nil {
		t.Fatal(err)
	}
	at := timestamppb.New(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
	for _, r := range []struct {
		id, defect string
		v          ifcv1.VerdictResult
	}{{"r-1", "SCR", ifcv1.VerdictResult_VERDICT_RESULT_NG}, {"r-2", "", ifcv1.VerdictResult_VERDICT_RESULT_OK}} {
		if _, err := s.CommitRecord(ctx, &ifcv1.InspectionRecord{RecordId: r.id, DeviceId: "d", Line: "l", ProductCode: "P", CapturedAt: at,
			Verdict: &ifcv1.Verdict{Result: r.v, DefectType: r.defect}}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AddOverride(ctx, &ifcv1.VerdictOverride{OverrideId: "o-1", RecordId: "r-2", At: at, Origin: ifcv1.VerdictOrigin_VERDICT_ORIGIN_EDGE,
		Verdict: &ifcv1.Verdict{Result: ifcv1.VerdictResult_VERDICT_RESULT_NG, DefectType: "DENT"}}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Back to schema 2 (later migrations undone too).
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP INDEX records_defect`, `DROP INDEX records_stats`, `DROP INDEX records_stats_time`, `ALTER TABLE records DROP COLUMN defect_type`,
		`ALTER TABLE records DROP COLUMN acknowledged_at`, `ALTER TABLE records DROP COLUMN acknowledged_by`,
		`ALTER TABLE users DROP COLUMN disabled_at`, `ALTER TABLE enrollment_tokens DROP COLUMN revoked_at`, `DELETE FROM schema_migrations WHERE version >= 3`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s, err = metadata.Open("sqlite://" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for defect, want := range map[string]string{"SCR": "r-1", "DENT": "r-2"} {
		got, _, err := s.SearchRecords(ctx, metadata.RecordFilter{DefectType: defect})
		if err != nil || len(got) != 1 || got[0].Record.GetRecordId() != want {
			t.Errorf("defect %s after migration: %v, %v; want %s", defect, got, err, want)
		}
	}
}
