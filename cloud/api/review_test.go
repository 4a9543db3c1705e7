package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/imageflowcanvas/ifc/cloud/auth"
	"github.com/imageflowcanvas/ifc/cloud/files"
	"github.com/imageflowcanvas/ifc/cloud/metadata"
	"github.com/imageflowcanvas/ifc/cloud/objectstore/s3store"
	"github.com/imageflowcanvas/ifc/ui"
)

// utcShifts runs the API with the default shifts in UTC.
func utcShifts(o *envOptions) {
	o.cfg.Shifts = metadata.ShiftPlan{Shifts: metadata.DefaultShifts(), Location: time.UTC}
}

func recordIDsOf(t *testing.T, r resp) string {
	t.Helper()
	if r.code != 200 {
		t.Fatalf("status %d: %s", r.code, r.body)
	}
	var ids []string
	for _, rec := range r.json(t)["records"].([]any) {
		ids = append(ids, rec.(map[string]any)["record_id"].(string))
	}
	return strings.Join(ids, " ")
}

func problemFields(t *testing.T, p map[string]any) string {
	t.Helper()
	var out []string
	for _, it := range p["problems"].([]any) {
		it := it.(map[string]any)
		out = append(out, fmt.Sprint(it["field"], ": ", it["message"]))
	}
	return strings.Join(out, "; ")
}

func TestRecordSearchReviewFilters(t *testing.T) {
	e := newEnv(t, utcShifts)
	e.seedRecords() // 08:00..08:05 UTC: shift A; rec-2 and rec-4 NG with defect scratch
	for _, tc := range []struct{ query, want string }{
		{"defect_type=scratch", "rec-4 rec-2"},
		{"defect_type=dent", ""},
		{"shift=A", "rec-6 rec-5 rec-4 rec-3 rec-2 rec-1"},
		{"shift=B", ""},
		{"acknowledged=false&verdict=ng", "rec-4 rec-2"},
		{"acknowledged=true", ""},
	} {
		if got := recordIDsOf(t, e.do("GET", "/api/v1/records?"+tc.query, auth.RoleInspector, "", nil)); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.query, got, tc.want)
		}
	}
	p := expectProblem(t, e.do("GET", "/api/v1/records?shift=Z&acknowledged=yes&defect_type="+url.QueryEscape("a\x01"), auth.RoleInspector, "", nil), 422)
	if got := problemFields(t, p); !strings.Contains(got, "shift: want one of the configured shifts: A, B, C") ||
		!strings.Contains(got, "acknowledged: want true or false") || !strings.Contains(got, "defect_type:") {
		t.Errorf("problems %s", got)
	}
}

func TestAcknowledgeRecords(t *testing.T) {
	e := newEnv(t)
	e.seedRecords()
	post := func(role auth.Role, body any) resp {
		return e.doJSON("POST", "/api/v1/records/acknowledge", role, body)
	}

	// Unknown ids are named and nothing is acknowledged.
	p := expectProblem(t, post(auth.RoleQAManager, map[string]any{"record_ids": []string{"rec-1", "nope-1", "rec-2", "nope-2"}}), 422)
	if got := problemFields(t, p); !strings.Contains(got, `"nope-1" not found`) || !strings.Contains(got, `"nope-2" not found`) || strings.Contains(got, "rec-1") {
		t.Errorf("problems %s", got)
	}
	if got := recordIDsOf(t, e.do("GET", "/api/v1/records?acknowledged=true", auth.RoleInspector, "", nil)); got != "" {
		t.Fatalf("a refused request acknowledged %s", got)
	}
	many := make([]string, 501)
	for i := range many {
		many[i] = fmt.Sprintf("rec-%d", i)
	}
	for _, bad := range []struct {
		body   any
		status int
	}{
		{map[string]any{"record_ids": []string{}}, 422},
		{map[string]any{}, 422},
		{map[string]any{"record_ids": many}, 422},
		{map[string]any{"record_ids": []string{"a/b"}}, 422},
		{map[string]any{"record_ids": "rec-1"}, 400},
		{map[string]any{"record_ids": []string{"rec-1"}, "extra": 1}, 400},
	} {
		expectProblem(t, post(auth.RoleQAManager, bad.body), bad.status)
	}
	expectProblem(t, post(auth.RoleInspector, map[string]any{"record_ids": []string{"rec-1"}}), 403)
	expectProblem(t, post("", map[string]any{"record_ids": []string{"rec-1"}}), 401)

	r := post(auth.RoleQAManager, map[string]any{"record_ids": []string{"rec-2", "rec-4"}})
	if r.code != 200 || strings.TrimSpace(string(r.body)) != `{"acknowledged":2}` {
		t.Fatalf("acknowledge: %d %s", r.code, r.body)
	}
	first := e.do("GET", "/api/v1/records/rec-2", auth.RoleInspector, "", nil).json(t)
	if first["acknowledged_by"] != "qa_manager-user" || first["acknowledged_at"] == nil {
		t.Fatalf("record after acknowledge: %v %v", first["acknowledged_by"], first["acknowledged_at"])
	}
	if rec := e.do("GET", "/api/v1/records/rec-1", auth.RoleInspector, "", nil).json(t); rec["acknowledged_at"] != nil || rec["acknowledged_by"] != nil {
		t.Errorf("unacknowledged record shows %v %v", rec["acknowledged_at"], rec["acknowledged_by"])
	}
	// Idempotent: again (as admin) keeps the first acknowledgement.
	e.clock.Add(time.Minute)
	r = post(auth.RoleAdmin, map[string]any{"record_ids": []string{"rec-2", "rec-3"}})
	if r.code != 200 || strings.TrimSpace(string(r.body)) != `{"acknowledged":1}` {
		t.Fatalf("second acknowledge: %d %s", r.code, r.body)
	}
	again := e.do("GET", "/api/v1/records/rec-2", auth.RoleInspector, "", nil).json(t)
	if again["acknowledged_by"] != first["acknowledged_by"] || again["acknowledged_at"] != first["acknowledged_at"] {
		t.Errorf("second acknowledge changed rec-2: %v %v", again["acknowledged_by"], again["acknowledged_at"])
	}
	if got := recordIDsOf(t, e.do("GET", "/api/v1/records?acknowledged=true", auth.RoleInspector, "", nil)); got != "rec-4 rec-3 rec-2" {
		t.Errorf("acknowledged: %s", got)
	}
}

func TestRecordStatsEndpoint(t *testing.T) {
	e := newEnv(t, utcShifts)
	_, t0 := e.seedRecords()
	r := e.do("GET", "/api/v1/stats", auth.RoleInspector, "", nil)
	if r.code != 200 {
		t.Fatalf("stats: %d %s", r.code, r.body)
	}
	want := `{"total":6,"ok":4,"ng":2,"yield":0.6666666666666666,` +
		`"by_line":[{"key":"line-1","total":4,"ok":3,"ng":1,"yield":0.75},{"key":"line-2","total":2,"ok":1,"ng":1,"yield":0.5}],` +
		`"by_product":[{"key":"P-100","total":4,"ok":3,"ng":1,"yield":0.75},{"key":"P-200","total":2,"ok":1,"ng":1,"yield":0.5}],` +
		`"by_shift":[{"key":"A","total":6,"ok":4,"ng":2,"yield":0.6666666666666666},{"key":"B","total":0,"ok":0,"ng":0,"yield":0},{"key":"C","total":0,"ok":0,"ng":0,"yield":0}],` +
		`"trend":[{"start":"2026-11-01T00:00:00Z","total":6,"ok":4,"ng":2,"yield":0.6666666666666666}],` +
		`"pareto":[{"defect_type":"scratch","count":2}]}`
	if got := strings.TrimSpace(string(r.body)); got != want {
		t.Errorf("stats\n got %s\nwant %s", got, want)
	}

	// An override counts: rec-1 (line-1) turns NG with dent.
	r = e.doJSON("POST", "/api/v1/records/rec-1/overrides", auth.RoleQAManager, map[string]any{"result": "ng", "defect_type": "dent", "reason": "dent seen on review"})
	if r.code != 201 {
		t.Fatalf("override: %d %s", r.code, r.body)
	}
	q := url.Values{"line": {"line-1"}, "bucket": {"hour"}, "since": {t0.Add(-time.Hour).Format(time.RFC3339)}, "until": {t0.Add(time.Hour).Format(time.RFC3339)}}
	st := e.do("GET", "/api/v1/stats?"+q.Encode(), auth.RoleInspector, "", nil).json(t)
	if st["total"] != 4.0 || st["ng"] != 2.0 || st["yield"] != 0.5 {
		t.Errorf("line-1 after override: %v", st)
	}
	trend := st["trend"].([]any)
	if len(trend) != 2 || trend[0].(map[string]any)["total"] != 0.0 || trend[1].(map[string]any)["start"] != "2026-11-01T08:00:00Z" {
		t.Errorf("hourly trend %v", trend)
	}
	if fmt.Sprint(st["pareto"]) != "[map[count:1 defect_type:dent] map[count:1 defect_type:scratch]]" {
		t.Errorf("pareto %v", st["pareto"])
	}

	// Nothing: zero counts, yield 0, every shift, empty lists.
	st = e.do("GET", "/api/v1/stats?line=none", auth.RoleInspector, "", nil).json(t)
	if st["total"] != 0.0 || st["yield"] != 0.0 || len(st["by_shift"].([]any)) != 3 || len(st["trend"].([]any)) != 0 || len(st["by_line"].([]any)) != 0 {
		t.Errorf("empty stats %v", st)
	}

	for _, tc := range []struct{ query, field string }{
		{"bucket=week", "bucket"},
		{"verdict=ng", "verdict"},
		{"shift=A", "shift"},
		{"since=yesterday", "since"},
		{"since=2026-11-02T00:00:00Z&until=2026-11-01T00:00:00Z", "until"},
		{"bucket=hour&since=2020-01-01T00:00:00Z&until=2026-01-01T00:00:00Z", "bucket"},
	} {
		p := expectProblem(t, e.do("GET", "/api/v1/stats?"+tc.query, auth.RoleInspector, "", nil), 422)
		if got := problemFields(t, p); !strings.HasPrefix(got, tc.field+":") {
			t.Errorf("%s: problems %s, want field %s", tc.query, got, tc.field)
		}
	}
	expectProblem(t, e.do("GET", "/api/v1/stats", auth.RoleIntegrator, "", nil), 403)
}

// get fetches u with no Authorization header.
func get(t *testing.T, u string) (int, []byte) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func TestSignedDownloadURLs(t *testing.T) {
	e := newEnv(t)
	e.seedRecords()
	rec := e.do("GET", "/api/v1/records/rec-2", auth.RoleInspector, "", nil).json(t)
	img := rec["images"].([]any)[0].(map[string]any)
	dl, _ := img["download_url"].(string)
	if !strings.HasPrefix(dl, "/api/v1/files/"+img["file_id"].(string)+"/content?exp=") {
		t.Fatalf("download_url %q", dl)
	}
	withBearer := e.do("GET", img["url"].(string), auth.RoleInspector, "", nil)
	code, body := get(t, e.http.URL+dl)
	if code != 200 || !bytes.Equal(body, withBearer.body) || len(body) == 0 {
		t.Fatalf("signed URL without a token: %d (%d bytes; bearer got %d)", code, len(body), len(withBearer.body))
	}
	// The list carries download URLs too, and a File does.
	list := e.do("GET", "/api/v1/records?limit=1", auth.RoleInspector, "", nil).json(t)
	if u, _ := list["records"].([]any)[0].(map[string]any)["images"].([]any)[0].(map[string]any)["download_url"].(string); u == "" {
		t.Error("list item image has no download_url")
	}
	f := e.do("GET", "/api/v1/files/"+img["file_id"].(string), auth.RoleInspector, "", nil).json(t)
	if code, _ := get(t, e.http.URL+f["download_url"].(string)); code != 200 {
		t.Errorf("file download_url: %d", code)
	}

	u, _ := url.Parse(dl)
	q := u.Query()
	tampered := []string{
		strings.Replace(dl, "sig="+q.Get("sig"), "sig=x"+q.Get("sig")[1:], 1),
		strings.Replace(dl, "exp="+q.Get("exp"), "exp=9"+q.Get("exp"), 1),
		strings.Replace(dl, img["file_id"].(string), e.upload(testJPEG(t, 8, 8)), 1), // another file, same signature
		u.Path + "?exp=" + q.Get("exp"),
		u.Path + "?sig=" + q.Get("sig"),
	}
	for _, bad := range tampered {
		r := e.do("GET", bad, "", "", nil)
		expectProblem(t, r, 403)
	}
	// Without exp/sig the bearer token is still required.
	expectProblem(t, e.do("GET", u.Path, "", "", nil), 401)

	e.clock.Add(16 * time.Minute)
	p := expectProblem(t, e.do("GET", dl, "", "", nil), 403)
	if !strings.Contains(p["detail"].(string), "expired") {
		t.Errorf("expired URL: %v", p["detail"])
	}
}

func TestExecutionDownloadURLs(t *testing.T) {
	e := newEnv(t, withConductor)
	pid := e.createPipeline()
	fid := e.upload(testJPEG(t, 64, 48))
	r := e.doJSON("POST", "/api/v1/executions?wait=true", auth.RoleInspector, map[string]any{"pipeline_id": pid, "inputs": []string{fid}})
	if r.code != 200 {
		t.Fatalf("run: %d %s", r.code, r.body)
	}
	id := r.json(t)["execution_id"].(string)
	ex := e.do("GET", "/api/v1/executions/"+id, auth.RoleInspector, "", nil).json(t)
	n := 0
	for _, node := range ex["nodes"].([]any) {
		out, _ := node.(map[string]any)["outputs"].(map[string]any)
		if out["file_id"] == nil {
			continue
		}
		n++
		code, body := get(t, e.http.URL+out["download_url"].(string))
		if code != 200 || !bytes.HasPrefix(body, []byte{0xff, 0xd8}) {
			t.Errorf("node output download_url: %d", code)
		}
	}
	if n == 0 {
		t.Fatal("no node output with a file")
	}
}

// TestPresignedDownloadURLsMinIO stores files in real MinIO: download
// URLs are presigned by MinIO itself, work without a token, and fail when
// tampered with or expired.
func TestPresignedDownloadURLsMinIO(t *testing.T) {
	raw := os.Getenv("IFC_TEST_MINIO_URL")
	if raw == "" {
		if os.Getenv("IFC_REQUIRE_BACKENDS") == "1" {
			t.Fatal("IFC_TEST_MINIO_URL is unset (IFC_REQUIRE_BACKENDS=1)")
		}
		t.Skip("IFC_TEST_MINIO_URL is unset")
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = fmt.Sprintf("/ifc-api-test-%d", time.Now().UnixNano())
	cfg, err := s3store.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	store, err := s3store.New(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	ttl := downloadTTL
	e := newEnv(t, func(o *envOptions) {
		o.objects = store
		o.deps = func(d *Deps) {
			d.PresignFile = func(ctx context.Context, f metadata.File, d time.Duration) (string, error) {
				if d != downloadTTL {
					return "", fmt.Errorf("ttl %v, want %v", d, downloadTTL)
				}
				return store.Presign(ctx, files.ObjectKey(f.SHA256), ttl)
			}
		}
	})
	e.seedRecords()
	rec := e.do("GET", "/api/v1/records/rec-2", auth.RoleInspector, "", nil).json(t)
	img := rec["images"].([]any)[0].(map[string]any)
	dl := img["download_url"].(string)
	if !strings.HasPrefix(dl, "http://"+cfg.Endpoint+"/") && !strings.HasPrefix(dl, "https://"+cfg.Endpoint+"/") {
		t.Fatalf("download_url %q is not presigned by MinIO at %s", dl, cfg.Endpoint)
	}
	withBearer := e.do("GET", img["url"].(string), auth.RoleInspector, "", nil)
	if code, body := get(t, dl); code != 200 || !bytes.Equal(body, withBearer.body) {
		t.Fatalf("presigned URL: %d", code)
	}
	if code, _ := get(t, strings.Replace(dl, "X-Amz-Signature=", "X-Amz-Signature=0", 1)); code != 403 {
		t.Errorf("tampered presigned URL: %d, want 403", code)
	}
	// Node outputs need a file lookup for the key; File has one too.
	f := e.do("GET", "/api/v1/files/"+img["file_id"].(string), auth.RoleInspector, "", nil).json(t)
	if code, _ := get(t, f["download_url"].(string)); code != 200 {
		t.Errorf("file download_url: %d", code)
	}

	ttl = time.Second // a short-lived URL, to see MinIO refuse it afterwards
	short := e.do("GET", "/api/v1/records/rec-2", auth.RoleInspector, "", nil).json(t)["images"].([]any)[0].(map[string]any)["download_url"].(string)
	time.Sleep(2100 * time.Millisecond)
	if code, _ := get(t, short); code != 403 {
		t.Errorf("expired presigned URL: %d, want 403", code)
	}
}

func TestUIMount(t *testing.T) {
	e := newEnv(t, func(o *envOptions) {
		o.deps = func(d *Deps) { d.UI = ui.Handler(ui.Config{Mode: "cloud", EdgeURL: "http://127.0.0.1:8081"}) }
	})
	r := e.do("GET", "/ui-config.json", "", "", nil)
	if r.code != 200 || strings.TrimSpace(string(r.body)) != `{"mode":"cloud","edge_url":"http://127.0.0.1:8081"}` {
		t.Fatalf("ui-config: %d %s", r.code, r.body)
	}
	// The app (or, unbuilt, the 503 page) for client routes; no token needed.
	for _, p := range []string{"/", "/records/rec-1", "/dashboard"} {
		if r := e.do("GET", p, "", "", nil); r.code != 200 && r.code != 503 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			t.Errorf("GET %s: %d %s", p, r.code, r.header.Get("Content-Type"))
		}
	}
	// Server paths keep their problem 404s and 405s.
	for _, p := range []string{"/api/v1/nope", "/api", "/metrics/x", "/whep"} {
		expectProblem(t, e.do("GET", p, "", "", nil), 404)
	}
	expectProblem(t, e.do("POST", "/records", auth.RoleAdmin, "", nil), 404)
	if r := expectProblem(t, e.do("DELETE", "/api/v1/parts", auth.RoleAdmin, "", nil), 405); r["detail"] == nil {
		t.Error("405 without detail")
	}
	if r := e.do("GET", "/healthz", "", "", nil); r.code != 200 {
		t.Errorf("healthz: %d", r.code)
	}
	if r := e.do("GET", "/api/v1/parts", auth.RoleInspector, "", nil); r.code != 200 {
		t.Errorf("parts: %d", r.code)
	}
}
