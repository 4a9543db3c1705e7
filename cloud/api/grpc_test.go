package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/imageflowcanvas/ifc/cloud/auth"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

func TestGRPCExecute(t *testing.T) {
	e := newEnv(t)
	e.cond.autoFinish = true
	pid := e.createPipeline()
	cl := ifcv1.NewPipelineServiceClient(e.grpc)
	ctx := e.grpcCtx(auth.RoleInspector)
	res, err := cl.Execute(ctx, &ifcv1.ExecuteRequest{PipelineId: pid, Input: &ifcv1.ExecuteRequest_Image{Image: testJPEG(t, 32, 24)}, CorrelationId: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	ex := res.GetExecution()
	if ex.GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED || len(ex.GetInputs()) != 1 || ex.GetCreatedBy() != "inspector-user" {
		t.Fatalf("execution %v", ex)
	}
	res, err = cl.Execute(ctx, &ifcv1.ExecuteRequest{PipelineId: pid, Input: &ifcv1.ExecuteRequest_FileId{FileId: ex.GetInputs()[0]}})
	if err != nil || res.GetExecution().GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED {
		t.Fatalf("by file id: %v %v", res, err)
	}

	cases := []struct {
		name string
		ctx  context.Context
		req  *ifcv1.ExecuteRequest
		code codes.Code
	}{
		{"missing token", context.Background(), &ifcv1.ExecuteRequest{PipelineId: pid}, codes.Unauthenticated},
		{"no input", ctx, &ifcv1.ExecuteRequest{PipelineId: pid}, codes.InvalidArgument},
		{"no pipeline", ctx, &ifcv1.ExecuteRequest{Input: &ifcv1.ExecuteRequest_FileId{FileId: "f"}}, codes.InvalidArgument},
		{"unknown pipeline", ctx, &ifcv1.ExecuteRequest{PipelineId: "nope", Input: &ifcv1.ExecuteRequest_Image{Image: testJPEG(t, 8, 8)}}, codes.NotFound},
		{"unknown file", ctx, &ifcv1.ExecuteRequest{PipelineId: pid, Input: &ifcv1.ExecuteRequest_FileId{FileId: "nope"}}, codes.NotFound},
		{"not an image", ctx, &ifcv1.ExecuteRequest{PipelineId: pid, Input: &ifcv1.ExecuteRequest_Image{Image: []byte("text")}}, codes.InvalidArgument},
		{"bomb", ctx, &ifcv1.ExecuteRequest{PipelineId: pid, Input: &ifcv1.ExecuteRequest_Image{Image: pngBomb(t, 60000, 60000)}}, codes.InvalidArgument},
		{"too big for the wire", ctx, &ifcv1.ExecuteRequest{PipelineId: pid, Input: &ifcv1.ExecuteRequest_Image{Image: bytes.Repeat([]byte{1}, 33<<20)}}, codes.ResourceExhausted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := cl.Execute(c.ctx, c.req)
			if status.Code(err) != c.code {
				t.Fatalf("code %v (%v), want %v", status.Code(err), err, c.code)
			}
		})
	}
	t.Run("overloaded", func(t *testing.T) {
		e.cond.mu.Lock()
		e.cond.overloaded = true
		e.cond.mu.Unlock()
		defer func() { e.cond.mu.Lock(); e.cond.overloaded = false; e.cond.mu.Unlock() }()
		_, err := cl.Execute(ctx, &ifcv1.ExecuteRequest{PipelineId: pid, Input: &ifcv1.ExecuteRequest_FileId{FileId: ex.GetInputs()[0]}})
		if status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("code %v", err)
		}
	})
	t.Run("metrics", func(t *testing.T) {
		m := string(e.do("GET", "/metrics", "", "", nil).body)
		for _, want := range []string{
			`ifc_api_grpc_requests_total{code="OK",method="/ifc.v1.PipelineService/Execute"} 2`,
			`ifc_api_grpc_requests_total{code="Unauthenticated",method="/ifc.v1.PipelineService/Execute"} 1`,
			`ifc_api_admission_rejections_total{entry="grpc"} 1`,
		} {
			if !strings.Contains(m, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
	t.Run("expired token", func(t *testing.T) {
		e.clock.Add(time.Hour)
		defer e.clock.Add(-time.Hour)
		_, err := cl.Execute(ctx, &ifcv1.ExecuteRequest{PipelineId: pid, Input: &ifcv1.ExecuteRequest_FileId{FileId: ex.GetInputs()[0]}})
		if status.Code(err) != codes.Unauthenticated {
			t.Fatalf("code %v", err)
		}
	})
}

func TestGRPCExecuteStream(t *testing.T) {
	e := newEnv(t)
	pid := e.createPipeline()
	cl := ifcv1.NewPipelineServiceClient(e.grpc)
	ctx, cancel := context.WithTimeout(e.grpcCtx(auth.RoleIntegrator), 10*time.Second)
	defer cancel()
	st, err := cl.ExecuteStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&ifcv1.ExecuteStreamRequest{Msg: &ifcv1.ExecuteStreamRequest_Config{Config: &ifcv1.StreamConfig{PipelineId: pid}}}); err != nil {
		t.Fatal(err)
	}
	img := testJPEG(t, 16, 16)
	const n = 8
	go func() {
		for i := 1; i <= n; i++ {
			data := img
			if i == 4 {
				data = []byte("garbage")
			}
			_ = st.Send(&ifcv1.ExecuteStreamRequest{Msg: &ifcv1.ExecuteStreamRequest_Frame{Frame: &ifcv1.VideoFrame{Seq: uint64(i), Image: &ifcv1.Image{Data: data, Format: ifcv1.ImageFormat_IMAGE_FORMAT_JPEG}}}})
		}
		_ = st.CloseSend()
	}()
	for i := 1; i <= n; i++ {
		fr, err := st.Recv()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if fr.GetSeq() != uint64(i) {
			t.Fatalf("frame %d answered with seq %d", i, fr.GetSeq())
		}
		if i == 4 {
			if fr.GetError() == "" {
				t.Fatal("garbage frame answered without error")
			}
			continue
		}
		if fr.GetError() != "" || fr.GetProcessingUs() != 42 || len(fr.GetDetections()) != 1 {
			t.Fatalf("frame %d: %v", i, fr)
		}
	}
	if _, err := st.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("end of stream: %v", err)
	}

	t.Run("frame before config", func(t *testing.T) {
		st, _ := cl.ExecuteStream(ctx)
		_ = st.Send(&ifcv1.ExecuteStreamRequest{Msg: &ifcv1.ExecuteStreamRequest_Frame{Frame: &ifcv1.VideoFrame{Seq: 1}}})
		if _, err := st.Recv(); status.Code(err) != codes.InvalidArgument {
			t.Fatalf("code %v", err)
		}
	})
	t.Run("unknown pipeline", func(t *testing.T) {
		st, _ := cl.ExecuteStream(ctx)
		_ = st.Send(&ifcv1.ExecuteStreamRequest{Msg: &ifcv1.ExecuteStreamRequest_Config{Config: &ifcv1.StreamConfig{PipelineId: "nope"}}})
		if _, err := st.Recv(); status.Code(err) != codes.NotFound {
			t.Fatalf("code %v", err)
		}
	})
	t.Run("missing token", func(t *testing.T) {
		st, err := cl.ExecuteStream(context.Background())
		if err == nil {
			_, err = st.Recv()
		}
		if status.Code(err) != codes.Unauthenticated {
			t.Fatalf("code %v", err)
		}
	})
}

func TestGRPCWatchExecution(t *testing.T) {
	e := newEnv(t)
	pid := e.createPipeline()
	fid := e.upload(testJPEG(t, 32, 32))
	id := e.doJSON("POST", "/api/v1/executions", auth.RoleInspector, map[string]any{"pipeline_id": pid, "inputs": []string{fid}}).json(t)["execution_id"].(string)
	e.cond.step(id, 0)
	cl := ifcv1.NewPipelineServiceClient(e.grpc)
	ctx, cancel := context.WithTimeout(e.grpcCtx(auth.RoleInspector), 10*time.Second)
	defer cancel()
	st, err := cl.WatchExecution(ctx, &ifcv1.WatchExecutionRequest{ExecutionId: id})
	if err != nil {
		t.Fatal(err)
	}
	// Current state first: one event per node and one for the execution, seq 0.
	var snapshot []*ifcv1.ProgressEvent
	for i := 0; i < 4; i++ {
		ev, err := st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		snapshot = append(snapshot, ev)
	}
	if snapshot[0].GetNodeId() != "resize" || snapshot[0].GetState() != ifcv1.NodeState_NODE_STATE_SUCCEEDED || snapshot[3].GetNodeId() != "" ||
		snapshot[3].GetExecutionStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_RUNNING || snapshot[3].GetSeq() != 0 {
		t.Fatalf("snapshot %v", snapshot)
	}
	go e.cond.finish(id)
	var seqs []uint64
	for {
		ev, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, ev.GetSeq())
	}
	want := []uint64{1, 2, 3, 4, 5, 6, 7, 8}
	if len(seqs) != len(want) {
		t.Fatalf("seqs %v want %v", seqs, want)
	}
	for i := range want {
		if seqs[i] != want[i] {
			t.Fatalf("seqs %v want %v", seqs, want)
		}
	}
	// A watcher of a finished execution gets its state and the stream ends.
	st, err = cl.WatchExecution(ctx, &ifcv1.WatchExecutionRequest{ExecutionId: id})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		ev, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if ev.GetNodeId() == "" && ev.GetExecutionStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED {
			t.Fatalf("finished execution state %v", ev)
		}
	}
	if n != 4 {
		t.Fatalf("finished execution: %d events", n)
	}
	st, _ = cl.WatchExecution(ctx, &ifcv1.WatchExecutionRequest{ExecutionId: "nope"})
	if _, err := st.Recv(); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown execution: %v", err)
	}
}
