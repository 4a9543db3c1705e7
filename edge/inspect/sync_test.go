package inspect_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/imageflowcanvas/ifc/edge/inspect"
	"github.com/imageflowcanvas/ifc/edge/queue"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// saveOne captures and saves one OK record, returning its id.
func (e *env) saveOne() string {
	e.t.Helper()
	c := e.capture(e.session().SessionID)
	if r := e.postJSON("/api/v1/captures/"+c.CaptureID+"/verdict", inspect.VerdictRequest{Result: "OK"}); r.code != http.StatusCreated {
		e.t.Fatalf("verdict: %d %s", r.code, r.body)
	}
	return c.CaptureID
}

func (e *env) recordDetail(id string) inspect.RecordJSON {
	e.t.Helper()
	r := e.do("GET", "/api/v1/records/"+id, "", nil)
	if r.code != http.StatusOK {
		e.t.Fatalf("record: %d %s", r.code, r.body)
	}
	var rec inspect.RecordJSON
	r.decode(e.t, &rec)
	return rec
}

func TestOverrideVerdict(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	id := e.saveOne()
	if rec := e.recordDetail(id); rec.EffectiveVerdict == nil || rec.EffectiveVerdict.Result != "OK" || len(rec.Overrides) != 0 {
		t.Fatalf("before any override: effective %+v, overrides %v", rec.EffectiveVerdict, rec.Overrides)
	}

	r := e.postJSON("/api/v1/records/"+id+"/overrides", inspect.OverrideRequest{
		Result: "NG", DefectType: "scratch", Note: "hairline", Reason: "seen under the lamp", Inspector: "bob"})
	if r.code != http.StatusCreated {
		t.Fatalf("override: %d %s", r.code, r.body)
	}
	var o inspect.OverrideJSON
	r.decode(t, &o)
	if u, err := uuid.Parse(o.OverrideID); err != nil || u.Version() != 7 {
		t.Errorf("override_id %q is not a UUIDv7", o.OverrideID)
	}
	if o.Origin != "EDGE" || o.DeviceID != testDevice || o.Actor != "bob" || o.RecordID != id || o.At == nil ||
		o.Verdict.Result != "NG" || o.Verdict.DefectType != "scratch" {
		t.Errorf("override answer %+v", o)
	}
	if loc := r.hdr.Get("Location"); loc != "/api/v1/records/"+id {
		t.Errorf("Location %q", loc)
	}

	rec := e.recordDetail(id)
	if rec.Verdict.Result != "OK" {
		t.Errorf("the record's own verdict changed to %s; records are never rewritten", rec.Verdict.Result)
	}
	if rec.EffectiveVerdict == nil || rec.EffectiveVerdict.Result != "NG" || len(rec.Overrides) != 1 || rec.Overrides[0].OverrideID != o.OverrideID {
		t.Errorf("after override: effective %+v, overrides %+v", rec.EffectiveVerdict, rec.Overrides)
	}
	pending, err := e.q.PendingOverrides(ctx, 0)
	if err != nil || len(pending) != 1 || pending[0].GetOrigin() != ifcv1.VerdictOrigin_VERDICT_ORIGIN_EDGE {
		t.Errorf("override outbox: %v %v", pending, err)
	}

	// A second correction wins: the latest edge override is in force.
	if r := e.postJSON("/api/v1/records/"+id+"/overrides", inspect.OverrideRequest{Result: "OK", Reason: "it was dust", Inspector: "carol"}); r.code != http.StatusCreated {
		t.Fatalf("second override: %d %s", r.code, r.body)
	}
	if rec := e.recordDetail(id); rec.EffectiveVerdict.Result != "OK" || len(rec.Overrides) != 2 || rec.Overrides[1].Actor != "carol" {
		t.Errorf("after second override: effective %+v, overrides %+v", rec.EffectiveVerdict, rec.Overrides)
	}

	// Refusals change nothing.
	before := e.snapshot()
	for _, tc := range []struct {
		name, path string
		req        inspect.OverrideRequest
		code       int
		field      string
	}{
		{"unknown record", "/api/v1/records/" + uuid.Must(uuid.NewV7()).String() + "/overrides", inspect.OverrideRequest{Result: "OK", Reason: "x", Inspector: "bob"}, 404, ""},
		{"not a uuid", "/api/v1/records/nope/overrides", inspect.OverrideRequest{Result: "OK", Reason: "x", Inspector: "bob"}, 404, ""},
		{"no result", "", inspect.OverrideRequest{Reason: "x", Inspector: "bob"}, 422, "result"},
		{"bad result", "", inspect.OverrideRequest{Result: "MAYBE", Reason: "x", Inspector: "bob"}, 422, "result"},
		{"NG without defect", "", inspect.OverrideRequest{Result: "NG", Reason: "x", Inspector: "bob"}, 422, "defect_type"},
		{"unknown defect", "", inspect.OverrideRequest{Result: "NG", DefectType: "rust", Reason: "x", Inspector: "bob"}, 422, "defect_type"},
		{"no reason", "", inspect.OverrideRequest{Result: "OK", Reason: "  ", Inspector: "bob"}, 422, "reason"},
		{"no inspector", "", inspect.OverrideRequest{Result: "OK", Reason: "x"}, 422, "inspector"},
	} {
		path := tc.path
		if path == "" {
			path = "/api/v1/records/" + id + "/overrides"
		}
		r := e.postJSON(path, tc.req)
		if r.code != tc.code || r.problem(t).Field != tc.field {
			t.Errorf("%s: %d %s, want %d on field %q", tc.name, r.code, r.body, tc.code, tc.field)
		}
	}
	if !bytes.Equal(before, e.snapshot()) {
		t.Errorf("a refused override changed the queue")
	}
}

func TestSyncEndpoints(t *testing.T) {
	var nows atomic.Int32
	var enrolled atomic.Bool
	enroll := func(_ context.Context, cloudURL, token string) (inspect.Enrollment, error) {
		switch {
		case token == "ifcenr_used":
			return inspect.Enrollment{}, fmt.Errorf("%w: rpc error: code = Unauthenticated desc = enrollment token already used", inspect.ErrEnrollRefused)
		case enrolled.Load():
			return inspect.Enrollment{}, fmt.Errorf("%w as %s", inspect.ErrAlreadyEnrolled, testDevice)
		}
		enrolled.Store(true)
		return inspect.Enrollment{DeviceID: testDevice, Line: "line-1"}, nil
	}
	e := newEnv(t, func(o *inspect.Options, _ *queue.Options) { o.Enroll = enroll })

	// No sync loop attached: sync now is refused clearly.
	if r := e.do("POST", "/api/v1/sync/now", "", nil); r.code != http.StatusServiceUnavailable || !strings.Contains(r.problem(t).Detail, "cloud_addr") {
		t.Errorf("sync now without sync: %d %s", r.code, r.body)
	}
	e.srv.SetSync(fakeSync{st: inspect.SyncState{Enrolled: true, LastError: "cloud unreachable", NextAttempt: time.Now().Add(time.Minute)}, nows: &nows})
	r := e.do("POST", "/api/v1/sync/now", "", nil)
	if r.code != http.StatusAccepted || nows.Load() != 1 {
		t.Fatalf("sync now: %d %s, SyncNow called %d times", r.code, r.body, nows.Load())
	}
	var sj inspect.SyncJSON
	r.decode(t, &sj)
	if !sj.Enrolled || sj.LastError != "cloud unreachable" || sj.NextAttempt == nil {
		t.Errorf("sync state %+v", sj)
	}
	var st inspect.StatusJSON
	e.do("GET", "/api/v1/status", "", nil).decode(t, &st)
	if st.Sync == nil || !st.Sync.Enrolled || st.LastError != "cloud unreachable" {
		t.Errorf("status sync %+v", st.Sync)
	}

	if r := e.postJSON("/api/v1/sync/enroll", inspect.EnrollRequest{}); r.code != 422 || r.problem(t).Field != "token" {
		t.Errorf("enroll without token: %d %s", r.code, r.body)
	}
	if r := e.postJSON("/api/v1/sync/enroll", inspect.EnrollRequest{CloudURL: "https://cloud/x", Token: "t"}); r.code != 422 || r.problem(t).Field != "cloud_url" {
		t.Errorf("enroll with a URL path: %d %s", r.code, r.body)
	}
	if r := e.postJSON("/api/v1/sync/enroll", inspect.EnrollRequest{Token: "ifcenr_used"}); r.code != http.StatusBadGateway || !strings.Contains(r.problem(t).Detail, "already used") {
		t.Errorf("refused enrollment: %d %s", r.code, r.body)
	}
	r = e.postJSON("/api/v1/sync/enroll", inspect.EnrollRequest{CloudURL: "cloud.example:9443", Token: "ifcenr_good"})
	var ej inspect.EnrollJSON
	if r.code != http.StatusOK {
		t.Fatalf("enroll: %d %s", r.code, r.body)
	}
	if r.decode(t, &ej); ej.DeviceID != testDevice || ej.Line != "line-1" {
		t.Errorf("enroll answer %+v", ej)
	}
	if r := e.postJSON("/api/v1/sync/enroll", inspect.EnrollRequest{Token: "ifcenr_good"}); r.code != http.StatusConflict {
		t.Errorf("second enrollment: %d %s", r.code, r.body)
	}
}

func TestEnrollWithoutSync(t *testing.T) {
	e := newEnv(t)
	if r := e.postJSON("/api/v1/sync/enroll", inspect.EnrollRequest{Token: "t"}); r.code != http.StatusServiceUnavailable {
		t.Errorf("enroll with no Enroll hook: %d %s", r.code, r.body)
	}
}
