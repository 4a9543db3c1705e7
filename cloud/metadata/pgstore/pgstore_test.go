package pgstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	"github.com/imageflowcanvas/ifc/cloud/metadata/pgstore"
	"github.com/imageflowcanvas/ifc/cloud/metadata/storetest"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var ctx = context.Background()

// serverURL returns the test server's URL from IFC_TEST_POSTGRES_URL. When
// it is unset the test fails under IFC_REQUIRE_BACKENDS=1 (CI) and is
// skipped otherwise.
func serverURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("IFC_TEST_POSTGRES_URL")
	if u != "" {
		return u
	}
	const msg = "IFC_TEST_POSTGRES_URL is not set; start the server with: eval \"$(deploy/dev/postgres start)\""
	if os.Getenv("IFC_REQUIRE_BACKENDS") == "1" {
		t.Fatal(msg + " (IFC_REQUIRE_BACKENDS=1 forbids skipping)")
	}
	t.Skip(msg)
	return ""
}

var schemaSeq atomic.Int64

// freshSchema creates an empty schema, dropped when the test ends, and
// returns the server URL with search_path pointing at it, so every test
// starts from an empty database and migrates it itself.
func freshSchema(t testing.TB) string {
	t.Helper()
	base := serverURL(t)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	name := fmt.Sprintf("ifctest_%d_%d_%d", os.Getpid(), time.Now().UnixNano(), schemaSeq.Add(1))
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("create schema %s: %v", name, err)
	}
	// Cleanups run last registered first: stores the test opens later
	// close before the drop, and admin closes after it.
	t.Cleanup(func() {
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

func newStore(t *testing.T) metadata.Store {
	t.Helper()
	s, err := metadata.Open(freshSchema(t))
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

func TestContract(t *testing.T) {
	serverURL(t) // skip (or fail) once, not in every subtest
	storetest.Run(t, newStore)
}

func TestOpenURLs(t *testing.T) {
	good := freshSchema(t)
	u, err := url.Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func(u *url.URL)) string {
		c := *u
		f(&c)
		return c.String()
	}
	for _, tc := range []struct {
		name, url string
		ok        bool
	}{
		{"postgres scheme", good, true},
		{"postgresql scheme", with(func(u *url.URL) { u.Scheme = "postgresql" }), true},
		{"wrong password", with(func(u *url.URL) { u.User = url.UserPassword("ifc", "not-the-password") }), false},
		{"nothing listening", with(func(u *url.URL) { u.Host = "127.0.0.1:1" }), false},
		{"unknown database", with(func(u *url.URL) { u.Path = "/no_such_database" }), false},
		{"unknown server setting", with(func(u *url.URL) {
			q := u.Query()
			q.Set("no_such_setting", "1")
			u.RawQuery = q.Encode()
		}), false},
		{"bad sslmode", with(func(u *url.URL) {
			q := u.Query()
			q.Set("sslmode", "sometimes")
			u.RawQuery = q.Encode()
		}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := metadata.Open(tc.url)
			if (err == nil) != tc.ok {
				t.Fatalf("Open error = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && strings.Contains(err.Error(), "not-the-password") {
				t.Errorf("error leaks the password: %v", err)
			}
			if s != nil {
				if err := s.Close(); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestMigrationsIdempotentAndConcurrent opens one empty schema from
// several goroutines at once (as API replicas starting together do) and
// again later: every migration is applied exactly once.
func TestMigrationsIdempotentAndConcurrent(t *testing.T) {
	dsn := freshSchema(t)
	const openers = 4
	var wg sync.WaitGroup
	stores := make([]*pgstore.Store, openers)
	errs := make([]error, openers)
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = pgstore.New(ctx, dsn, pgstore.Options{}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("opener %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	again, err := pgstore.New(ctx, dsn, pgstore.Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer again.Close()
	s := stores[0]
	v, err := s.SchemaVersion(ctx)
	if err != nil || v < 2 {
		t.Fatalf("schema version = %d, %v", v, err)
	}
	var rows int
	if err := s.DB().QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&rows); err != nil || rows != v {
		t.Fatalf("schema_migrations has %d rows for version %d (%v)", rows, v, err)
	}
	// The tables are in the test's own schema, none elsewhere.
	var schema string
	if err := s.DB().QueryRow(`SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	var tables int
	if err := s.DB().QueryRow(`SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = $1`, schema).Scan(&tables); err != nil || tables < 14 {
		t.Fatalf("%d tables in schema %s (%v), want the whole schema", tables, schema, err)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	dsn := freshSchema(t)
	s, err := pgstore.New(ctx, dsn, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := pgstore.New(ctx, dsn, pgstore.Options{}); err == nil {
		s.Close()
		t.Fatal("opened a database with a newer schema")
	}
}

func TestPersistsAcrossReopen(t *testing.T) {
	dsn := freshSchema(t)
	s, err := pgstore.New(ctx, dsn, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, metadata.User{Username: "u", Role: "admin"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = pgstore.New(ctx, dsn, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if u, err := s.GetUser(ctx, "u"); err != nil || u.Role != "admin" {
		t.Fatalf("after reopen: %+v, %v", u, err)
	}
}

// TestConcurrentRedeemOneWinner races edges with one enrollment token
// under READ COMMITTED: exactly one device is enrolled, every other edge
// gets ErrTokenUsed and leaves no device behind.
func TestConcurrentRedeemOneWinner(t *testing.T) {
	s := newStore(t)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tok := metadata.EnrollmentToken{TokenHash: "race-token", Line: "line-a", ExpiresAt: t0.Add(time.Hour)}
	if err := s.CreateEnrollmentToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	const edges = 8
	var (
		wg   sync.WaitGroup
		won  atomic.Int32
		errs = make([]error, edges)
	)
	for i := range edges {
		wg.Go(func() {
			_, errs[i] = s.RedeemEnrollmentToken(ctx, tok.TokenHash,
				metadata.Device{DeviceID: fmt.Sprintf("dev-%d", i), SecretHash: "h"}, t0)
			if errs[i] == nil {
				won.Add(1)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Fatalf("%d redemptions succeeded, want exactly 1 (errors %v)", won.Load(), errs)
	}
	for i, err := range errs {
		if err != nil && !errors.Is(err, metadata.ErrTokenUsed) {
			t.Errorf("edge %d: %v, want ErrTokenUsed", i, err)
		}
	}
	ds, err := s.ListDevices(ctx)
	if err != nil || len(ds) != 1 {
		t.Fatalf("devices = %+v, %v; want the winner only", ds, err)
	}
}

// TestConcurrentOverridesAllCount adds overrides to one record from many
// goroutines: the stored effective verdict (what search filters on) must
// reflect all of them, not just the last writer's view.
func TestConcurrentOverridesAllCount(t *testing.T) {
	s := newStore(t)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, err := s.PutMaster(ctx, &ifcv1.InspectionMaster{Product: &ifcv1.Product{Code: "P", Name: "Product"}}); err != nil {
		t.Fatal(err)
	}
	r := &ifcv1.InspectionRecord{RecordId: "r-1", DeviceId: "d-1", Line: "l", ProductCode: "P",
		CapturedAt: timestamppb.New(t0), Verdict: &ifcv1.Verdict{Result: ifcv1.VerdictResult_VERDICT_RESULT_OK}}
	if _, err := s.CommitRecord(ctx, r, t0); err != nil {
		t.Fatal(err)
	}
	// Edge overrides say OK; the single latest one says NG. Whatever order
	// they commit in, the effective verdict is NG.
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			result, at := ifcv1.VerdictResult_VERDICT_RESULT_OK, t0.Add(time.Duration(i)*time.Second)
			if i == n/2 {
				result, at = ifcv1.VerdictResult_VERDICT_RESULT_NG, t0.Add(time.Hour)
			}
			o := &ifcv1.VerdictOverride{OverrideId: fmt.Sprintf("o-%d", i), RecordId: "r-1",
				Origin: ifcv1.VerdictOrigin_VERDICT_ORIGIN_EDGE, At: timestamppb.New(at),
				Verdict: &ifcv1.Verdict{Result: result}}
			if created, err := s.AddOverride(ctx, o); err != nil || !created {
				t.Errorf("override %d: created=%v, %v", i, created, err)
			}
		})
	}
	wg.Wait()
	got, err := s.GetRecord(ctx, "r-1")
	if err != nil || len(got.Overrides) != n || got.Effective.GetResult() != ifcv1.VerdictResult_VERDICT_RESULT_NG {
		t.Fatalf("record = %d overrides, effective %v, %v", len(got.Overrides), got.Effective, err)
	}
	ng, _, err := s.SearchRecords(ctx, metadata.RecordFilter{Verdict: ifcv1.VerdictResult_VERDICT_RESULT_NG})
	if err != nil || len(ng) != 1 {
		t.Fatalf("search by effective verdict NG = %d records, %v; want the record", len(ng), err)
	}
}
