package queue_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/edge/queue"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

const testDevice = "edge-line1-01"

var (
	ok = ifcv1.VerdictResult_VERDICT_RESULT_OK
	ng = ifcv1.VerdictResult_VERDICT_RESULT_NG
	t0 = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) == "1" {
		os.Exit(crashChild())
	}
	goleak.VerifyTestMain(m)
}

// clock is an injected, manually advanced clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// open opens a fresh queue in t.TempDir and closes it (after a Check) at cleanup.
func open(t testing.TB, opts queue.Options) (*queue.Queue, *clock) {
	t.Helper()
	clk := &clock{t: t0.Add(time.Hour)}
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	if opts.DeviceID == "" {
		opts.DeviceID = testDevice
	}
	q, err := queue.Open(filepath.Join(t.TempDir(), "queue.db"), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if tt, isT := t.(*testing.T); !isT || !tt.Failed() {
			if err := q.Check(context.Background()); err != nil {
				t.Errorf("Check at cleanup: %v", err)
			}
		}
		if err := q.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return q, clk
}

// gen makes deterministic records and images.
type gen struct {
	src *rand.ChaCha8
	rng *rand.Rand
}

func newGen(seed uint64) *gen {
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	src := rand.NewChaCha8(s)
	return &gen{src: src, rng: rand.New(src)}
}

func (g *gen) id() string {
	id, err := uuid.NewV7FromReader(g.src)
	if err != nil {
		panic(err)
	}
	return id.String()
}

func (g *gen) bytes(n int) []byte {
	b := make([]byte, n)
	_, _ = g.src.Read(b)
	return b
}

// record returns a valid record with one image per size.
func (g *gen) record(result ifcv1.VerdictResult, captured time.Time, sizes ...int) (*ifcv1.InspectionRecord, [][]byte) {
	if len(sizes) == 0 {
		sizes = []int{1000}
	}
	rec := &ifcv1.InspectionRecord{
		RecordId:    g.id(),
		DeviceId:    testDevice,
		Line:        "line-1",
		ProductCode: "P-100",
		Lot:         "LOT-7",
		Serial:      "S-" + g.id()[:8],
		Inspector:   "yamada",
		CapturedAt:  timestamppb.New(captured),
		Prefilter: &ifcv1.PrefilterResult{
			Score: 0.12, Label: "ok", ModelName: "prefilter", ModelVersion: "1.0.0", Threshold: 0.5,
		},
		Verdict:         &ifcv1.Verdict{Result: result, DecidedAt: timestamppb.New(captured.Add(time.Second))},
		MasterVersion:   3,
		PipelineId:      "standard",
		PipelineVersion: 2,
		ModelVersion:    "1.0.0",
	}
	if result == ng {
		rec.Verdict.DefectType = "scratch"
		rec.Verdict.Note = "left edge"
	}
	images := make([][]byte, len(sizes))
	for i, n := range sizes {
		images[i] = g.bytes(n)
		sum := sha256.Sum256(images[i])
		rec.Images = append(rec.Images, &ifcv1.ImageRef{
			Sha256: hex.EncodeToString(sum[:]), Size: int64(n), ContentType: "image/jpeg", Width: 1920, Height: 1080,
		})
	}
	return rec, images
}

func digest(t testing.TB, q *queue.Queue) string {
	t.Helper()
	d, err := queue.Digest(q)
	if err != nil {
		t.Fatalf("Digest: %v", err)
	}
	return d
}

func mustSave(t testing.TB, q *queue.Queue, rec *ifcv1.InspectionRecord, images [][]byte) {
	t.Helper()
	if err := q.Save(context.Background(), rec, images); err != nil {
		t.Fatalf("Save %s: %v", rec.GetRecordId(), err)
	}
}

func mustCheck(t testing.TB, q *queue.Queue) {
	t.Helper()
	if err := q.Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}
}

func pendingIDs(t testing.TB, q *queue.Queue) []string {
	t.Helper()
	items, err := q.Pending(context.Background(), 1000)
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.RecordID
	}
	return ids
}

// override returns a valid edge override of rec to the opposite verdict.
func (g *gen) override(rec *ifcv1.InspectionRecord, at time.Time) *ifcv1.VerdictOverride {
	v := &ifcv1.Verdict{Result: ng, DefectType: "dent", Note: "seen under the lamp"}
	if rec.GetVerdict().GetResult() == ng {
		v = &ifcv1.Verdict{Result: ok}
	}
	return &ifcv1.VerdictOverride{
		OverrideId: g.id(), RecordId: rec.GetRecordId(), Actor: "suzuki", Reason: "second look",
		Verdict: v, At: timestamppb.New(at), Origin: ifcv1.VerdictOrigin_VERDICT_ORIGIN_EDGE, DeviceId: testDevice,
	}
}
