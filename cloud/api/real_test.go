package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/imageflowcanvas/ifc/cloud/auth"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// These tests run the API over the real conductor, files service, SQLite
// store and embedded NATS; only the part services are pure-Go stand-ins.

func TestRealConductorREST(t *testing.T) {
	e := newEnv(t, withConductor)
	pid := e.createPipeline()
	img := testJPEG(t, 64, 48)
	fid := e.upload(img)
	r := e.doJSON("POST", "/api/v1/executions?wait=true", auth.RoleInspector, map[string]any{"pipeline_id": pid, "inputs": []string{fid}, "correlation_id": "c-1"})
	if r.code != 200 {
		t.Fatalf("run: %d %s", r.code, r.body)
	}
	ex := r.json(t)
	if ex["status"] != "succeeded" || len(ex["nodes"].([]any)) != 3 {
		t.Fatalf("execution %s", r.body)
	}
	var outFile string
	for _, n := range ex["nodes"].([]any) {
		n := n.(map[string]any)
		if n["status"] != "succeeded" || n["started_at"] == nil || n["finished_at"] == nil {
			t.Fatalf("node %v", n)
		}
		if n["node_id"] == "detect" {
			out := n["outputs"].(map[string]any)
			if d := out["detections"].([]any); len(d) != 1 {
				t.Fatalf("detect outputs %v", out)
			}
			outFile, _ = out["file_id"].(string)
		}
	}
	if outFile == "" {
		t.Fatalf("detect node stored no image: %s", r.body)
	}
	r = e.do("GET", "/api/v1/files/"+outFile+"/content", auth.RoleInspector, "", nil)
	if r.code != 200 || !bytes.HasPrefix(r.body, []byte{0xff, 0xd8}) {
		t.Fatalf("output content: %d", r.code)
	}
	id := ex["execution_id"].(string)
	r = e.do("GET", "/api/v1/executions?status=succeeded&pipeline_id="+pid, auth.RoleInspector, "", nil)
	if l := r.json(t)["executions"].([]any); len(l) != 1 || l[0].(map[string]any)["execution_id"] != id {
		t.Fatalf("list: %s", r.body)
	}
	expectProblem(t, e.do("POST", "/api/v1/executions/"+id+"/cancel", auth.RoleQAManager, "", nil), 409)
	// The conductor's own request checks surface as 4xx.
	expectProblem(t, e.doJSON("POST", "/api/v1/executions", auth.RoleInspector, map[string]any{"pipeline_id": pid, "inputs": []string{fid, fid}}), 422)
	expectProblem(t, e.doJSON("POST", "/api/v1/executions", auth.RoleInspector, map[string]any{"pipeline_id": pid, "inputs": []string{"missing"}}), 404)
	expectProblem(t, e.doJSON("POST", "/api/v1/executions", auth.RoleInspector, map[string]any{"pipeline_id": "missing", "inputs": []string{fid}}), 404)
}

// TestRealConductorOverload fills the conductor and checks the next
// submission gets 429 / ResourceExhausted, then that cancel works.
func TestRealConductorOverload(t *testing.T) {
	gate := make(chan struct{})
	e := newEnv(t, withConductor, func(o *envOptions) { o.gate = gate })
	pid := e.createPipeline()
	fid := e.upload(testJPEG(t, 16, 16))
	var ids []string
	for i := 0; i < 4; i++ {
		r := e.doJSON("POST", "/api/v1/executions", auth.RoleInspector, map[string]any{"pipeline_id": pid, "inputs": []string{fid}})
		if r.code != 202 {
			t.Fatalf("submit %d: %d %s", i, r.code, r.body)
		}
		ids = append(ids, r.json(t)["execution_id"].(string))
	}
	r := e.doJSON("POST", "/api/v1/executions", auth.RoleInspector, map[string]any{"pipeline_id": pid, "inputs": []string{fid}})
	expectProblem(t, r, 429)
	if r.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	_, err := ifcv1.NewPipelineServiceClient(e.grpc).Execute(e.grpcCtx(auth.RoleInspector), &ifcv1.ExecuteRequest{PipelineId: pid, Input: &ifcv1.ExecuteRequest_FileId{FileId: fid}})
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("grpc overloaded: %v", err)
	}
	r = e.do("POST", "/api/v1/executions/"+ids[0]+"/cancel", auth.RoleQAManager, "", nil)
	if r.code != 200 || r.json(t)["status"] != "cancelled" {
		t.Fatalf("cancel: %d %s", r.code, r.body)
	}
	close(gate)
	for _, id := range ids[1:] {
		waitFor(t, "execution "+id, func() bool {
			return e.do("GET", "/api/v1/executions/"+id, auth.RoleInspector, "", nil).json(t)["status"] == "succeeded"
		})
	}
}

// TestRealConductorWS checks a WebSocket subscriber sees one execution's
// progress from the real conductor over NATS, complete and in order.
func TestRealConductorWS(t *testing.T) {
	gate := make(chan struct{})
	e := newEnv(t, withConductor, func(o *envOptions) { o.gate = gate })
	pid := e.createPipeline()
	fid := e.upload(testJPEG(t, 16, 16))
	id := e.doJSON("POST", "/api/v1/executions", auth.RoleInspector, map[string]any{"pipeline_id": pid, "inputs": []string{fid}}).json(t)["execution_id"].(string)
	c := e.dialWS(auth.RoleQAManager, true)
	c.send(map[string]any{"type": "subscribe", "execution_id": id})
	if m := c.recv(); m["type"] != "state" {
		t.Fatalf("first %v", m)
	}
	close(gate)
	var seqs []int
	for {
		m := c.recv()
		if m["type"] != "progress" {
			t.Fatalf("unexpected %v", m)
		}
		seqs = append(seqs, int(m["seq"].(float64)))
		if m["node_id"] == nil && (m["execution_status"] == "succeeded" || m["execution_status"] == "failed") {
			if m["execution_status"] != "succeeded" {
				t.Fatalf("execution %v", m)
			}
			break
		}
	}
	for i, s := range seqs {
		if s != i+1 {
			t.Fatalf("seqs %v: not 1..n in order", seqs)
		}
	}
	// Real-time processing through the real ProcessFrame.
	img := testJPEG(t, 40, 30)
	c.send(map[string]any{"type": "process", "request_id": "f1", "pipeline_id": pid, "image": base64.StdEncoding.EncodeToString(img)})
	m := c.recv()
	if m["type"] != "result" || m["request_id"] != "f1" || m["image"] == "" || len(m["detections"].([]any)) != 1 {
		t.Fatalf("result %v", m)
	}
}

func TestRealConductorGRPC(t *testing.T) {
	e := newEnv(t, withConductor)
	pid := e.createPipeline()
	cl := ifcv1.NewPipelineServiceClient(e.grpc)
	ctx, cancel := context.WithTimeout(e.grpcCtx(auth.RoleIntegrator), 20*time.Second)
	defer cancel()
	res, err := cl.Execute(ctx, &ifcv1.ExecuteRequest{PipelineId: pid, Input: &ifcv1.ExecuteRequest_Image{Image: testJPEG(t, 32, 32)}})
	if err != nil || res.GetExecution().GetStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED {
		t.Fatalf("execute: %v %v", res, err)
	}
	_, err = cl.Execute(ctx, &ifcv1.ExecuteRequest{PipelineId: pid, Input: &ifcv1.ExecuteRequest_Image{Image: pngBomb(t, 60000, 60000)}})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bomb: %v", err)
	}
	// Watching a finished execution gives its state and ends.
	st, err := cl.WatchExecution(ctx, &ifcv1.WatchExecutionRequest{ExecutionId: res.GetExecution().GetExecutionId()})
	if err != nil {
		t.Fatal(err)
	}
	var last *ifcv1.ProgressEvent
	for {
		ev, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		last = ev
	}
	if last.GetExecutionStatus() != ifcv1.ExecutionStatus_EXECUTION_STATUS_SUCCEEDED || last.GetProgress() != 1 {
		t.Fatalf("last event %v", last)
	}
	// Streaming frames.
	s, err := cl.ExecuteStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Send(&ifcv1.ExecuteStreamRequest{Msg: &ifcv1.ExecuteStreamRequest_Config{Config: &ifcv1.StreamConfig{PipelineId: pid, Version: 1}}})
	img := testJPEG(t, 24, 24)
	for i := uint64(1); i <= 5; i++ {
		if err := s.Send(&ifcv1.ExecuteStreamRequest{Msg: &ifcv1.ExecuteStreamRequest_Frame{Frame: &ifcv1.VideoFrame{Seq: i, Image: &ifcv1.Image{Data: img, Format: ifcv1.ImageFormat_IMAGE_FORMAT_JPEG}}}}); err != nil {
			t.Fatal(err)
		}
		fr, err := s.Recv()
		if err != nil || fr.GetSeq() != i || fr.GetError() != "" || len(fr.GetImage().GetData()) == 0 {
			t.Fatalf("frame %d: %v %v", i, fr, err)
		}
	}
	_ = s.CloseSend()
	if _, err := s.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("end: %v", err)
	}
}
