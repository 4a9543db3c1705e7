package whep

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imageflowcanvas/ifc/edge/capture"
)

// browserEnv finds node, Chromium and playwright-core. A missing piece fails the test (CI
// installs them through deploy/dev/setup and deploy/dev/setup-browser); it is never skipped.
func browserEnv(t *testing.T) (node, nodePath, chromium, artifacts string) {
	t.Helper()
	cache := os.Getenv("IFC_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatal(err)
		}
		cache = filepath.Join(home, ".cache", "ifc")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not found: install Debian nodejs (deploy/dev/setup)")
	}
	nodePath = os.Getenv("IFC_NODE_PATH")
	if nodePath == "" {
		nodePath = filepath.Join(cache, "node", "node_modules")
	}
	if _, err := os.Stat(filepath.Join(nodePath, "playwright-core", "package.json")); err != nil {
		t.Fatalf("playwright-core not found under %s: run deploy/dev/setup-browser", nodePath)
	}
	chromium = os.Getenv("IFC_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("Chromium not found at %s: apt-get install -y chromium (deploy/dev/setup)", chromium)
	}
	artifacts = os.Getenv("IFC_ARTIFACTS")
	if artifacts == "" {
		artifacts = filepath.Join(cache, "artifacts")
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	return node, nodePath, chromium, artifacts
}

type browserStats struct {
	FramesDecoded, FramesReceived, FrameWidth, FrameHeight int
	Connection                                             string
	Overlays                                               int
}

// TestChromiumPlaysWHEP plays the preview in headless Chromium: decoded frames must keep
// increasing, a grabbed frame must carry a valid capture marker at full size, overlays must
// arrive, and a screenshot is saved to $IFC_CACHE/artifacts/whep.png.
func TestChromiumPlaysWHEP(t *testing.T) {
	node, nodePath, chromium, artifacts := browserEnv(t)
	r := startRig(t, "synthetic:?width=1280&height=720&fps=30&seed=4&defect_rate=1", Options{})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Publish an overlay for each frame, the way the agent publishes pre-filter results:
	// here the synthetic ground truth stands in for the model's detections.
	frames, unsub := r.cam.Subscribe(1)
	defer unsub()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case f := <-frames:
				o := map[string]any{"seq": f.Seq, "label": "ok", "score": 0.97}
				if len(f.Truth) > 0 {
					b := f.Truth[0].Box
					o = map[string]any{"seq": f.Seq, "label": f.Truth[0].Class, "score": 0.87, "box": []int{b.Min.X, b.Min.Y, b.Dx(), b.Dy()}}
				}
				_ = r.srv.PublishOverlay(o)
			}
		}
	}()
	shot := filepath.Join(artifacts, "whep.png")
	cmd := exec.CommandContext(ctx, node, "browsertest/play.cjs", r.base+"/", shot)
	cmd.Env = append(os.Environ(), "NODE_PATH="+nodePath, "IFC_CHROMIUM="+chromium)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node play.cjs: %v\nstderr:\n%s", err, stderr.String())
	}
	var out struct {
		First, Second browserStats
		Grab          struct {
			PNG           string `json:"png"`
			ShownAtMs     float64
			Width, Height int
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("bad output %q: %v\nstderr:\n%s", stdout.String(), err, stderr.String())
	}
	var js map[string]json.RawMessage
	_ = json.Unmarshal(stdout.Bytes(), &js)
	t.Logf("chromium: first %s\n2s later %s\nserver %+v", js["first"], js["second"], r.srv.Stats())
	if out.Second.FramesDecoded < out.First.FramesDecoded+5 { // 60 at full speed; -race and shared cores slow the encoder
		t.Fatalf("framesDecoded went from %d to %d in 2s", out.First.FramesDecoded, out.Second.FramesDecoded)
	}
	if out.Second.FrameWidth != 1280 || out.Second.FrameHeight != 720 {
		t.Fatalf("Chromium decodes %dx%d, want 1280x720", out.Second.FrameWidth, out.Second.FrameHeight)
	}
	if out.Second.Overlays == 0 {
		t.Fatal("no overlay reached the page's data channel")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(out.Grab.PNG, "data:image/png;base64,"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(artifacts, "whep-frame.png"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	seq, at, ok := capture.ReadMarker(img)
	if !ok {
		t.Fatal("the frame Chromium presented carries no readable capture marker")
	}
	shown := time.UnixMicro(int64(out.Grab.ShownAtMs * 1000))
	t.Logf("Chromium presented frame %d (%dx%d) %v after capture; screenshot %s", seq, out.Grab.Width, out.Grab.Height, shown.Sub(at).Round(100*time.Microsecond), shot)
	if st, err := os.Stat(shot); err != nil || st.Size() == 0 {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	waitFor(t, "the page's DELETE", func() bool { return r.srv.Stats().Viewers == 0 })
}
