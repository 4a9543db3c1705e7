package capture

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// runCamera starts c.Run and stops it when the test ends.
func runCamera(t *testing.T, c *Camera) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestOpenRejectsBadSpecs(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "x.png")
	writePNG(t, file, color.RGBA{1, 2, 3, 255})
	for _, spec := range []string{
		"",
		"rtsp://cam",
		"synthetic:?width=10",
		"synthetic:?fps=0",
		"synthetic:?defect_rate=2",
		"synthetic:?seed=-1",
		"synthetic:?colour=red",
		"synthetic:/path",
		"v4l2:video0",
		"v4l2:/dev/../etc/passwd",
		"v4l2:/dev/video0?format=h265",
		"v4l2:/dev/video0?width=abc",
		"folder:relative/dir",
		"folder:" + dir + "/../" + filepath.Base(dir),
		"folder:" + dir + "/",
		"folder:" + file,
		"folder:" + filepath.Join(dir, "nope"),
		"folder:" + t.TempDir(), // no images
		"folder:" + dir + "?fps=1e9",
	} {
		if _, err := Open(spec, Options{}); err == nil {
			t.Errorf("Open(%q) succeeded, want error", spec)
		} else {
			t.Logf("Open(%q): %v", spec, err)
		}
	}
}

func TestMarkerRoundTrip(t *testing.T) {
	at := time.UnixMicro(1_790_000_123_456_789)
	for _, w := range []int{256, 640, 1280, 1920} {
		img := image.NewRGBA(image.Rect(0, 0, w, w*9/16))
		for i := range img.Pix {
			img.Pix[i] = uint8(i * 7)
		}
		DrawMarker(img, 123456789, at)
		seq, got, ok := ReadMarker(img)
		if !ok || seq != 123456789 || !got.Equal(at) {
			t.Fatalf("w=%d: ReadMarker = %d %v %v", w, seq, got, ok)
		}
		// The marker survives lossy coding.
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 40}); err != nil {
			t.Fatal(err)
		}
		dec, err := jpeg.Decode(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if seq, got, ok := ReadMarker(dec); !ok || seq != 123456789 || !got.Equal(at) {
			t.Fatalf("w=%d after JPEG: ReadMarker = %d %v %v", w, seq, got, ok)
		}
	}
	if _, _, ok := ReadMarker(image.NewRGBA(image.Rect(0, 0, 640, 480))); ok {
		t.Fatal("ReadMarker found a marker in a black frame")
	}
	if _, _, ok := ReadMarker(image.NewRGBA(image.Rect(0, 0, 100, 100))); ok {
		t.Fatal("ReadMarker found a marker in a tiny frame")
	}
}

// syntheticFrames collects n frames from a fresh synthetic stream.
func syntheticFrames(t *testing.T, spec string, n int) []Frame {
	t.Helper()
	c, err := Open(spec, Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.src.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out []Frame
	for range n {
		f, err := st.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

// maskMarker blanks the marker so frames can be compared by picture content.
func maskMarker(img *image.RGBA) *image.RGBA {
	c := image.NewRGBA(img.Rect)
	copy(c.Pix, img.Pix)
	r := MarkerBounds(c.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c.SetRGBA(x, y, color.RGBA{})
		}
	}
	return c
}

func TestSyntheticDeterministicBySeed(t *testing.T) {
	const spec = "synthetic:?width=320&height=240&fps=240&defect_rate=1&seed=7&crossing=100ms"
	a := syntheticFrames(t, spec, 60)
	b := syntheticFrames(t, spec, 60)
	c := syntheticFrames(t, strings.Replace(spec, "seed=7", "seed=8", 1), 60)
	defects, moved := 0, false
	for i := range a {
		ai, bi := maskMarker(a[i].Image.(*image.RGBA)), maskMarker(b[i].Image.(*image.RGBA))
		if !bytes.Equal(ai.Pix, bi.Pix) {
			t.Fatalf("frame %d differs between runs with the same seed", i)
		}
		if len(a[i].Truth) != len(b[i].Truth) {
			t.Fatalf("frame %d truth differs: %v vs %v", i, a[i].Truth, b[i].Truth)
		}
		defects += len(a[i].Truth)
		if i > 0 && !bytes.Equal(ai.Pix, maskMarker(a[i-1].Image.(*image.RGBA)).Pix) {
			moved = true
		}
		if seq, at, ok := ReadMarker(a[i].Image); !ok || seq != uint64(i+1) || !at.Equal(a[i].CapturedAt.Truncate(time.Microsecond)) {
			t.Fatalf("frame %d marker = %d %v %v, captured at %v", i, seq, at, ok, a[i].CapturedAt)
		}
	}
	if !moved {
		t.Error("synthetic frames never change: parts do not move")
	}
	if defects == 0 {
		t.Error("defect_rate=1 produced no visible defects in 60 frames")
	}
	same := true
	for i := range a {
		if !bytes.Equal(maskMarker(a[i].Image.(*image.RGBA)).Pix, maskMarker(c[i].Image.(*image.RGBA)).Pix) {
			same = false
		}
	}
	if same {
		t.Error("seeds 7 and 8 drew the same frames")
	}
}

func TestStillReturnsFullResolution(t *testing.T) {
	c, err := Open("synthetic:?fps=60", Options{})
	if err != nil {
		t.Fatal(err)
	}
	runCamera(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := c.Still(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b := f.Image.Bounds(); b.Dx() != 1280 || b.Dy() != 720 {
		t.Fatalf("still is %v, want 1280x720", b)
	}
	st := c.Status()
	if st.State != StateLive || st.Width != 1280 || st.Height != 720 || st.FPS != 60 || st.Frames == 0 {
		t.Fatalf("status %+v", st)
	}
}

func TestSlowSubscriberDoesNotBlockCapture(t *testing.T) {
	c, err := Open("synthetic:?width=320&height=240&fps=200", Options{})
	if err != nil {
		t.Fatal(err)
	}
	slow, cancelSlow := c.Subscribe(1) // never read
	defer cancelSlow()
	fast, cancelFast := c.Subscribe(4)
	runCamera(t, c)
	var last uint64
	for range 40 {
		select {
		case f := <-fast:
			if f.Seq <= last {
				t.Fatalf("seq went from %d to %d", last, f.Seq)
			}
			last = f.Seq
		case <-time.After(5 * time.Second):
			t.Fatal("fast subscriber starved while another subscriber is stuck")
		}
	}
	cancelFast()
	if f := <-slow; f.Seq != 1 {
		t.Fatalf("slow subscriber's buffered frame is %d, want the first", f.Seq)
	}
	// Frames buffered before the cancel may still be read; then the
	// channel must be closed.
	deadline := time.After(5 * time.Second)
	for drained := 0; ; drained++ {
		select {
		case _, ok := <-fast:
			if !ok {
				return
			}
			if drained > cap(fast) {
				t.Fatalf("unsubscribed channel still delivering after %d frames", drained)
			}
		case <-deadline:
			t.Fatal("unsubscribed channel not closed")
		}
	}
}

func writePNG(t *testing.T, path string, c color.RGBA) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFolderReplaysInNameOrderAndLoops(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	writePNG(t, filepath.Join(dir, "b.png"), color.RGBA{0, 255, 0, 255})
	writePNG(t, filepath.Join(dir, "a.png"), color.RGBA{255, 0, 0, 255})
	writePNG(t, filepath.Join(dir, "c.PNG"), color.RGBA{0, 0, 255, 255})
	writePNG(t, filepath.Join(outside, "secret.png"), color.RGBA{9, 9, 9, 255})
	must(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hello"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "bb.jpg"), []byte("not a jpeg"), 0o644))
	must(t, os.Symlink(filepath.Join(outside, "secret.png"), filepath.Join(dir, "d.png")))

	c, err := Open("folder:"+dir+"?fps=200", Options{})
	if err != nil {
		t.Fatal(err)
	}
	ch, cancel := c.Subscribe(16)
	defer cancel()
	runCamera(t, c)
	var got []uint8
	for range 7 {
		f := <-ch
		r, g, b, _ := f.Image.At(10, 10).RGBA()
		switch {
		case r>>8 == 255:
			got = append(got, 'a')
		case g>>8 == 255:
			got = append(got, 'b')
		case b>>8 == 255:
			got = append(got, 'c')
		default:
			got = append(got, '?') // the symlink escaping the folder must never be read
		}
	}
	if string(got) != "abcabca" {
		t.Fatalf("replay order %q, want abcabca (bad jpeg, text file and escaping symlink skipped)", got)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestMissingV4L2DeviceStatus(t *testing.T) {
	c, err := Open("v4l2:/dev/video97?width=1280&height=720&fps=30", Options{MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if st := c.Status(); st.State != StateStarting || st.Width != 1280 || st.FPS != 30 {
		t.Fatalf("status before Run: %+v", st)
	}
	runCamera(t, c)
	waitFor(t, "missing state", func() bool { return c.Status().State == StateMissing })
	st := c.Status()
	if !strings.Contains(st.Err, "/dev/video97") || st.Device != "/dev/video97" {
		t.Fatalf("status %+v does not name the device", st)
	}
	_, err = c.Still(context.Background())
	if !errors.Is(err, ErrNoCamera) || !strings.Contains(err.Error(), "/dev/video97") {
		t.Fatalf("Still = %v, want ErrNoCamera naming the device", err)
	}
}

// fakeDevice is an injected v4l2 opener: the device is present when plugged is true.
type fakeDevice struct {
	plugged atomic.Bool
	opens   atomic.Int32
	mu      sync.Mutex
	live    *fakeStream
}

func (d *fakeDevice) open(_ context.Context, cfg V4L2Config) (Stream, error) {
	d.opens.Add(1)
	if !d.plugged.Load() {
		return nil, ErrNoCamera
	}
	s := &fakeStream{d: d, w: cfg.Width, h: cfg.Height}
	d.mu.Lock()
	d.live = s
	d.mu.Unlock()
	return s, nil
}

type fakeStream struct {
	d    *fakeDevice
	w, h int
}

func (s *fakeStream) Next(ctx context.Context) (Frame, error) {
	select {
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	case <-time.After(time.Millisecond):
	}
	if !s.d.plugged.Load() {
		return Frame{}, errors.New("VIDIOC_DQBUF: no such device: " + ErrNoCamera.Error())
	}
	return Frame{CapturedAt: time.Now(), Image: image.NewYCbCr(image.Rect(0, 0, s.w, s.h), image.YCbCrSubsampleRatio420)}, nil
}

func (s *fakeStream) Close() error { return nil }

func TestV4L2ReopensWhenDeviceReturns(t *testing.T) {
	dev := &fakeDevice{}
	c, err := Open("v4l2:/dev/video3?width=640&height=480&format=mjpeg", Options{
		MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond, V4L2Opener: dev.open,
	})
	if err != nil {
		t.Fatal(err)
	}
	runCamera(t, c)
	waitFor(t, "missing", func() bool { return c.Status().State == StateMissing })
	waitFor(t, "retries", func() bool { return dev.opens.Load() >= 3 })
	if st := c.Status(); !strings.Contains(st.Err, "/dev/video3") {
		t.Fatalf("missing status does not name the device: %+v", st)
	}

	dev.plugged.Store(true) // plug in
	waitFor(t, "live", func() bool { return c.Status().State == StateLive })
	f, err := c.Still(context.Background())
	if err != nil || f.Image.Bounds().Dx() != 640 {
		t.Fatalf("Still after plug-in = %v, %v", f.Image, err)
	}

	dev.plugged.Store(false) // unplug mid-stream: an unclassified read error is "error"
	waitFor(t, "not live", func() bool { return c.Status().State != StateLive })
	if _, err := c.Still(context.Background()); err == nil {
		t.Fatal("Still succeeded with the camera unplugged")
	}
	waitFor(t, "missing again", func() bool { return c.Status().State == StateMissing })
	opens := dev.opens.Load()
	dev.plugged.Store(true)
	waitFor(t, "live again", func() bool { return c.Status().State == StateLive })
	if dev.opens.Load() <= opens {
		t.Fatal("camera went live without reopening")
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	c, err := Open("synthetic:?width=320&height=240", Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	waitFor(t, "live", func() bool { return c.Status().State == StateLive })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if _, err := c.Still(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Still after stop = %v, want ErrUnavailable", err)
	}
	if err := c.Run(context.Background()); err == nil {
		t.Fatal("second Run succeeded")
	}
}

func BenchmarkSyntheticFrame(b *testing.B) {
	c, err := Open("synthetic:?fps=240", Options{})
	if err != nil {
		b.Fatal(err)
	}
	sc := newScene(c.src.(*synthetic).cfg)
	b.ResetTimer()
	for i := range b.N {
		img, _ := sc.render(i)
		DrawMarker(img, uint64(i), time.Now())
	}
}

// FuzzOpen feeds arbitrary specs to the parser: it must return a Camera or an error, never panic.
func FuzzOpen(f *testing.F) {
	for _, s := range []string{"synthetic:", "synthetic:?width=1280&height=720&fps=30&defect_rate=0.3&seed=1",
		"v4l2:/dev/video0?width=1280&height=720&fps=30&format=mjpeg", "folder:/tmp", "folder:%2e%2e", "v4l2:/dev/%00", "::", "synthetic:?fps=NaN"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		c, err := Open(spec, Options{V4L2Opener: (&fakeDevice{}).open})
		if err == nil && c.Status().State != StateStarting {
			t.Fatalf("Open(%q) started something: %+v", spec, c.Status())
		}
	})
}
