package api

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/cloud/auth"
	"github.com/imageflowcanvas/ifc/cloud/metadata"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// recordSpec says what differs between test records.
type recordSpec struct {
	id, device, line, product, lot string
	captured                       time.Time
	result                         ifcv1.VerdictResult
}

// commitRecord stores one synced record as the sync service would: the
// image is stored as a File, registered as the device's upload, and the
// record committed.
func (e *env) commitRecord(s recordSpec) *ifcv1.InspectionRecord {
	e.t.Helper()
	ctx := context.Background()
	img := testJPEG(e.t, 16+int(s.id[len(s.id)-1]%32), 16) // a distinct image per record
	ct, body := multipartBody(e.t, "file", "capture.jpg", img)
	r := e.do("POST", "/api/v1/files", auth.RoleInspector, ct, body)
	if r.code != 201 {
		e.t.Fatalf("upload: %d %s", r.code, r.body)
	}
	f := r.json(e.t)
	sha, fileID := f["sha256"].(string), f["file_id"].(string)
	if err := e.meta.PutUpload(ctx, metadata.Upload{DeviceID: s.device, SHA256: sha, FileID: fileID, CreatedAt: time.Now()}); err != nil {
		e.t.Fatal(err)
	}
	v := &ifcv1.Verdict{Result: s.result, DecidedAt: timestamppb.New(s.captured.Add(time.Second))}
	if s.result == ifcv1.VerdictResult_VERDICT_RESULT_NG {
		v.DefectType = "scratch"
	}
	rec := &ifcv1.InspectionRecord{
		RecordId: s.id, DeviceId: s.device, Line: s.line, ProductCode: s.product, Lot: s.lot, Serial: "sn-" + s.id,
		Inspector: "ines", CapturedAt: timestamppb.New(s.captured),
		Images:    []*ifcv1.ImageRef{{Sha256: sha, Size: int64(f["size"].(float64)), ContentType: "image/jpeg", Width: int32(f["width"].(float64)), Height: 16}},
		Prefilter: &ifcv1.PrefilterResult{Score: 0.8, Label: "ng", ModelName: "anomaly", ModelVersion: "v1", Threshold: 0.7},
		Verdict:   v, MasterVersion: 1, ModelVersion: "v1", CreatedAt: timestamppb.New(s.captured),
	}
	if created, err := e.meta.CommitRecord(ctx, rec, time.Now()); err != nil || !created {
		e.t.Fatalf("commit %s: %v %v", s.id, created, err)
	}
	return rec
}

// seedRecords stores product P-100 and six records over two devices and
// lines, captured a minute apart, and returns their ids newest first.
func (e *env) seedRecords() (ids []string, t0 time.Time) {
	e.t.Helper()
	e.putMaster("P-100", masterBody("Bracket", "scratch", "dent"))
	e.putMaster("P-200", masterBody("Hinge", "crack"))
	e.enroll("line-1", "edge-a")
	e.enroll("line-2", "edge-b")
	t0 = time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	specs := []recordSpec{
		{"rec-1", "edge-a", "line-1", "P-100", "lot-1", t0, ifcv1.VerdictResult_VERDICT_RESULT_OK},
		{"rec-2", "edge-a", "line-1", "P-100", "lot-1", t0.Add(time.Minute), ifcv1.VerdictResult_VERDICT_RESULT_NG},
		{"rec-3", "edge-b", "line-2", "P-100", "lot-2", t0.Add(2 * time.Minute), ifcv1.VerdictResult_VERDICT_RESULT_OK},
		{"rec-4", "edge-b", "line-2", "P-200", "lot-2", t0.Add(3 * time.Minute), ifcv1.VerdictResult_VERDICT_RESULT_NG},
		{"rec-5", "edge-a", "line-1", "P-200", "lot-3", t0.Add(4 * time.Minute), ifcv1.VerdictResult_VERDICT_RESULT_OK},
		{"rec-6", "edge-a", "line-1", "P-100", "lot-3", t0.Add(5 * time.Minute), ifcv1.VerdictResult_VERDICT_RESULT_OK},
	}
	for i := len(specs) - 1; i >= 0; i-- {
		e.commitRecord(specs[i])
		ids = append(ids, specs[i].id)
	}
	return ids, t0
}

// searchIDs runs a search and returns the record ids and next page token.
func (e *env) searchIDs(role auth.Role, q url.Values) ([]string, string) {
	e.t.Helper()
	r := e.do("GET", "/api/v1/records?"+q.Encode(), role, "", nil)
	if r.code != 200 {
		e.t.Fatalf("search %s: %d %s", q.Encode(), r.code, r.body)
	}
	m := r.json(e.t)
	var ids []string
	for _, x := range m["records"].([]any) {
		ids = append(ids, x.(map[string]any)["record_id"].(string))
	}
	return ids, m["next_page_token"].(string)
}

func TestRecordSearch(t *testing.T) {
	e := newEnv(t)
	all, t0 := e.seedRecords()
	for name, tc := range map[string]struct {
		q    url.Values
		want []string
	}{
		"all, newest first": {url.Values{}, all},
		"line":              {url.Values{"line": {"line-2"}}, []string{"rec-4", "rec-3"}},
		"device":            {url.Values{"device_id": {"edge-a"}}, []string{"rec-6", "rec-5", "rec-2", "rec-1"}},
		"product":           {url.Values{"product_code": {"P-200"}}, []string{"rec-5", "rec-4"}},
		"lot":               {url.Values{"lot": {"lot-1"}}, []string{"rec-2", "rec-1"}},
		"verdict ng":        {url.Values{"verdict": {"ng"}}, []string{"rec-4", "rec-2"}},
		"time range":        {url.Values{"since": {t0.Add(time.Minute).Format(time.RFC3339)}, "until": {t0.Add(3 * time.Minute).Format(time.RFC3339)}}, []string{"rec-3", "rec-2"}},
		"combined":          {url.Values{"line": {"line-1"}, "product_code": {"P-100"}, "verdict": {"ok"}}, []string{"rec-6", "rec-1"}},
		"nothing":           {url.Values{"lot": {"lot-9"}}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			got, next := e.searchIDs(auth.RoleInspector, tc.q)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) || next != "" {
				t.Fatalf("got %v (next %q), want %v", got, next, tc.want)
			}
		})
	}
	t.Run("pagination", func(t *testing.T) {
		var got []string
		q := url.Values{"limit": {"4"}}
		pages := 0
		for {
			ids, next := e.searchIDs(auth.RoleQAManager, q)
			got = append(got, ids...)
			pages++
			if next == "" {
				break
			}
			q.Set("page_token", next)
		}
		if fmt.Sprint(got) != fmt.Sprint(all) || pages != 2 {
			t.Fatalf("pages %d gave %v, want %v", pages, got, all)
		}
	})
	t.Run("list items", func(t *testing.T) {
		r := e.do("GET", "/api/v1/records?lot=lot-1&verdict=ng", auth.RoleAdmin, "", nil)
		rec := r.json(t)["records"].([]any)[0].(map[string]any)
		if rec["line"] != "line-1" || rec["verdict"].(map[string]any)["result"] != "ng" || len(rec["images"].([]any)) != 1 ||
			rec["cloud"].(map[string]any)["pipeline_state"] != metadata.PipelineNone {
			t.Fatalf("record %v", rec)
		}
	})
	for name, tc := range map[string]struct {
		q     string
		field string
	}{
		"bad verdict":    {"verdict=maybe", "verdict"},
		"upper verdict":  {"verdict=NG", "verdict"},
		"bad since":      {"since=yesterday", "since"},
		"inverted range": {"since=" + t0.Add(time.Hour).Format(time.RFC3339) + "&until=" + t0.Format(time.RFC3339), "until"},
		"bad page token": {"page_token=not-a-token", "page_token"},
		"zero limit":     {"limit=0", "limit"},
		"huge limit":     {"limit=501", "limit"},
	} {
		t.Run(name, func(t *testing.T) {
			p := expectProblem(t, e.do("GET", "/api/v1/records?"+tc.q, auth.RoleInspector, "", nil), 422)
			if !hasProblem(p, tc.field) {
				t.Errorf("problems %v lack %s", p["problems"], tc.field)
			}
		})
	}
	expectProblem(t, e.do("GET", "/api/v1/records", auth.RoleIntegrator, "", nil), 403)
}

func TestRecordReviewAndOverride(t *testing.T) {
	e := newEnv(t)
	e.seedRecords()
	ctx := context.Background()

	// The cloud pipeline ran on rec-2: its execution shows in the record.
	e.cond.autoFinish = true
	pid := e.createPipeline()
	fid := e.upload(testJPEG(t, 16, 16))
	r := e.doJSON("POST", "/api/v1/executions?wait=true", auth.RoleInspector, map[string]any{"pipeline_id": pid, "inputs": []string{fid}})
	if r.code != 200 {
		t.Fatalf("execution: %d %s", r.code, r.body)
	}
	exID := r.json(t)["execution_id"].(string)
	if err := e.meta.SetRecordPipeline(ctx, "rec-2", metadata.PipelineSubmitted, exID, ""); err != nil {
		t.Fatal(err)
	}

	r = e.do("GET", "/api/v1/records/rec-2", auth.RoleInspector, "", nil)
	if r.code != 200 {
		t.Fatalf("get: %d %s", r.code, r.body)
	}
	rec := r.json(t)
	if rec["record_id"] != "rec-2" || rec["device_id"] != "edge-a" || rec["line"] != "line-1" || rec["product_code"] != "P-100" ||
		rec["lot"] != "lot-1" || rec["serial"] != "sn-rec-2" || rec["inspector"] != "ines" || rec["captured_at"] != "2026-11-01T08:01:00Z" ||
		rec["committed_at"] == nil || rec["master_version"] != 1.0 || rec["model_version"] != "v1" {
		t.Fatalf("record %s", r.body)
	}
	if p := rec["prefilter"].(map[string]any); p["score"] != 0.8 || p["label"] != "ng" || p["model_name"] != "anomaly" || p["threshold"] != 0.7 {
		t.Errorf("prefilter %v", p)
	}
	if v := rec["verdict"].(map[string]any); v["result"] != "ng" || v["defect_type"] != "scratch" || v["decided_at"] == nil {
		t.Errorf("verdict %v", v)
	}
	if fmt.Sprint(rec["effective_verdict"]) != fmt.Sprint(rec["verdict"]) || len(rec["overrides"].([]any)) != 0 {
		t.Errorf("no overrides: effective %v, overrides %v", rec["effective_verdict"], rec["overrides"])
	}
	cloud := rec["cloud"].(map[string]any)
	ex, _ := cloud["execution"].(map[string]any)
	if cloud["pipeline_state"] != "submitted" || cloud["execution_id"] != exID || ex == nil || ex["status"] != "succeeded" {
		t.Fatalf("cloud %v", cloud)
	}
	if nodes := ex["nodes"].([]any); len(nodes) == 0 || nodes[0].(map[string]any)["outputs"].(map[string]any)["detections"] == nil {
		t.Errorf("execution carries no detections: %v", ex)
	}
	img := rec["images"].([]any)[0].(map[string]any)
	if img["file_id"] == "" || img["content_type"] != "image/jpeg" || img["url"] != "/api/v1/files/"+img["file_id"].(string)+"/content" {
		t.Fatalf("image %v", img)
	}
	if c := e.do("GET", img["url"].(string), auth.RoleInspector, "", nil); c.code != 200 || !bytes.HasPrefix(c.body, []byte{0xff, 0xd8}) {
		t.Fatalf("image content: %d", c.code)
	}
	expectProblem(t, e.do("GET", "/api/v1/records/rec-404", auth.RoleInspector, "", nil), 404)
	expectProblem(t, e.do("GET", "/api/v1/records/rec-2", auth.RoleIntegrator, "", nil), 403)

	// An edge override made later than the cloud's still loses to it.
	edgeAt := time.Now().Add(time.Hour)
	edge := &ifcv1.VerdictOverride{OverrideId: uuid.Must(uuid.NewV7()).String(), RecordId: "rec-2", Actor: "ines", Reason: "re-checked at the line",
		Verdict: &ifcv1.Verdict{Result: ifcv1.VerdictResult_VERDICT_RESULT_OK, DecidedAt: timestamppb.New(edgeAt)}, At: timestamppb.New(edgeAt),
		Origin: ifcv1.VerdictOrigin_VERDICT_ORIGIN_EDGE, DeviceId: "edge-a"}
	if _, err := e.meta.AddOverride(ctx, edge); err != nil {
		t.Fatal(err)
	}
	if got := e.do("GET", "/api/v1/records/rec-2", auth.RoleInspector, "", nil).json(t)["effective_verdict"].(map[string]any)["result"]; got != "ok" {
		t.Fatalf("effective after edge override: %v", got)
	}

	override := func(role auth.Role, body map[string]any) resp {
		return e.doJSON("POST", "/api/v1/records/rec-2/overrides", role, body)
	}
	r = override(auth.RoleQAManager, map[string]any{"result": "ng", "defect_type": "dent", "note": "dent at the hinge", "reason": "review of the image"})
	if r.code != 201 || r.header.Get("Location") != "/api/v1/records/rec-2" {
		t.Fatalf("override: %d %s", r.code, r.body)
	}
	rec = r.json(t)
	ovs := rec["overrides"].([]any)
	if len(ovs) != 2 {
		t.Fatalf("overrides %v", ovs)
	}
	cloudOv := ovs[0].(map[string]any) // the cloud's is older than the edge's (edge at +1h)
	if cloudOv["origin"] != "cloud" || cloudOv["actor"] != "qa_manager-user" || cloudOv["reason"] != "review of the image" || cloudOv["device_id"] != nil ||
		cloudOv["verdict"].(map[string]any)["defect_type"] != "dent" || cloudOv["at"] == nil {
		t.Errorf("cloud override %v", cloudOv)
	}
	if id, err := uuid.Parse(cloudOv["override_id"].(string)); err != nil || id.Version() != 7 {
		t.Errorf("override id %v is not a UUIDv7", cloudOv["override_id"])
	}
	if o := ovs[1].(map[string]any); o["origin"] != "edge" || o["device_id"] != "edge-a" {
		t.Errorf("edge override %v", o)
	}
	if eff := rec["effective_verdict"].(map[string]any); eff["result"] != "ng" || eff["defect_type"] != "dent" || eff["note"] != "dent at the hinge" {
		t.Fatalf("effective %v: the cloud override should win", eff)
	}
	if v := rec["verdict"].(map[string]any); v["defect_type"] != "scratch" {
		t.Errorf("the record's own verdict changed: %v", v)
	}

	// A later cloud override wins over the earlier one; history keeps all three in time order.
	r = override(auth.RoleAdmin, map[string]any{"result": "ok", "reason": "false alarm"})
	rec = r.json(t)
	if r.code != 201 || rec["effective_verdict"].(map[string]any)["result"] != "ok" || len(rec["overrides"].([]any)) != 3 {
		t.Fatalf("second override: %d %s", r.code, r.body)
	}
	var origins []any
	for _, o := range rec["overrides"].([]any) {
		origins = append(origins, o.(map[string]any)["origin"])
	}
	if fmt.Sprint(origins) != "[cloud cloud edge]" {
		t.Errorf("history order %v", origins)
	}
	// Search by verdict follows the effective verdict.
	if ids, _ := e.searchIDs(auth.RoleInspector, url.Values{"verdict": {"ng"}}); fmt.Sprint(ids) != "[rec-4]" {
		t.Errorf("ng records after overriding rec-2 to ok: %v", ids)
	}

	expectProblem(t, override(auth.RoleInspector, map[string]any{"result": "ok", "reason": "mine"}), 403)
	expectProblem(t, override(auth.RoleIntegrator, map[string]any{"result": "ok", "reason": "mine"}), 403)
	expectProblem(t, e.doJSON("POST", "/api/v1/records/rec-404/overrides", auth.RoleQAManager, map[string]any{"result": "ok", "reason": "x"}), 404)
	for name, tc := range map[string]struct {
		body  map[string]any
		field string
	}{
		"missing reason":       {map[string]any{"result": "ok"}, "reason"},
		"blank reason":         {map[string]any{"result": "ok", "reason": "  "}, "reason"},
		"bad verdict":          {map[string]any{"result": "maybe", "reason": "x"}, "result"},
		"ng without defect":    {map[string]any{"result": "ng", "reason": "x"}, "defect_type"},
		"unknown defect":       {map[string]any{"result": "ng", "defect_type": "crack", "reason": "x"}, "defect_type"},
		"ok with defect":       {map[string]any{"result": "ok", "defect_type": "dent", "reason": "x"}, "defect_type"},
		"upper-case ok result": {map[string]any{"result": "OK", "reason": "x"}, "result"},
	} {
		t.Run(name, func(t *testing.T) {
			p := expectProblem(t, override(auth.RoleQAManager, tc.body), 422)
			if !hasProblem(p, tc.field) {
				t.Errorf("problems %v lack %s", p["problems"], tc.field)
			}
		})
	}
	expectProblem(t, e.do("POST", "/api/v1/records/rec-2/overrides", auth.RoleQAManager, "application/json", []byte(`{"result":"ok","reason":"x","actor":"someone"}`)), 400)
	if n := len(e.do("GET", "/api/v1/records/rec-2", auth.RoleInspector, "", nil).json(t)["overrides"].([]any)); n != 3 {
		t.Fatalf("rejected overrides changed the history: %d overrides", n)
	}
}
