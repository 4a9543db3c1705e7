package agent_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imageflowcanvas/ifc/edge/inspect"
	"github.com/imageflowcanvas/ifc/edge/queue"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

var (
	crashKills = flag.Int("edge.kills", 10, "crash test: number of SIGKILLs of the agent child")
	crashSeed  = flag.Uint64("edge.seed", 1, "crash test: seed for kill points and verdicts")
)

// child is an agent running in a re-executed test binary.
type child struct {
	cmd  *exec.Cmd
	addr string
	done chan error
}

// startChild starts an agent on dataDir and waits until it is ready.
func startChild(t testing.TB, dataDir, camera string, extraEnv ...string) *child {
	t.Helper()
	_ = os.Remove(filepath.Join(dataDir, "addr"))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", childDataEnv+"="+dataDir, childCameraEnv+"="+camera)
	cmd.Env = append(cmd.Env, extraEnv...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dataDir, "addr"))
		if err == nil {
			c.addr = string(b)
			break
		}
		select {
		case err := <-c.done:
			t.Fatalf("child exited before listening: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			c.kill()
			t.Fatalf("child did not start:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := newClient(t, c.addr).waitReady(30 * time.Second); err != nil {
		c.kill()
		t.Fatalf("child not ready: %v\n%s", err, stderr.String())
	}
	return c
}

// kill SIGKILLs the child and reaps it.
func (c *child) kill() {
	_ = c.cmd.Process.Kill()
	<-c.done
}

// retry is a verdict submission whose answer was lost.
type retry struct {
	captureID string
	body      []byte
}

// expected is what a 201 answer promised.
type expected struct {
	rec inspect.RecordJSON
}

// TestCrashSafety SIGKILLs the agent at random points during bursts of
// verdict submissions and checks, after every kill, that every submission
// answered 201 "saved" is in the queue, intact, with its image, and that
// the bbolt file passes its consistency check. Each round restarts the agent
// on the same data directory, so recovery after a kill is exercised too.
//
//	go test -run TestCrashSafety ./edge/agent -edge.kills 200 -edge.seed 7
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test re-executes the agent; skipped with -short")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(*crashSeed, 0x1fc))
	var (
		mu        sync.Mutex
		saved     = map[string]expected{}
		attempted atomic.Int64 // verdict submissions sent
		unknown   atomic.Int64 // submissions whose answer was lost to the kill
		lost      []retry      // those submissions, retried after the restart
		retried   = map[int]int{}
	)
	defects := []string{"scratch", "dent", "crack", "stain", "missing", "other"}
	for k := 0; k < *crashKills; k++ {
		ch := startChild(t, dir, "synthetic:?width=640&height=480&fps=15")
		c := newClient(t, ch.addr)
		c.hc.Timeout = 10 * time.Second
		// A client retrying a submission whose answer the kill swallowed gets
		// 200 "already saved" or 404 "capture again" — never a second record.
		for _, l := range lost {
			code, body, err := c.do("POST", "/api/v1/captures/"+l.captureID+"/verdict", "application/json", l.body)
			if err != nil {
				t.Fatal(err)
			}
			retried[code]++
			switch code {
			case 200:
				var s inspect.SavedJSON
				if err := json.Unmarshal(body, &s); err != nil || !s.Duplicate || s.Record.RecordID != l.captureID {
					t.Fatalf("retry answer %s: %v", body, err)
				}
				saved[s.Record.RecordID] = expected{rec: s.Record}
			case 404:
			default:
				t.Fatalf("retry after restart: %d %s", code, body)
			}
		}
		lost = nil
		var sess inspect.SessionJSON
		c.must("POST", "/api/v1/sessions", inspect.SessionRequest{ProductCode: "DEMO-PART", Lot: "lot-" + strconv.Itoa(k), Inspector: "crash"}, 201, &sess)

		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 3 {
			seed := rng.Uint64()
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(seed, uint64(w)))
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					code, body, err := c.do("POST", "/api/v1/sessions/"+sess.SessionID+"/captures", "", nil)
					if err != nil || code != 201 {
						return // killed
					}
					var capt inspect.CaptureJSON
					if err := json.Unmarshal(body, &capt); err != nil {
						t.Errorf("capture answer: %v", err)
						return
					}
					req := inspect.VerdictRequest{Result: "OK", Note: fmt.Sprintf("round %d worker %d part %d", k, w, i)}
					if r.IntN(3) == 0 {
						req.Result, req.DefectType = "NG", defects[r.IntN(len(defects))]
					}
					serial := fmt.Sprintf("SN-%d-%d-%d", k, w, i)
					req.Serial = &serial
					b, _ := json.Marshal(req)
					attempted.Add(1)
					code, body, err = c.do("POST", "/api/v1/captures/"+capt.CaptureID+"/verdict", "application/json", b)
					if err != nil {
						unknown.Add(1) // the kill landed while saving or answering
						mu.Lock()
						lost = append(lost, retry{captureID: capt.CaptureID, body: b})
						mu.Unlock()
						return
					}
					if code != 201 {
						t.Errorf("verdict: %d %s", code, body)
						return
					}
					var s inspect.SavedJSON
					if err := json.Unmarshal(body, &s); err != nil || !s.Saved {
						t.Errorf("saved answer %s: %v", body, err)
						return
					}
					if s.Record.Images[0].SHA256 != capt.ImageSHA256 || s.Record.Serial != serial || s.Record.Verdict.Result != req.Result {
						t.Errorf("answer does not match the submission: %+v", s.Record)
					}
					mu.Lock()
					saved[s.Record.RecordID] = expected{rec: s.Record}
					mu.Unlock()
				}
			}()
		}
		time.Sleep(time.Duration(20+rng.IntN(480)) * time.Millisecond)
		ch.kill()
		close(stop)
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		verifyQueue(t, filepath.Join(dir, "queue.db"), saved, attempted.Load())
	}
	t.Logf("%d SIGKILLs, %d verdicts answered saved and verified intact after every kill; %d submissions cut by a kill, retried after restart: %d answered 200 (had been saved), %d answered 404 (had not)",
		*crashKills, len(saved), unknown.Load(), retried[200], retried[404])

	// The agent still starts and serves every record after the last kill,
	// and the last round's cut submissions resolve on retry.
	ch := startChild(t, dir, "synthetic:?width=640&height=480&fps=15")
	defer ch.kill()
	c := newClient(t, ch.addr)
	for _, l := range lost {
		code, body, err := c.do("POST", "/api/v1/captures/"+l.captureID+"/verdict", "application/json", l.body)
		if err != nil || (code != 200 && code != 404) {
			t.Fatalf("retry after the last restart: %d %s %v", code, body, err)
		}
	}
	ids := make([]string, 0, len(saved))
	for id := range saved {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids[:min(len(ids), 50)] {
		var got inspect.RecordJSON
		c.must("GET", "/api/v1/records/"+id, nil, 200, &got)
		w := saved[id].rec.Verdict
		if got.Verdict.Result != w.Result || got.Verdict.DefectType != w.DefectType || got.Verdict.Note != w.Note ||
			got.Verdict.DecidedAt == nil || !got.Verdict.DecidedAt.Equal(*w.DecidedAt) {
			t.Errorf("record %s over HTTP: %+v", id, got.Verdict)
		}
	}
}

// verifyQueue opens the queue file of a killed agent and checks every saved record.
func verifyQueue(t *testing.T, path string, saved map[string]expected, attempted int64) {
	t.Helper()
	ctx := context.Background()
	q, err := queue.Open(path, queue.Options{Logger: quiet()})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer q.Close()
	if err := q.Check(ctx); err != nil {
		t.Fatalf("bbolt check after kill: %v", err)
	}
	for id, want := range saved {
		rec, err := q.Get(ctx, id)
		if err != nil {
			t.Fatalf("record %s answered 201 but is missing after the kill: %v", id, err)
		}
		w := want.rec
		res := map[string]ifcv1.VerdictResult{"OK": ifcv1.VerdictResult_VERDICT_RESULT_OK, "NG": ifcv1.VerdictResult_VERDICT_RESULT_NG}[w.Verdict.Result]
		if rec.GetVerdict().GetResult() != res || rec.GetVerdict().GetDefectType() != w.Verdict.DefectType ||
			rec.GetVerdict().GetNote() != w.Verdict.Note || rec.GetSerial() != w.Serial || rec.GetLot() != w.Lot ||
			rec.GetDeviceId() != w.DeviceID || len(rec.GetImages()) != 1 || rec.GetImages()[0].GetSha256() != w.Images[0].SHA256 ||
			rec.GetImages()[0].GetSize() != w.Images[0].Size || rec.GetPrefilter().GetScore() != w.Prefilter.Score {
			t.Fatalf("record %s differs from what was answered:\nstored %v\nanswer %+v", id, rec, w)
		}
		img, err := q.Image(ctx, w.Images[0].SHA256) // re-verified against the sha256
		if err != nil || int64(len(img)) != w.Images[0].Size {
			t.Fatalf("image of %s: %v", id, err)
		}
	}
	st, err := q.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Records < int64(len(saved)) || st.Records > attempted {
		t.Fatalf("queue holds %d records; %d were answered saved and %d submitted", st.Records, len(saved), attempted)
	}
}
