package conductor

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/imageflowcanvas/ifc/cloud/events/natsbus"
	"github.com/imageflowcanvas/ifc/cloud/files"
	"github.com/imageflowcanvas/ifc/cloud/metadata/sqlitestore"
	"github.com/imageflowcanvas/ifc/cloud/objectstore/fsstore"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// realStack is the embedded default: SQLite, filesystem objects, the files
// service and an embedded NATS server.
type realStack struct {
	meta  *sqlitestore.Store
	files *files.Service
	bus   *natsbus.Bus
}

func newRealStack(tb testing.TB) *realStack {
	tb.Helper()
	dir := tb.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	meta, err := sqlitestore.New(context.Background(), filepath.Join(dir, "meta.db"), sqlitestore.Options{Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	objects, err := fsstore.New(filepath.Join(dir, "objects"))
	if err != nil {
		tb.Fatal(err)
	}
	fs, err := files.New(objects, meta, log, files.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := natsbus.StartEmbedded(context.Background(), natsbus.EmbeddedOptions{}, log)
	if err != nil {
		tb.Fatal(err)
	}
	bus, err := srv.Connect(log)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		bus.Close()
		srv.Close()
		objects.Close()
		meta.Close()
	})
	return &realStack{meta: meta, files: fs, bus: bus}
}

func (r *realStack) deps(tb testing.TB, parts *testParts) Deps {
	return Deps{
		Store:   r.meta,
		Files:   r.files,
		Events:  r.bus,
		Catalog: catalogForTests,
		Parts:   map[string]ifcv1.PartServiceClient{"test": serveParts(tb, parts)},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func TestThroughRealStores(t *testing.T) {
	rs := newRealStack(t)
	ctx := context.Background()
	parts := newTestParts()
	c, err := New(Config{}, rs.deps(t, parts))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- c.Run(runCtx) }()
	defer func() { stop(); <-ran }()

	var mu sync.Mutex
	var got []*ifcv1.ProgressEvent
	cancelSub, err := rs.bus.Subscribe(ctx, func(ev *ifcv1.ProgressEvent) {
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cancelSub()

	in, err := rs.files.Ingest(ctx, bytes.NewReader(tinyJPEG), files.IngestOptions{Filename: "in.jpg", CreatedBy: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := rs.meta.CreatePipelineVersion(ctx, "", buildDef(t, []string{"a:invert", "b:detect", "c:invert", "d:draw"},
		[]string{"a>b", "a>c", "c>d", "b>d"}), "tester")
	if err != nil {
		t.Fatal(err)
	}
	ex, err := c.Submit(ctx, Request{PipelineID: p.GetId(), Inputs: []string{in.FileID}, CreatedBy: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	final, err := c.Wait(wctx, ex.GetExecutionId())
	if err != nil {
		t.Fatal(err)
	}
	if final.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED {
		t.Fatalf("status %v: %s", final.GetStatus(), final.GetError())
	}
	stored, err := rs.meta.GetExecution(ctx, ex.GetExecutionId())
	if err != nil || stored.GetStatus() != final.GetStatus() {
		t.Fatalf("stored %v (%v)", stored.GetStatus(), err)
	}
	for _, ns := range stored.GetNodes() {
		rc, f, err := rs.files.Open(ctx, ns.GetOutputs().GetFileId())
		if err != nil {
			t.Fatalf("node %s output: %v", ns.GetNodeId(), err)
		}
		rc.Close()
		if f.ContentType != "image/jpeg" || f.Width != 8 || f.CreatedBy != "tester" {
			t.Errorf("node %s output file %+v", ns.GetNodeId(), f)
		}
	}
	if d := nodeStatus(stored, "b").GetOutputs().GetDetections(); len(d) != 1 {
		t.Errorf("stored detections of b = %v", d)
	}
	var evs []*ifcv1.ProgressEvent
	waitFor(t, "the terminal event over NATS", func() bool {
		mu.Lock()
		defer mu.Unlock()
		evs = nil
		for _, ev := range got {
			if ev.GetExecutionId() == ex.GetExecutionId() {
				evs = append(evs, ev)
			}
		}
		return len(evs) > 0 && evs[len(evs)-1].GetExecutionStatus() == ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED && evs[len(evs)-1].GetNodeId() == ""
	})
	checkEvents(t, evs, final)
}
