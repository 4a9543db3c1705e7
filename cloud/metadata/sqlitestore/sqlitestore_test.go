package sqlitestore_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	"github.com/imageflowcanvas/ifc/cloud/metadata/sqlitestore"
	"github.com/imageflowcanvas/ifc/cloud/metadata/storetest"
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
