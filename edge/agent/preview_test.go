package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image/jpeg"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imageflowcanvas/ifc/edge/agent"
	"github.com/imageflowcanvas/ifc/edge/inspect"
)

// getFrame fetches the live still frame.
func getFrame(t *testing.T, base, origin string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", base+"/api/v1/preview/frame", nil)
	if err != nil {
		t.Fatal(err)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

// TestPreviewFrame: the still-frame live view serves decodable JPEGs of the
// frames the WHEP preview already takes, with a growing sequence, uncached,
// readable cross-origin by the desktop webview, and without creating a
// capture or touching the queue.
func TestPreviewFrame(t *testing.T) {
	cfg := testConfig(t)
	a, _, _ := startAgent(t, cfg)
	base := "http://" + a.HTTPAddr()
	var before bytes.Buffer
	if _, err := a.Queue().WriteTo(&before); err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for i := range 2 {
		if i > 0 {
			time.Sleep(150 * time.Millisecond) // the camera runs at 10 fps: at least one new frame
		}
		res, body := getFrame(t, base, "tauri://localhost")
		if res.StatusCode != 200 {
			t.Fatalf("frame %d: %d %s", i, res.StatusCode, body)
		}
		if ct, cc := res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"); ct != "image/jpeg" || cc != "no-store" {
			t.Errorf("frame %d: Content-Type %q, Cache-Control %q", i, ct, cc)
		}
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != "tauri://localhost" ||
			!strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "X-Frame-Seq") {
			t.Errorf("frame %d: CORS %q, exposes %q", i, got, res.Header.Get("Access-Control-Expose-Headers"))
		}
		img, err := jpeg.Decode(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("frame %d: not a JPEG: %v", i, err)
		}
		if b := img.Bounds(); b.Dx() != 640 || b.Dy() != 480 {
			t.Errorf("frame %d: %v, want the camera's 640x480", i, b)
		}
		seq, err := strconv.ParseUint(res.Header.Get("X-Frame-Seq"), 10, 64)
		if err != nil {
			t.Fatalf("frame %d: X-Frame-Seq %q: %v", i, res.Header.Get("X-Frame-Seq"), err)
		}
		if _, err := time.Parse(time.RFC3339Nano, res.Header.Get("X-Captured-At")); err != nil {
			t.Errorf("frame %d: X-Captured-At: %v", i, err)
		}
		seqs = append(seqs, seq)
	}
	if seqs[1] <= seqs[0] {
		t.Errorf("frame sequence %v does not increase", seqs)
	}
	var after bytes.Buffer
	if _, err := a.Queue().WriteTo(&after); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before.Bytes(), after.Bytes()) {
		t.Error("serving preview frames changed the queue")
	}
}

// TestPreviewFrameNoCamera: with no camera the frame endpoint answers a 503
// problem saying so.
func TestPreviewFrameNoCamera(t *testing.T) {
	cfg := testConfig(t)
	cfg.Camera = "v4l2:/dev/video-does-not-exist"
	a, err := agent.New(cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	// Polled, not slept on: before the first open attempt fails the camera is "starting".
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, body := getFrame(t, "http://"+a.HTTPAddr(), "")
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("frame without camera: %d %s", res.StatusCode, body)
		}
		var p inspect.Problem
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		if p.Type != inspect.ProblemNoCamera {
			t.Fatalf("problem %+v", p)
		}
		if strings.Contains(p.Detail, "missing") {
			t.Logf("refusal: %s", p.Detail)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the problem never says the camera is missing: %s", p.Detail)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
