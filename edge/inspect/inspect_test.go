package inspect_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/imageflowcanvas/ifc/edge/inspect"
	"github.com/imageflowcanvas/ifc/edge/queue"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

func TestWorkflow(t *testing.T) {
	e := newEnv(t)

	r := e.do("GET", "/api/v1/products", "", nil)
	var products inspect.ProductListJSON
	r.decode(t, &products)
	if r.code != 200 || len(products.Products) != 1 || products.Products[0].Code != "DEMO-PART" ||
		len(products.Products[0].DefectTypes) != 2 || len(products.Products[0].Items) != 1 {
		t.Fatalf("products: %d %s", r.code, r.body)
	}
	if r := e.do("GET", "/api/v1/products/DEMO-PART", "", nil); r.code != 200 {
		t.Fatalf("product: %d %s", r.code, r.body)
	}

	sess := e.session()
	if sess.MasterVersion != 3 || sess.Inspector != "alice" {
		t.Fatalf("session %+v", sess)
	}
	c := e.capture(sess.SessionID)
	if c.Prefilter.ModelName != "prefilter" || c.Prefilter.ModelVersion == "" || c.Prefilter.Threshold != 0.3 ||
		c.Width != 640 || c.Height != 480 || c.ContentType != "image/jpeg" {
		t.Fatalf("capture %+v", c)
	}
	if (c.Prefilter.Score >= 0.3) != c.Prefilter.Suspect {
		t.Errorf("label does not follow the master's threshold: %+v", c.Prefilter)
	}
	img := e.do("GET", c.ImageURL, "", nil)
	if img.code != 200 || img.hdr.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("preview: %d", img.code)
	}
	if _, err := jpeg.Decode(bytes.NewReader(img.body)); err != nil {
		t.Fatalf("preview is not a JPEG: %v", err)
	}
	if sum := sha256.Sum256(img.body); hex.EncodeToString(sum[:]) != c.ImageSHA256 {
		t.Fatal("preview bytes do not match image_sha256")
	}

	if st := e.stats(); st.Records != 0 {
		t.Fatalf("a capture alone stored something: %+v", st)
	}
	verdict := inspect.VerdictRequest{Result: "NG", DefectType: "scratch", Note: "long scratch near the left edge"}
	r = e.postJSON("/api/v1/captures/"+c.CaptureID+"/verdict", verdict)
	if r.code != http.StatusCreated {
		t.Fatalf("verdict: %d %s", r.code, r.body)
	}
	var saved inspect.SavedJSON
	r.decode(t, &saved)
	if !saved.Saved || saved.Record.RecordID != c.CaptureID {
		t.Fatalf("saved %+v", saved)
	}

	// Durable in the queue, with everything the record must carry.
	rec, err := e.q.Get(context.Background(), c.CaptureID)
	if err != nil {
		t.Fatal(err)
	}
	want := &ifcv1.InspectionRecord{}
	_ = want
	if rec.GetDeviceId() != testDevice || rec.GetLine() != "line-1" || rec.GetProductCode() != "DEMO-PART" ||
		rec.GetLot() != "L1" || rec.GetSerial() != "S1" || rec.GetInspector() != "alice" ||
		rec.GetMasterVersion() != 3 || rec.GetPipelineId() != "standard" || rec.GetPipelineVersion() != 1 ||
		rec.GetModelVersion() != "prefilter@"+c.Prefilter.ModelVersion ||
		rec.GetVerdict().GetResult() != ifcv1.VerdictResult_VERDICT_RESULT_NG || rec.GetVerdict().GetDefectType() != "scratch" ||
		rec.GetVerdict().GetNote() != verdict.Note || rec.GetVerdict().GetDecidedAt() == nil ||
		len(rec.GetImages()) != 1 || rec.GetImages()[0].GetSha256() != c.ImageSHA256 ||
		rec.GetPrefilter().GetScore() != c.Prefilter.Score || rec.GetPrefilter().GetModelVersion() != c.Prefilter.ModelVersion {
		t.Fatalf("stored record %v", rec)
	}
	stored, err := e.q.Image(context.Background(), c.ImageSHA256)
	if err != nil || !bytes.Equal(stored, img.body) {
		t.Fatalf("stored image differs from the preview: %v", err)
	}

	// A retried submit is idempotent; a different verdict is refused.
	r = e.postJSON("/api/v1/captures/"+c.CaptureID+"/verdict", verdict)
	r.decode(t, &saved)
	if r.code != http.StatusOK || !saved.Duplicate {
		t.Fatalf("repeat: %d %s", r.code, r.body)
	}
	r = e.postJSON("/api/v1/captures/"+c.CaptureID+"/verdict", inspect.VerdictRequest{Result: "OK"})
	if r.code != http.StatusConflict {
		t.Fatalf("changed verdict: %d %s", r.code, r.body)
	}
	if st := e.stats(); st.Records != 1 || st.Queued != 1 {
		t.Fatalf("stats %+v", st)
	}
	// The preview is now served from the queue.
	if r := e.do("GET", c.ImageURL, "", nil); r.code != 200 || !bytes.Equal(r.body, img.body) {
		t.Fatalf("preview after save: %d", r.code)
	}

	// OK with a per-part serial; a capture request may carry an empty JSON object.
	r = e.do("POST", "/api/v1/sessions/"+sess.SessionID+"/captures", "application/json", []byte("{}"))
	if r.code != http.StatusCreated {
		t.Fatalf("capture with {}: %d %s", r.code, r.body)
	}
	var c2 inspect.CaptureJSON
	r.decode(t, &c2)
	serial := "S2"
	if r := e.postJSON("/api/v1/captures/"+c2.CaptureID+"/verdict", inspect.VerdictRequest{Result: "OK", Serial: &serial}); r.code != 201 {
		t.Fatalf("ok verdict: %d %s", r.code, r.body)
	}

	// History, newest first, filterable.
	var h inspect.HistoryJSON
	e.do("GET", "/api/v1/records", "", nil).decode(t, &h)
	if len(h.Records) != 2 || h.Records[0].RecordID != c2.CaptureID || h.Records[0].Serial != "S2" || h.Records[1].Verdict.Result != "NG" {
		t.Fatalf("history %+v", h)
	}
	e.do("GET", "/api/v1/records?result=NG", "", nil).decode(t, &h)
	if len(h.Records) != 1 || h.Records[0].RecordID != c.CaptureID {
		t.Fatalf("NG history %+v", h)
	}
	var one inspect.RecordJSON
	if r := e.do("GET", "/api/v1/records/"+c.CaptureID, "", nil); r.code != 200 {
		t.Fatalf("record: %d", r.code)
	} else {
		r.decode(t, &one)
	}
	if r := e.do("GET", one.ImageURL, "", nil); r.code != 200 || !bytes.Equal(r.body, img.body) {
		t.Fatalf("record image: %d", r.code)
	}

	var status inspect.StatusJSON
	e.do("GET", "/api/v1/status", "", nil).decode(t, &status)
	if status.Queued != 2 || status.OldestQueuedAt == nil || !status.CaptureAllowed || status.Model.Name != "prefilter" || status.DeviceID != testDevice {
		t.Fatalf("status %+v", status)
	}
	var sj inspect.SessionJSON
	e.do("GET", "/api/v1/sessions/"+sess.SessionID, "", nil).decode(t, &sj)
	if sj.Captures != 2 || sj.Saved != 2 {
		t.Fatalf("session counts %+v", sj)
	}
}

// TestBadInput: each bad input gets a clear 4xx/5xx problem and leaves the
// queue file byte-for-byte unchanged.
func TestBadInput(t *testing.T) {
	t.Run("invalid verdict payload", func(t *testing.T) {
		e := newEnv(t)
		sess := e.session()
		c := e.capture(sess.SessionID)
		before := e.snapshot()
		long := strings.Repeat("x", queue.MaxNoteLen+1)
		for _, tc := range []struct {
			name, body, field, detail string
			code                      int
		}{
			{"empty body", ``, "", "empty", 422},
			{"malformed JSON", `{"result":`, "", "malformed", 422},
			{"unknown field", `{"result":"OK","verdict":"OK"}`, "", "unknown field", 422},
			{"wrong type", `{"result":1}`, "result", "want string", 422},
			{"missing result", `{"note":"x"}`, "result", "required", 422},
			{"unknown result", `{"result":"MAYBE"}`, "result", `want "OK" or "NG"`, 422},
			{"lower-case result", `{"result":"ok"}`, "result", `want "OK" or "NG"`, 422},
			{"NG without defect", `{"result":"NG"}`, "defect_type", "needs a defect_type", 422},
			{"NG unknown defect", `{"result":"NG","defect_type":"rust"}`, "defect_type", `"rust" is not defined`, 422},
			{"OK with defect", `{"result":"OK","defect_type":"scratch"}`, "defect_type", "takes no defect_type", 422},
			{"note too long", `{"result":"OK","note":"` + long + `"}`, "note", "limit", 422},
			{"trailing data", `{"result":"OK"} {}`, "", "trailing", 422},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do("POST", "/api/v1/captures/"+c.CaptureID+"/verdict", "application/json", []byte(tc.body))
				if r.code != tc.code {
					t.Fatalf("code %d, want %d: %s", r.code, tc.code, r.body)
				}
				p := r.problem(t)
				if p.Field != tc.field || !strings.Contains(p.Detail, tc.detail) {
					t.Errorf("problem %+v, want field %q and %q in detail", p, tc.field, tc.detail)
				}
			})
		}
		if r := e.do("POST", "/api/v1/captures/"+c.CaptureID+"/verdict", "text/plain", []byte(`{"result":"OK"}`)); r.code != 415 {
			t.Errorf("text/plain verdict: %d", r.code)
		}
		if r := e.do("POST", "/api/v1/captures/"+c.CaptureID+"/verdict", "application/json", bytes.Repeat([]byte(" "), 70<<10)); r.code != 413 {
			t.Errorf("huge verdict body: %d", r.code)
		}
		if r := e.postJSON("/api/v1/captures/0190f0e0-0000-7000-8000-000000000000/verdict", inspect.VerdictRequest{Result: "OK"}); r.code != 404 {
			t.Errorf("unknown capture: %d", r.code)
		}
		if !bytes.Equal(before, e.snapshot()) {
			t.Fatal("a refused verdict changed the queue")
		}
		// The capture is still usable after all those refusals.
		if r := e.postJSON("/api/v1/captures/"+c.CaptureID+"/verdict", inspect.VerdictRequest{Result: "OK"}); r.code != 201 {
			t.Fatalf("valid verdict after refusals: %d %s", r.code, r.body)
		}
	})

	t.Run("oversized image", func(t *testing.T) {
		e := newEnv(t, func(o *inspect.Options, _ *queue.Options) { o.MaxImageBytes = 20 << 10 })
		e.cam.w, e.cam.h = 1280, 720 // its JPEG is far above 20 KiB
		sess := e.session()
		before := e.snapshot()
		r := e.do("POST", "/api/v1/sessions/"+sess.SessionID+"/captures", "", nil)
		if r.code != http.StatusRequestEntityTooLarge {
			t.Fatalf("camera still: %d %s", r.code, r.body)
		}
		if p := r.problem(t); p.Type != inspect.ProblemTooLarge || !strings.Contains(p.Detail, "max_image_bytes") {
			t.Errorf("problem %+v", p)
		}
		var big bytes.Buffer
		if err := jpeg.Encode(&big, synthImage(t, 1280, 720), &jpeg.Options{Quality: 95}); err != nil {
			t.Fatal(err)
		}
		r = e.do("POST", "/api/v1/sessions/"+sess.SessionID+"/captures", "image/jpeg", big.Bytes())
		if r.code != http.StatusRequestEntityTooLarge {
			t.Fatalf("upload: %d %s", r.code, r.body)
		}
		if !bytes.Equal(before, e.snapshot()) {
			t.Fatal("an oversized image changed the queue")
		}
	})

	t.Run("upload", func(t *testing.T) {
		e := newEnv(t)
		sess := e.session()
		var small bytes.Buffer
		if err := jpeg.Encode(&small, synthImage(t, 320, 320), nil); err != nil {
			t.Fatal(err)
		}
		before := e.snapshot()
		for _, tc := range []struct {
			name  string
			ctype string
			body  []byte
			code  int
		}{
			{"not an image", "image/jpeg", []byte("hello, not a picture at all"), 415},
			{"truncated JPEG", "image/jpeg", small.Bytes()[:200], 422},
			{"simple cross-origin type", "text/plain", small.Bytes(), 415},
		} {
			if r := e.do("POST", "/api/v1/sessions/"+sess.SessionID+"/captures", tc.ctype, tc.body); r.code != tc.code {
				t.Errorf("%s: %d %s", tc.name, r.code, r.body)
			}
		}
		if !bytes.Equal(before, e.snapshot()) {
			t.Fatal("a bad upload changed the queue")
		}
		r := e.do("POST", "/api/v1/sessions/"+sess.SessionID+"/captures", "image/jpeg", small.Bytes())
		if r.code != 201 {
			t.Fatalf("good upload: %d %s", r.code, r.body)
		}
		var c inspect.CaptureJSON
		r.decode(t, &c)
		if c.Width != 320 || c.ContentType != "image/jpeg" {
			t.Fatalf("upload capture %+v", c)
		}
		if r := e.postJSON("/api/v1/captures/"+c.CaptureID+"/verdict", inspect.VerdictRequest{Result: "OK"}); r.code != 201 {
			t.Fatalf("verdict on upload: %d %s", r.code, r.body)
		}
	})

	t.Run("unknown product", func(t *testing.T) {
		e := newEnv(t)
		before := e.snapshot()
		r := e.postJSON("/api/v1/sessions", inspect.SessionRequest{ProductCode: "NOPE-1", Inspector: "alice"})
		if r.code != http.StatusUnprocessableEntity {
			t.Fatalf("code %d: %s", r.code, r.body)
		}
		if p := r.problem(t); p.Field != "product_code" || !strings.Contains(p.Detail, `unknown product "NOPE-1"`) {
			t.Errorf("problem %+v", p)
		}
		if r := e.postJSON("/api/v1/sessions", inspect.SessionRequest{ProductCode: "DEMO-PART"}); r.code != 422 || r.problem(t).Field != "inspector" {
			t.Errorf("missing inspector: %d %s", r.code, r.body)
		}
		if r := e.do("GET", "/api/v1/products/NOPE-1", "", nil); r.code != 404 {
			t.Errorf("unknown product GET: %d", r.code)
		}
		if !bytes.Equal(before, e.snapshot()) {
			t.Fatal("an unknown product changed the queue")
		}
	})

	t.Run("missing camera", func(t *testing.T) {
		e := newEnv(t)
		sess := e.session()
		e.cam.set(fmt.Errorf("still: %w: %v", inspect.ErrNoCamera, errUnplugged))
		before := e.snapshot()
		r := e.do("POST", "/api/v1/sessions/"+sess.SessionID+"/captures", "", nil)
		if r.code != http.StatusServiceUnavailable {
			t.Fatalf("code %d: %s", r.code, r.body)
		}
		if p := r.problem(t); p.Type != inspect.ProblemNoCamera || !strings.Contains(p.Detail, "disappeared") || !strings.Contains(p.Detail, "plugged in") {
			t.Errorf("problem %+v", p)
		}
		if !bytes.Equal(before, e.snapshot()) {
			t.Fatal("a missing camera changed the queue")
		}
		e.cam.set(nil) // plugged back in
		e.capture(sess.SessionID)
	})

	t.Run("disk full", func(t *testing.T) {
		e := newEnv(t, func(_ *inspect.Options, q *queue.Options) { q.HardLimitBytes = 64 << 10 })
		sess := e.session()
		// Fill the budget with unsynced records until a capture is refused.
		var refused inspect.Problem
		for i := 0; ; i++ {
			if i > 50 {
				t.Fatal("never refused")
			}
			r := e.do("POST", "/api/v1/sessions/"+sess.SessionID+"/captures", "", nil)
			if r.code == http.StatusInsufficientStorage {
				refused = r.problem(t)
				break
			}
			if r.code != 201 {
				t.Fatalf("capture %d: %d %s", i, r.code, r.body)
			}
			var c inspect.CaptureJSON
			r.decode(t, &c)
			if r := e.postJSON("/api/v1/captures/"+c.CaptureID+"/verdict", inspect.VerdictRequest{Result: "OK"}); r.code != 201 {
				if r.code == http.StatusInsufficientStorage {
					refused = r.problem(t)
					break
				}
				t.Fatalf("verdict %d: %d %s", i, r.code, r.body)
			}
		}
		if refused.Type != inspect.ProblemDiskFull || !strings.Contains(refused.Detail, "unsynced records waiting for the network") {
			t.Errorf("problem %+v", refused)
		}
		var status inspect.StatusJSON
		e.do("GET", "/api/v1/status", "", nil).decode(t, &status)
		if status.CaptureAllowed && status.BudgetBytes < status.HardLimitBytes-(20<<10) {
			t.Logf("status %+v", status)
		}
	})
}

func TestWebSocketPushesStatus(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, strings.Replace(e.http.URL, "http", "ws", 1)+"/api/v1/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	next := func() inspect.StatusJSON {
		t.Helper()
		_, data, err := conn.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var m inspect.WSMessage
		if err := json.Unmarshal(data, &m); err != nil || m.Type != "status" || m.Status == nil {
			t.Fatalf("message %s: %v", data, err)
		}
		return *m.Status
	}
	if st := next(); st.Queued != 0 || st.DeviceID != testDevice {
		t.Fatalf("first status %+v", st)
	}
	sess := e.session()
	c := e.capture(sess.SessionID)
	start := time.Now()
	if r := e.postJSON("/api/v1/captures/"+c.CaptureID+"/verdict", inspect.VerdictRequest{Result: "OK"}); r.code != 201 {
		t.Fatal(r.code)
	}
	for {
		st := next()
		if st.Queued == 1 {
			t.Logf("status pushed %v after the save", time.Since(start))
			if st.OldestQueuedAt == nil {
				t.Error("oldest_queued_at missing")
			}
			break
		}
	}
	// Sync marking the record synced is pushed too, and so is its last error.
	e.srv.SetSync(fakeSync{st: inspect.SyncState{LastError: "dial cloud: connection refused", LastErrorAt: time.Now()}})
	for {
		if st := next(); st.SyncRunning && st.LastError == "dial cloud: connection refused" && st.LastErrorAt != nil {
			break
		}
	}
	if err := e.q.MarkSynced(ctx, c.CaptureID, time.Now()); err != nil {
		t.Fatal(err)
	}
	e.srv.Notify()
	for {
		if st := next(); st.Queued == 0 && st.LastSync != nil {
			break
		}
	}
}

func TestSessionAndCaptureNotFound(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/api/v1/sessions/nope", "/api/v1/captures/nope/image", "/api/v1/records/nope", "/api/v1/records/nope/image"} {
		if r := e.do("GET", p, "", nil); r.code != 404 || r.problem(t).Type != inspect.ProblemNotFound {
			t.Errorf("%s: %d %s", p, r.code, r.body)
		}
	}
	if r := e.do("POST", "/api/v1/sessions/nope/captures", "", nil); r.code != 404 {
		t.Errorf("capture in unknown session: %d", r.code)
	}
	if r := e.do("GET", "/api/v1/records?limit=0", "", nil); r.code != 422 {
		t.Errorf("limit=0: %d", r.code)
	}
	if r := e.do("GET", "/api/v1/records?cursor=!!notbase64", "", nil); r.code != 422 {
		t.Errorf("bad cursor: %d %s", r.code, r.body)
	}
}

type fakeSync struct {
	st   inspect.SyncState
	nows *atomic.Int32 // counts SyncNow calls when set
}

func (f fakeSync) SyncState() inspect.SyncState { return f.st }

func (f fakeSync) SyncNow() {
	if f.nows != nil {
		f.nows.Add(1)
	}
}
