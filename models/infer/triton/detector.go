// Package triton runs a detection bundle's network on NVIDIA Triton Inference Server over
// the KServe v2 gRPC protocol (proto/kserve), keeping everything else in Go and in process.
//
// Decisions:
//   - Only the network runs remotely. Preprocessing (letterbox, normalisation) and
//     decoding (CenterNet peaks, NMS) are models/infer's own Preprocessor and
//     CenterNet.Decode, called exactly as infer.Detector calls them, so the Triton path and
//     the in-process ONNX Runtime path cannot drift apart: they differ only in who
//     multiplies the matrices.
//   - The bundle (models/detector, embedded in the binary) stays the source of truth. At
//     Dial the client asks Triton whether the server and the model are ready, then compares
//     the model's metadata (input and output names, FP32, shapes) with the bundle manifest
//     and refuses a mismatch with ErrModelMismatch naming the tensor; then it runs the
//     bundle's golden check (bundle.CheckGolden) through Triton, as infer.NewDetector does
//     in process, so a wrong or stale model on the server is refused before any image.
//   - Tensors travel as raw_input_contents / raw_output_contents (little-endian float32,
//     row-major), not as typed repeated fields: one copy, no per-element protobuf varints.
//   - One gRPC connection, shared by concurrent calls (HTTP/2 multiplexes them); every
//     call has a deadline (Options.Timeout) on top of the caller's context.
//   - Dial fails fast when nothing answers (a misconfigured URL should say so at start).
//     Inference calls instead wait for the connection, within their deadline, and the
//     reconnect backoff is capped at 2 s (gRPC's default grows to 2 min): when Triton
//     restarts, detection resumes as soon as it is back instead of failing until the
//     channel's next attempt.
package triton

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"math"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"gocv.io/x/gocv"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/imageflowcanvas/ifc/models/bundle"
	"github.com/imageflowcanvas/ifc/models/infer"
	"github.com/imageflowcanvas/ifc/proto/kserve"
)

// Scheme is the URL scheme of a Triton detector: triton://host:port/model[/version].
const Scheme = "triton"

// DefaultTimeout bounds one call to Triton when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

var (
	// ErrUnreachable means Triton did not answer (not running, wrong address, timeout).
	ErrUnreachable = errors.New("triton server unreachable")
	// ErrNotReady means the server answered but it or the model is not ready to infer.
	ErrNotReady = errors.New("triton model not ready")
	// ErrModelMismatch means the model on the server does not have the bundle's tensors.
	ErrModelMismatch = errors.New("triton model does not match the bundle")
	// ErrClosed is returned by a Detector used after Close.
	ErrClosed = errors.New("triton detector is closed")
)

// reconnect is the backoff between connection attempts after Triton went away.
var reconnect = backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second}

// Options configures a Detector.
type Options struct {
	// Timeout bounds each call to Triton (default DefaultTimeout).
	Timeout time.Duration
	// SkipGoldenCheck skips the golden check at Dial. Only for tools and tests.
	SkipGoldenCheck bool
	// Logger receives connection and verification logs (default slog.Default()).
	Logger *slog.Logger
}

// Target is a parsed triton:// URL.
type Target struct {
	Addr    string // host:port of the KServe v2 gRPC endpoint
	Model   string
	Version string // "" lets the server choose (its latest)
}

// String returns the target as a triton:// URL.
func (t Target) String() string {
	s := Scheme + "://" + t.Addr + "/" + t.Model
	if t.Version != "" {
		s += "/" + t.Version
	}
	return s
}

// ParseURL parses triton://host:port/model[/version].
func ParseURL(raw string) (Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Target{}, fmt.Errorf("parse triton url: %w", err)
	}
	if u.Scheme != Scheme {
		return Target{}, fmt.Errorf("parse triton url %q: scheme %q, want %q", raw, u.Scheme, Scheme)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return Target{}, fmt.Errorf("parse triton url %q: user info, query and fragment are not supported", raw)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" || port == "" {
		return Target{}, fmt.Errorf("parse triton url %q: want host:port, got %q", raw, u.Host)
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) == 0 || parts[0] == "" || len(parts) > 2 {
		return Target{}, fmt.Errorf("parse triton url %q: want path /model or /model/version", raw)
	}
	t := Target{Addr: u.Host, Model: parts[0]}
	if len(parts) == 2 {
		t.Version = parts[1]
	}
	return t, nil
}

// Detector runs a CenterNet detection bundle with its network on Triton. It is safe for
// concurrent use.
type Detector struct {
	target  Target
	timeout time.Duration
	conn    *grpc.ClientConn
	client  kserve.GRPCInferenceServiceClient

	m      *bundle.Manifest
	pre    *infer.Preprocessor
	dec    infer.CenterNet
	grid   infer.Grid
	inSpec bundle.TensorSpec
	bufs   sync.Pool // *[]float32 input tensors

	mu     sync.RWMutex
	closed bool
}

// Dial connects to the model named by rawURL (triton://host:port/model[/version]) for the
// detection bundle b: it checks readiness and the model's tensors against b's manifest,
// then runs b's golden check through Triton. A failure is refused with an error wrapping
// ErrUnreachable, ErrNotReady, ErrModelMismatch or bundle.ErrGolden.
func Dial(ctx context.Context, rawURL string, b *bundle.Bundle, opt Options) (*Detector, error) {
	t, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	m := b.Manifest
	if m.Task != bundle.TaskDetection {
		return nil, fmt.Errorf("bundle %s is a %s model, want %s", m.Name, m.Task, bundle.TaskDetection)
	}
	hs, ok := m.Output("heatmap")
	if !ok {
		return nil, fmt.Errorf("bundle %s has no heatmap output", m.Name)
	}
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "triton", "url", t.String(), "model", m.Name, "version", m.Version)
	conn, err := grpc.NewClient(t.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: reconnect, MinConnectTimeout: 5 * time.Second}))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", t, err)
	}
	pre := infer.NewPreprocessor(m)
	pp := m.Postprocess
	d := &Detector{
		target: t, timeout: opt.Timeout, conn: conn, client: kserve.NewGRPCInferenceServiceClient(conn),
		m: m, pre: pre, inSpec: m.Input,
		grid: infer.Grid{C: int(hs.Shape[1]), H: int(hs.Shape[2]), W: int(hs.Shape[3])},
		dec: infer.CenterNet{Classes: m.Classes, Threshold: float32(m.Threshold), Stride: pp.Stride,
			NMSIoU: pp.NMSIoU, MaxDetections: pp.MaxDetections},
	}
	if d.timeout <= 0 {
		d.timeout = DefaultTimeout
	}
	n := pre.Elements()
	d.bufs.New = func() any { b := make([]float32, n); return &b }
	if err := d.check(ctx); err != nil {
		conn.Close()
		log.Error("triton model refused", "err", err)
		return nil, err
	}
	if opt.SkipGoldenCheck {
		log.Warn("golden check skipped")
		return d, nil
	}
	if err := bundle.CheckGolden(b, d); err != nil {
		conn.Close()
		log.Error("triton model refused", "err", err)
		return nil, fmt.Errorf("verify %s %s on %s: %w", m.Name, m.Version, t, err)
	}
	log.Info("triton model verified", "golden_images", len(m.Golden))
	return d, nil
}

// check asks for server and model readiness and compares the model metadata with the manifest.
func (d *Detector) check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	sr, err := d.client.ServerReady(ctx, &kserve.ServerReadyRequest{})
	if err != nil {
		return d.callErr("server ready", err)
	}
	if !sr.GetReady() {
		return fmt.Errorf("%w: server at %s says it is not ready", ErrNotReady, d.target.Addr)
	}
	mr, err := d.client.ModelReady(ctx, &kserve.ModelReadyRequest{Name: d.target.Model, Version: d.target.Version})
	if err != nil {
		return d.callErr("model ready", err)
	}
	if !mr.GetReady() {
		return fmt.Errorf("%w: model %q (version %q) is not loaded and ready on %s",
			ErrNotReady, d.target.Model, d.target.Version, d.target.Addr)
	}
	md, err := d.client.ModelMetadata(ctx, &kserve.ModelMetadataRequest{Name: d.target.Model, Version: d.target.Version})
	if err != nil {
		return d.callErr("model metadata", err)
	}
	return matchMetadata(md, d.m)
}

// matchMetadata requires the model's only input and its outputs to have the manifest's
// names and shapes, all FP32.
func matchMetadata(md *kserve.ModelMetadataResponse, m *bundle.Manifest) error {
	mismatch := func(format string, args ...any) error {
		return fmt.Errorf("%w: model %q vs bundle %s %s: %s", ErrModelMismatch, md.GetName(), m.Name, m.Version,
			fmt.Sprintf(format, args...))
	}
	ins := md.GetInputs()
	if len(ins) != 1 {
		return mismatch("model has %d inputs, bundle has 1 (%s)", len(ins), m.Input.Name)
	}
	if err := matchTensor("input", ins[0], m.Input); err != nil {
		return mismatch("%v", err)
	}
	outs := make(map[string]*kserve.ModelMetadataResponse_TensorMetadata, len(md.GetOutputs()))
	for _, o := range md.GetOutputs() {
		outs[o.GetName()] = o
	}
	for _, want := range m.Outputs {
		got, ok := outs[want.Name]
		if !ok {
			return mismatch("model has no output %q (it has %s)", want.Name, tensorNames(md.GetOutputs()))
		}
		if err := matchTensor("output", got, want); err != nil {
			return mismatch("%v", err)
		}
	}
	return nil
}

func matchTensor(kind string, got *kserve.ModelMetadataResponse_TensorMetadata, want bundle.TensorSpec) error {
	if got.GetName() != want.Name {
		return fmt.Errorf("%s is %q, bundle's is %q", kind, got.GetName(), want.Name)
	}
	if got.GetDatatype() != "FP32" {
		return fmt.Errorf("%s %q is %s, want FP32", kind, want.Name, got.GetDatatype())
	}
	if !slices.Equal(got.GetShape(), want.Shape) {
		return fmt.Errorf("%s %q has shape %v, bundle's is %v", kind, want.Name, got.GetShape(), want.Shape)
	}
	return nil
}

func tensorNames(ts []*kserve.ModelMetadataResponse_TensorMetadata) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = fmt.Sprintf("%q", t.GetName())
	}
	return strings.Join(names, ", ")
}

// callErr classifies a failed RPC: no answer is ErrUnreachable, an unknown model ErrNotReady.
func (d *Detector) callErr(what string, err error) error {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return fmt.Errorf("%w: %s at %s: %v", ErrUnreachable, what, d.target.Addr, err)
	case codes.NotFound, codes.InvalidArgument, codes.Unimplemented:
		if what != "infer" {
			return fmt.Errorf("%w: %s of %q on %s: %v", ErrNotReady, what, d.target.Model, d.target.Addr, err)
		}
	case codes.Canceled:
		return fmt.Errorf("%s on %s: %w", what, d.target, context.Canceled)
	}
	return fmt.Errorf("%s on %s: %w", what, d.target, err)
}

// Target returns where the network runs.
func (d *Detector) Target() Target { return d.target }

// Manifest returns the manifest of the bundle whose pre- and post-processing is used.
func (d *Detector) Manifest() *bundle.Manifest { return d.m }

// Detect finds defects in a BGR image; boxes are in its pixels, sorted by descending score.
func (d *Detector) Detect(img gocv.Mat) ([]infer.Detection, error) {
	return d.DetectContext(context.Background(), img)
}

// DetectContext is Detect with a context that cancels the call to Triton.
func (d *Detector) DetectContext(ctx context.Context, img gocv.Mat) ([]infer.Detection, error) {
	buf := d.bufs.Get().(*[]float32)
	defer d.bufs.Put(buf)
	t, err := d.pre.Apply(img, *buf)
	if err != nil {
		return nil, err
	}
	outs, err := d.infer(ctx, *buf)
	if err != nil {
		return nil, fmt.Errorf("detect with %s on %s: %w", d.m.Name, d.target, err)
	}
	return d.dec.Decode(outs["heatmap"], outs["wh"], outs["offset"], d.grid, t), nil
}

// DetectImage finds defects in an image.Image (converted to a BGR Mat first).
func (d *Detector) DetectImage(img image.Image) ([]infer.Detection, error) {
	mat, err := infer.MatFromImage(img)
	if err != nil {
		return nil, err
	}
	defer mat.Close()
	return d.Detect(mat)
}

// Preprocess returns the network input for img (bundle.Runner).
func (d *Detector) Preprocess(img image.Image) ([]float32, error) {
	mat, err := infer.MatFromImage(img)
	if err != nil {
		return nil, err
	}
	defer mat.Close()
	out := make([]float32, d.pre.Elements())
	if _, err := d.pre.Apply(mat, out); err != nil {
		return nil, err
	}
	return out, nil
}

// RunTensor runs the network on Triton on an input tensor (bundle.Runner).
func (d *Detector) RunTensor(input []float32) (map[string][]float32, error) {
	return d.infer(context.Background(), input)
}

// Predict detects defects in img (bundle.Runner).
func (d *Detector) Predict(img image.Image) (bundle.Prediction, error) {
	dets, err := d.DetectImage(img)
	if err != nil {
		return bundle.Prediction{}, err
	}
	return infer.Prediction(dets), nil
}

// infer sends one ModelInfer with the input as raw little-endian float32 and returns every
// manifest output by name, after checking its type, shape and size.
func (d *Detector) infer(ctx context.Context, input []float32) (map[string][]float32, error) {
	d.mu.RLock()
	closed := d.closed
	d.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	if want := d.pre.Elements(); len(input) != want {
		return nil, fmt.Errorf("input has %d elements, want %d", len(input), want)
	}
	req := &kserve.ModelInferRequest{
		ModelName:    d.target.Model,
		ModelVersion: d.target.Version,
		Inputs: []*kserve.ModelInferRequest_InferInputTensor{{
			Name: d.inSpec.Name, Datatype: "FP32", Shape: d.inSpec.Shape,
		}},
		RawInputContents: [][]byte{encodeFloat32(input)},
	}
	for _, o := range d.m.Outputs {
		req.Outputs = append(req.Outputs, &kserve.ModelInferRequest_InferRequestedOutputTensor{Name: o.Name})
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	resp, err := d.client.ModelInfer(ctx, req, grpc.WaitForReady(true))
	if err != nil {
		return nil, d.callErr("infer", err)
	}
	return d.readOutputs(resp)
}

func (d *Detector) readOutputs(resp *kserve.ModelInferResponse) (map[string][]float32, error) {
	raw := resp.GetRawOutputContents()
	if len(raw) != len(resp.GetOutputs()) {
		return nil, fmt.Errorf("response has %d outputs but %d raw output contents (want raw contents for each)",
			len(resp.GetOutputs()), len(raw))
	}
	res := make(map[string][]float32, len(d.m.Outputs))
	for i, o := range resp.GetOutputs() {
		spec, ok := d.m.Output(o.GetName())
		if !ok {
			continue // an output we did not ask for: ignore
		}
		if err := matchTensor("output", &kserve.ModelMetadataResponse_TensorMetadata{
			Name: o.GetName(), Datatype: o.GetDatatype(), Shape: o.GetShape()}, spec); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrModelMismatch, err)
		}
		n := 1
		for _, s := range spec.Shape {
			n *= int(s)
		}
		if len(raw[i]) != 4*n {
			return nil, fmt.Errorf("output %q has %d bytes, want %d (%d float32)", o.GetName(), len(raw[i]), 4*n, n)
		}
		res[o.GetName()] = decodeFloat32(raw[i])
	}
	for _, o := range d.m.Outputs {
		if _, ok := res[o.Name]; !ok {
			return nil, fmt.Errorf("%w: response has no output %q", ErrModelMismatch, o.Name)
		}
	}
	return res, nil
}

func encodeFloat32(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func decodeFloat32(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// Close closes the connection; later calls return ErrClosed. It is idempotent.
func (d *Detector) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	return d.conn.Close()
}
