package conductor

import (
	"context"
	"fmt"
	"testing"
	"time"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// benchNodes is the length of the chain the overhead benchmark runs.
const benchNodes = 4

// BenchmarkConductorOverhead measures what the conductor adds per node over
// calling a no-op part service directly over the same gRPC connection.
// Sub-benchmarks: direct (the sequential RPCs alone, the baseline), mem
// (conductor with in-memory store/bus/files), sqlite (the embedded default:
// SQLite, filesystem objects, NATS) writing every node change, with the
// default batching, and only at start and end, and frame (ProcessFrame). The metric ns/node
// is ns/op divided by the nodes; overhead = that minus direct's.
func BenchmarkConductorOverhead(b *testing.B) {
	var nodes, edges []string
	for i := range benchNodes {
		nodes = append(nodes, fmt.Sprintf("n%d:invert", i))
		if i > 0 {
			edges = append(edges, fmt.Sprintf("n%d>n%d", i-1, i))
		}
	}
	off := false
	perNode := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchNodes, "ns/node")
	}

	b.Run("direct", func(b *testing.B) {
		client := serveParts(b, newTestParts())
		ctx := context.Background()
		img := &ifcv1.Image{Data: tinyJPEG, Format: ifcv1.ImageFormat_IMAGE_FORMAT_JPEG}
		for b.Loop() {
			in := img
			for i := range benchNodes {
				resp, err := client.Process(ctx, &ifcv1.ProcessRequest{Part: "invert", Images: []*ifcv1.Image{in},
					NodeId: fmt.Sprint("n", i), EncodeOutput: i == benchNodes-1})
				if err != nil {
					b.Fatal(err)
				}
				in = resp.GetImage()
			}
		}
		perNode(b)
	})

	run := func(b *testing.B, c *Conductor, pipelineID, input string) {
		ctx := context.Background()
		for b.Loop() {
			ex, err := c.Submit(ctx, Request{PipelineID: pipelineID, Inputs: []string{input}})
			if err != nil {
				b.Fatal(err)
			}
			final, err := c.Wait(ctx, ex.GetExecutionId())
			if err != nil || final.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED {
				b.Fatalf("%v %v", final.GetStatus(), err)
			}
		}
		perNode(b)
	}

	b.Run("mem", func(b *testing.B) {
		h := newHarness(b, Config{PersistIntermediates: &off})
		run(b, h.c, h.addPipeline(b, "chain", nodes, edges...), "input")
	})

	for _, tc := range []struct {
		name     string
		interval int
	}{{"sqlite-every-change", 1}, {"sqlite-default", 0}, {"sqlite-start-end-only", -1}} {
		b.Run(tc.name, func(b *testing.B) {
			rs := newRealStack(b)
			parts := newTestParts()
			c, err := New(Config{PersistIntermediates: &off, NodeUpdateInterval: timeDuration(tc.interval)}, rs.deps(b, parts))
			if err != nil {
				b.Fatal(err)
			}
			ctx, stop := context.WithCancel(context.Background())
			ran := make(chan error, 1)
			go func() { ran <- c.Run(ctx) }()
			defer func() { stop(); <-ran }()
			in, err := rs.files.PutDerived(context.Background(), tinyJPEG, "image/jpeg", 8, 8, "bench")
			if err != nil {
				b.Fatal(err)
			}
			p, err := rs.meta.CreatePipelineVersion(context.Background(), "", buildDef(b, nodes, edges), "bench")
			if err != nil {
				b.Fatal(err)
			}
			run(b, c, p.GetId(), in.FileID)
		})
	}

	b.Run("frame", func(b *testing.B) {
		h := newHarness(b, Config{})
		p := &ifcv1.Pipeline{Id: "chain", Version: 1, Definition: buildDef(b, nodes, edges)}
		img := &ifcv1.Image{Data: tinyJPEG, Format: ifcv1.ImageFormat_IMAGE_FORMAT_JPEG}
		for b.Loop() {
			if _, err := h.c.ProcessFrame(context.Background(), p, img); err != nil {
				b.Fatal(err)
			}
		}
		perNode(b)
	})
}

func timeDuration(n int) (d time.Duration) { return time.Duration(n) }
