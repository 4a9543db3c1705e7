// Package storetest is the contract test suite every metadata.Store
// implementation runs (SQLite now, PostgreSQL later).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// Run runs the contract suite. newStore returns an empty store; it is
// called once per subtest and should register its own cleanup.
func Run(t *testing.T, newStore func(t *testing.T) metadata.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, metadata.Store)
	}{
		{"PipelineCreateAndGet", testPipelineCreateGet},
		{"PipelineVersionsAreImmutable", testPipelineImmutable},
		{"PipelineErrors", testPipelineErrors},
		{"PipelineList", testPipelineList},
		{"PipelineSoftDelete", testPipelineDelete},
		{"PipelineConcurrentSaves", testPipelineConcurrent},
		{"Files", testFiles},
		{"ExecutionRoundTrip", testExecutionRoundTrip},
		{"ExecutionErrors", testExecutionErrors},
		{"ExecutionListFilters", testExecutionFilters},
		{"ExecutionPagination", testExecutionPagination},
		{"ExecutionPageTokenErrors", testExecutionBadToken},
		{"Users", testUsers},
		{"UserManagement", testUserManagement},
		{"Enrollment", testEnrollment},
		{"EnrollmentTokenRevoke", testEnrollmentTokenRevoke},
		{"Devices", testDevices},
		{"Uploads", testUploads},
		{"RecordCommit", testRecordCommit},
		{"RecordCommitRejects", testRecordRejects},
		{"RecordConcurrentCommit", testRecordConcurrentCommit},
		{"Overrides", testOverrides},
		{"RecordSearch", testRecordSearch},
		{"RecordPagination", testRecordPagination},
		{"RecordPipeline", testRecordPipeline},
		{"RecordReviewFilters", testReviewFilters},
		{"RecordAcknowledge", testAcknowledge},
		{"RecordStats", testRecordStats},
		{"RecordStatsDST", testStatsDST},
		{"Masters", testMasters},
		{"MasterChanges", testMasterChanges},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

var ctx = context.Background()

func def(name string, nodes ...string) *ifcv1.PipelineDefinition {
	d := &ifcv1.PipelineDefinition{Name: name}
	for i, n := range nodes {
		params, _ := structpb.NewStruct(map[string]any{"width": float64(100 * (i + 1)), "mode": "fast"})
		d.Nodes = append(d.Nodes, &ifcv1.Node{Id: n, Part: "resize", Params: params})
		if i > 0 {
			d.Edges = append(d.Edges, &ifcv1.Edge{From: nodes[i-1], To: n})
		}
	}
	return d
}

func mustUUIDv7(t *testing.T, id string) {
	t.Helper()
	u, err := uuid.Parse(id)
	if err != nil || u.Version() != 7 {
		t.Fatalf("id %q is not a UUIDv7 (%v)", id, err)
	}
}

func testPipelineCreateGet(t *testing.T, s metadata.Store) {
	d1 := def("inspect", "a", "b")
	p1, err := s.CreatePipelineVersion(ctx, "", d1, "alice")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	mustUUIDv7(t, p1.Id)
	if p1.Version != 1 || p1.CreatedBy != "alice" || p1.CreatedAt == nil || !proto.Equal(p1.Definition, d1) {
		t.Fatalf("created pipeline = %v", p1)
	}
	d2 := def("inspect v2", "a", "b", "c")
	p2, err := s.CreatePipelineVersion(ctx, p1.Id, d2, "bob")
	if err != nil {
		t.Fatalf("create v2: %v", err)
	}
	if p2.Id != p1.Id || p2.Version != 2 || p2.CreatedBy != "bob" {
		t.Fatalf("v2 = %v", p2)
	}
	for _, tc := range []struct {
		version int32
		want    *ifcv1.Pipeline
	}{{0, p2}, {1, p1}, {2, p2}} {
		got, err := s.GetPipeline(ctx, p1.Id, tc.version)
		if err != nil {
			t.Fatalf("get @%d: %v", tc.version, err)
		}
		if !proto.Equal(got, tc.want) {
			t.Fatalf("get @%d = %v, want %v", tc.version, got, tc.want)
		}
	}
	vs, err := s.ListPipelineVersions(ctx, p1.Id)
	if err != nil {
		t.Fatalf("list versions: %v", err)
	}
	if len(vs) != 2 || !proto.Equal(vs[0], p1) || !proto.Equal(vs[1], p2) {
		t.Fatalf("versions = %v", vs)
	}
}

func testPipelineImmutable(t *testing.T, s metadata.Store) {
	d := def("x", "a")
	p1, err := s.CreatePipelineVersion(ctx, "", d, "alice")
	if err != nil {
		t.Fatal(err)
	}
	// Mutating the caller's definition or the returned message must not
	// change what is stored.
	d.Name = "mutated"
	p1.Definition.Nodes = nil
	if _, err := s.CreatePipelineVersion(ctx, p1.Id, def("y", "z"), "bob"); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetPipeline(ctx, p1.Id, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got.Definition, def("x", "a")) {
		t.Fatalf("version 1 changed: %v", got.Definition)
	}
}

func testPipelineErrors(t *testing.T, s metadata.Store) {
	missing := uuid.Must(uuid.NewV7()).String()
	if _, err := s.CreatePipelineVersion(ctx, missing, def("x"), "a"); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("new version of unknown pipeline = %v, want ErrNotFound", err)
	}
	if _, err := s.CreatePipelineVersion(ctx, "", nil, "a"); err == nil {
		t.Errorf("nil definition accepted")
	}
	if _, err := s.GetPipeline(ctx, missing, 0); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("get unknown = %v, want ErrNotFound", err)
	}
	p, err := s.CreatePipelineVersion(ctx, "", def("x"), "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetPipeline(ctx, p.Id, 2); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("get unknown version = %v, want ErrNotFound", err)
	}
	if _, err := s.GetPipeline(ctx, p.Id, -1); err == nil || errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("get negative version = %v, want an invalid-argument error", err)
	}
	if _, err := s.ListPipelineVersions(ctx, missing); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("list versions of unknown = %v, want ErrNotFound", err)
	}
	if err := s.DeletePipeline(ctx, missing); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("delete unknown = %v, want ErrNotFound", err)
	}
}

func testPipelineList(t *testing.T, s metadata.Store) {
	got, err := s.ListPipelines(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("empty list = %v, %v", got, err)
	}
	a, _ := s.CreatePipelineVersion(ctx, "", def("a"), "u")
	b, _ := s.CreatePipelineVersion(ctx, "", def("b"), "u")
	a2, err := s.CreatePipelineVersion(ctx, a.Id, def("a2"), "u")
	if err != nil {
		t.Fatal(err)
	}
	got, err = s.ListPipelines(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*ifcv1.Pipeline{}
	for _, p := range got {
		byID[p.Id] = p
	}
	if len(got) != 2 || !proto.Equal(byID[a.Id], a2) || !proto.Equal(byID[b.Id], b) {
		t.Fatalf("list = %v, want latest of a and b", got)
	}
}

func testPipelineDelete(t *testing.T, s metadata.Store) {
	a, _ := s.CreatePipelineVersion(ctx, "", def("a"), "u")
	b, _ := s.CreatePipelineVersion(ctx, "", def("b"), "u")
	if err := s.DeletePipeline(ctx, a.Id); err != nil {
		t.Fatalf("delete: %v", err)
	}
	got, err := s.ListPipelines(ctx)
	if err != nil || len(got) != 1 || got[0].Id != b.Id {
		t.Fatalf("list after delete = %v, %v", got, err)
	}
	if _, err := s.GetPipeline(ctx, a.Id, 0); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("get deleted = %v, want ErrNotFound", err)
	}
	if _, err := s.CreatePipelineVersion(ctx, a.Id, def("a2"), "u"); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("new version of deleted = %v, want ErrNotFound", err)
	}
	if err := s.DeletePipeline(ctx, a.Id); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("second delete = %v, want ErrNotFound", err)
	}
	// Executions that ran the deleted pipeline are untouched.
	e := execution("e-deleted-pipeline", a.Id, "u", ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED, time.Now())
	if err := s.CreateExecution(ctx, e); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetExecution(ctx, e.ExecutionId); err != nil || got.PipelineId != a.Id {
		t.Fatalf("execution of deleted pipeline = %v, %v", got, err)
	}
}

// testPipelineConcurrent saves versions of one pipeline from many
// goroutines: every save must succeed with a distinct number and the
// numbers must be exactly 1..n.
func testPipelineConcurrent(t *testing.T, s metadata.Store) {
	p, err := s.CreatePipelineVersion(ctx, "", def("c"), "u")
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 10
	var (
		mu       sync.Mutex
		versions = []int{1}
		wg       sync.WaitGroup
		errs     = make(chan error, workers*each)
	)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				got, err := s.CreatePipelineVersion(ctx, p.Id, def(fmt.Sprintf("w%d-%d", w, i), "n"), "u")
				if err != nil {
					errs <- err
					continue
				}
				mu.Lock()
				versions = append(versions, int(got.Version))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent save: %v", err)
	}
	sort.Ints(versions)
	for i, v := range versions {
		if v != i+1 {
			t.Fatalf("versions are not 1..%d without duplicates: %v", len(versions), versions)
		}
	}
	all, err := s.ListPipelineVersions(ctx, p.Id)
	if err != nil || len(all) != workers*each+1 {
		t.Fatalf("stored %d versions (%v), want %d", len(all), err, workers*each+1)
	}
	latest, err := s.GetPipeline(ctx, p.Id, 0)
	if err != nil || latest.Version != workers*each+1 {
		t.Fatalf("latest = %v, %v", latest, err)
	}
}

func testFiles(t *testing.T, s metadata.Store) {
	created := time.Date(2026, 3, 4, 5, 6, 7, 8000, time.UTC)
	f := metadata.File{
		FileID:      uuid.Must(uuid.NewV7()).String(),
		Key:         "files/ab/ab12",
		SHA256:      "ab12",
		Size:        1234,
		ContentType: "image/jpeg",
		Width:       640,
		Height:      480,
		Metadata:    map[string]string{"filename": "part-001.jpg", "camera": "line-3"},
		CreatedBy:   "alice",
		CreatedAt:   created,
	}
	if err := s.PutFile(ctx, f); err != nil {
		t.Fatalf("put: %v", err)
	}
	got, err := s.GetFile(ctx, f.FileID)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if !got.CreatedAt.Equal(f.CreatedAt) || !maps.Equal(got.Metadata, f.Metadata) {
		t.Fatalf("get = %+v, want %+v", got, f)
	}
	got.CreatedAt, got.Metadata = f.CreatedAt, f.Metadata
	if fmt.Sprint(got) != fmt.Sprint(f) {
		t.Fatalf("get = %+v, want %+v", got, f)
	}
	if err := s.PutFile(ctx, f); !errors.Is(err, metadata.ErrConflict) {
		t.Errorf("duplicate put = %v, want ErrConflict", err)
	}
	if _, err := s.GetFile(ctx, "no-such-file"); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("get missing = %v, want ErrNotFound", err)
	}
	// Zero CreatedAt and nil metadata are filled in.
	g := metadata.File{FileID: "second", Key: "files/cd/cd", SHA256: "cd", ContentType: "image/png"}
	if err := s.PutFile(ctx, g); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetFile(ctx, "second")
	if err != nil || got.CreatedAt.IsZero() {
		t.Fatalf("second file = %+v, %v", got, err)
	}
	if err := s.PutFile(ctx, metadata.File{Key: "k"}); err == nil {
		t.Errorf("file without id accepted")
	}
}

func execution(id, pipelineID, by string, st ifcv1.ExecutionStatus, at time.Time) *ifcv1.Execution {
	return &ifcv1.Execution{
		ExecutionId:     id,
		PipelineId:      pipelineID,
		PipelineVersion: 1,
		Inputs:          []string{"file-1"},
		CorrelationId:   "corr-" + id,
		ClientId:        "client",
		Status:          st,
		CreatedAt:       timestamppb.New(at),
		CreatedBy:       by,
	}
}

func testExecutionRoundTrip(t *testing.T, s metadata.Store) {
	now := time.Now().UTC()
	e := execution(uuid.Must(uuid.NewV7()).String(), "p1", "alice", ifcv1.ExecutionStatus_EXECUTION_STATUS_QUEUED, now)
	e.Nodes = []*ifcv1.NodeStatus{{NodeId: "a", State: ifcv1.NodeState_NODE_STATE_QUEUED}}
	if err := s.CreateExecution(ctx, e); err != nil {
		t.Fatalf("create: %v", err)
	}
	got, err := s.GetExecution(ctx, e.ExecutionId)
	if err != nil || !proto.Equal(got, e) {
		t.Fatalf("get = %v, %v; want %v", got, err, e)
	}
	e.Status = ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED
	e.StartedAt = timestamppb.New(now.Add(time.Millisecond))
	e.FinishedAt = timestamppb.New(now.Add(20 * time.Millisecond))
	e.Nodes[0].State = ifcv1.NodeState_NODE_STATE_SUCCEEDED
	e.Nodes[0].Outputs = &ifcv1.NodeOutputs{FileId: "out-1"}
	if err := s.UpdateExecution(ctx, e); err != nil {
		t.Fatalf("update: %v", err)
	}
	got, err = s.GetExecution(ctx, e.ExecutionId)
	if err != nil || !proto.Equal(got, e) {
		t.Fatalf("get after update = %v, %v; want %v", got, err, e)
	}
	list, _, err := s.ListExecutions(ctx, metadata.ExecutionFilter{Status: ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED})
	if err != nil || len(list) != 1 || !proto.Equal(list[0], e) {
		t.Fatalf("list by new status = %v, %v", list, err)
	}
	// A missing created_at is filled in.
	e2 := &ifcv1.Execution{ExecutionId: uuid.Must(uuid.NewV7()).String(), PipelineId: "p1"}
	if err := s.CreateExecution(ctx, e2); err != nil {
		t.Fatal(err)
	}
	if e2.CreatedAt == nil {
		t.Fatal("CreateExecution left created_at empty")
	}
}

func testExecutionErrors(t *testing.T, s metadata.Store) {
	e := execution("dup", "p", "a", ifcv1.ExecutionStatus_EXECUTION_STATUS_QUEUED, time.Now())
	if err := s.CreateExecution(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateExecution(ctx, e); !errors.Is(err, metadata.ErrConflict) {
		t.Errorf("duplicate create = %v, want ErrConflict", err)
	}
	if err := s.UpdateExecution(ctx, execution("missing", "p", "a", 0, time.Now())); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("update missing = %v, want ErrNotFound", err)
	}
	if _, err := s.GetExecution(ctx, "missing"); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("get missing = %v, want ErrNotFound", err)
	}
	if err := s.CreateExecution(ctx, &ifcv1.Execution{}); err == nil {
		t.Errorf("execution without id accepted")
	}
}

func ids(es []*ifcv1.Execution) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ExecutionId
	}
	return out
}

func testExecutionFilters(t *testing.T, s metadata.Store) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const (
		queued = ifcv1.ExecutionStatus_EXECUTION_STATUS_QUEUED
		ok     = ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED
		failed = ifcv1.ExecutionStatus_EXECUTION_STATUS_FAILED
	)
	all := []*ifcv1.Execution{
		execution("e0", "p1", "alice", ok, base),
		execution("e1", "p1", "bob", failed, base.Add(1*time.Hour)),
		execution("e2", "p2", "alice", ok, base.Add(2*time.Hour)),
		execution("e3", "p2", "bob", queued, base.Add(3*time.Hour)),
		execution("e4", "p1", "alice", ok, base.Add(4*time.Hour)),
	}
	for _, e := range all {
		if err := s.CreateExecution(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		f    metadata.ExecutionFilter
		want []string
	}{
		{"all newest first", metadata.ExecutionFilter{}, []string{"e4", "e3", "e2", "e1", "e0"}},
		{"pipeline", metadata.ExecutionFilter{PipelineID: "p1"}, []string{"e4", "e1", "e0"}},
		{"status", metadata.ExecutionFilter{Status: ok}, []string{"e4", "e2", "e0"}},
		{"created by", metadata.ExecutionFilter{CreatedBy: "bob"}, []string{"e3", "e1"}},
		{"since inclusive", metadata.ExecutionFilter{Since: base.Add(3 * time.Hour)}, []string{"e4", "e3"}},
		{"until exclusive", metadata.ExecutionFilter{Until: base.Add(2 * time.Hour)}, []string{"e1", "e0"}},
		{"combined", metadata.ExecutionFilter{PipelineID: "p1", Status: ok, CreatedBy: "alice", Since: base.Add(time.Minute)}, []string{"e4"}},
		{"nothing", metadata.ExecutionFilter{PipelineID: "p9"}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, tok, err := s.ListExecutions(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if tok != "" {
				t.Errorf("token %q on the last page", tok)
			}
			if fmt.Sprint(ids(got)) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v, want %v", ids(got), tc.want)
			}
		})
	}
}

// testExecutionPagination pages through executions that share timestamps
// (ties are broken by id), inserting new rows between pages: every old row
// is seen exactly once, in order.
func testExecutionPagination(t *testing.T, s metadata.Store) {
	base := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	const n = 23
	var want []string
	for i := range n {
		id := fmt.Sprintf("exec-%03d", i)
		at := base.Add(time.Duration(i/3) * time.Second) // three per timestamp
		if err := s.CreateExecution(ctx, execution(id, "p", "u", ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED, at)); err != nil {
			t.Fatal(err)
		}
		want = append([]string{id}, want...)
	}
	var (
		got   []string
		tok   string
		pages int
	)
	for {
		page, next, err := s.ListExecutions(ctx, metadata.ExecutionFilter{Limit: 5, PageToken: tok})
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		if len(page) > 5 {
			t.Fatalf("page of %d rows with limit 5", len(page))
		}
		got = append(got, ids(page)...)
		pages++
		// A newer execution arriving mid-listing must not disturb the pages.
		if err := s.CreateExecution(ctx, execution(fmt.Sprintf("late-%d", pages), "p", "u", 0, base.Add(time.Hour))); err != nil {
			t.Fatal(err)
		}
		if next == "" {
			break
		}
		tok = next
		if pages > n {
			t.Fatal("pagination does not terminate")
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("paged ids\n got %v\nwant %v", got, want)
	}
	if pages != 5 {
		t.Errorf("%d pages for %d rows at 5 per page, want 5", pages, n)
	}
	// Exactly full last page: no empty trailing page.
	page, next, err := s.ListExecutions(ctx, metadata.ExecutionFilter{PipelineID: "p", Until: base.Add(time.Hour), Limit: n})
	if err != nil || len(page) != n || next != "" {
		t.Fatalf("exact page: %d rows, token %q, %v", len(page), next, err)
	}
	// Limits are clamped.
	page, _, err = s.ListExecutions(ctx, metadata.ExecutionFilter{Limit: 100000})
	if err != nil || len(page) > metadata.MaxPageSize {
		t.Fatalf("huge limit: %d rows, %v", len(page), err)
	}
}

func testExecutionBadToken(t *testing.T, s metadata.Store) {
	for _, tok := range []string{"garbage!", "dGhpcyBpcyBub3QgYSB0b2tlbg", metadata.EncodePageToken(metadata.Cursor{})[:3]} {
		if _, _, err := s.ListExecutions(ctx, metadata.ExecutionFilter{PageToken: tok}); !errors.Is(err, metadata.ErrInvalidArgument) {
			t.Errorf("token %q: %v, want ErrInvalidArgument", tok, err)
		}
	}
}

func testUsers(t *testing.T, s metadata.Store) {
	u := metadata.User{Username: "alice", PasswordHash: "$argon2id$v=19$...", Role: "qa_manager", CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatalf("create: %v", err)
	}
	got, err := s.GetUser(ctx, "alice")
	if err != nil || got.Username != u.Username || got.PasswordHash != u.PasswordHash || got.Role != u.Role || !got.CreatedAt.Equal(u.CreatedAt) {
		t.Fatalf("get = %+v, %v", got, err)
	}
	if err := s.CreateUser(ctx, u); !errors.Is(err, metadata.ErrConflict) {
		t.Errorf("duplicate = %v, want ErrConflict", err)
	}
	if _, err := s.GetUser(ctx, "Alice"); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("get other case = %v, want ErrNotFound (usernames are exact)", err)
	}
	if err := s.CreateUser(ctx, metadata.User{}); err == nil {
		t.Errorf("empty username accepted")
	}
}

func testUserManagement(t *testing.T, s metadata.Store) {
	at := time.Date(2026, 2, 3, 4, 5, 6, 7000, time.UTC)
	if us, err := s.ListUsers(ctx); err != nil || len(us) != 0 {
		t.Fatalf("list empty = %v, %v", us, err)
	}
	for i, name := range []string{"zoe", "admin", "mika"} {
		u := metadata.User{Username: name, PasswordHash: "hash-" + name, Role: "inspector", CreatedAt: at.Add(time.Duration(i) * time.Second)}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	us, err := s.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range us {
		names = append(names, u.Username)
		if u.Disabled() || u.PasswordHash != "hash-"+u.Username {
			t.Errorf("listed %+v: want active with its hash", u)
		}
	}
	if strings.Join(names, ",") != "admin,mika,zoe" {
		t.Errorf("list order = %v, want by username", names)
	}

	if err := s.SetUserPassword(ctx, "mika", "new-hash"); err != nil {
		t.Fatalf("set password: %v", err)
	}
	if u, _ := s.GetUser(ctx, "mika"); u.PasswordHash != "new-hash" || u.Role != "inspector" || !u.CreatedAt.Equal(at.Add(2*time.Second)) {
		t.Errorf("after reset = %+v", u)
	}
	if err := s.SetUserPassword(ctx, "nobody", "x"); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("reset unknown = %v, want ErrNotFound", err)
	}
	if err := s.SetUserPassword(ctx, "mika", ""); err == nil {
		t.Errorf("empty hash accepted")
	}

	if err := s.DisableUser(ctx, "zoe", at.Add(time.Hour)); err != nil {
		t.Fatalf("disable: %v", err)
	}
	if err := s.DisableUser(ctx, "zoe", at.Add(2*time.Hour)); err != nil {
		t.Fatalf("disable again: %v", err)
	}
	u, err := s.GetUser(ctx, "zoe")
	if err != nil || !u.Disabled() || !u.DisabledAt.Equal(at.Add(time.Hour)) {
		t.Errorf("disabled user = %+v, %v; want the first disable time", u, err)
	}
	if err := s.DisableUser(ctx, "nobody", at); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("disable unknown = %v, want ErrNotFound", err)
	}
	us, _ = s.ListUsers(ctx)
	for _, u := range us {
		if u.Disabled() != (u.Username == "zoe") {
			t.Errorf("listed %s disabled=%v", u.Username, u.Disabled())
		}
	}
	// A user created disabled stays so.
	if err := s.CreateUser(ctx, metadata.User{Username: "gone", PasswordHash: "h", Role: "inspector", DisabledAt: at}); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.GetUser(ctx, "gone"); !u.DisabledAt.Equal(at) {
		t.Errorf("created disabled = %+v", u)
	}
}
