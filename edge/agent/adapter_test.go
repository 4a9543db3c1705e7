package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/edge/prefilter"
	"github.com/imageflowcanvas/ifc/edge/queue"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
	"github.com/imageflowcanvas/ifc/sync/sender"
)

var _ sender.Queue = senderQueue{}
var _ sender.Models = filterModels{}

func TestSenderQueueAdapter(t *testing.T) {
	ctx := context.Background()
	q, err := queue.Open(filepath.Join(t.TempDir(), "queue.db"), queue.Options{DeviceID: "edge-1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	t0 := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	save := func(res ifcv1.VerdictResult, at time.Time, img string) string {
		id := uuid.Must(uuid.NewV7()).String()
		sum := sha256.Sum256([]byte(img))
		v := &ifcv1.Verdict{Result: res}
		if res == ifcv1.VerdictResult_VERDICT_RESULT_NG {
			v.DefectType = "dent"
		}
		rec := &ifcv1.InspectionRecord{RecordId: id, DeviceId: "edge-1", ProductCode: "P", Inspector: "bob",
			CapturedAt: timestamppb.New(at), Verdict: v,
			Images: []*ifcv1.ImageRef{{Sha256: hex.EncodeToString(sum[:]), Size: int64(len(img)), ContentType: "image/jpeg"}}}
		if err := q.Save(ctx, rec, [][]byte{[]byte(img)}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	ok, ng := ifcv1.VerdictResult_VERDICT_RESULT_OK, ifcv1.VerdictResult_VERDICT_RESULT_NG
	oldOK := save(ok, t0, "old ok")
	newNG := save(ng, t0.Add(2*time.Minute), "new ng")
	oldNG := save(ng, t0.Add(time.Minute), "old ng")
	newOK := save(ok, t0.Add(3*time.Minute), "new ok")

	a := senderQueue{q}
	got, err := a.Pending(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{oldNG, newNG, oldOK, newOK}
	if len(got) != len(want) {
		t.Fatalf("Pending = %d items, want %d", len(got), len(want))
	}
	for i, p := range got {
		if p.RecordID != want[i] {
			t.Errorf("Pending[%d] = %s (%v), want %s: NG first, then oldest", i, p.RecordID, p.Result, want[i])
		}
		if p.Bytes <= 0 || p.CapturedAt.IsZero() {
			t.Errorf("Pending[%d] = %+v", i, p)
		}
	}
	if got[0].Result != ng || got[3].Result != ok {
		t.Errorf("results %v %v", got[0].Result, got[3].Result)
	}
	b, err := a.Backlog(ctx)
	if err != nil || b.Queued != 4 || b.QueuedBytes <= 0 || !b.Oldest.Equal(t0) {
		t.Errorf("Backlog = %+v, %v", b, err)
	}
	if err := a.MarkSynced(ctx, oldNG, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Pending(ctx, 1); len(got) != 1 || got[0].RecordID != newNG {
		t.Errorf("Pending after sync = %+v", got)
	}
	if b2, _ := a.Backlog(ctx); b2.Queued != 3 || b2.QueuedBytes >= b.QueuedBytes {
		t.Errorf("Backlog after sync = %+v", b2)
	}
}

func TestFilterModelsKeepsModelOnBadBundle(t *testing.T) {
	pf, err := prefilter.Open("", prefilter.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	notified := 0
	m := filterModels{pf: pf, notify: func() { notified++ }}
	name, version := m.Current()
	if name == "" || version == "" {
		t.Fatalf("Current = %q %q", name, version)
	}
	if err := m.Install(t.TempDir()); err == nil {
		t.Fatal("Install of an empty directory succeeded")
	}
	if n, v := m.Current(); n != name || v != version {
		t.Errorf("model changed to %s@%s after a failed install", n, v)
	}
	if notified != 1 {
		t.Errorf("notified %d times", notified)
	}
}
