package whep

import (
	"context"
	"encoding/json"
	"image"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"github.com/imageflowcanvas/ifc/edge/capture"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// net/http lingers 500ms after refusing an oversized body.
		goleak.IgnoreAnyFunction("net/http.(*conn).closeWriteAndWait"),
	)
}

// rig is a camera, a WHEP server and an HTTP listener on 127.0.0.1:0, all running.
type rig struct {
	cam    *capture.Camera
	srv    *Server
	url    string // endpoint URL
	base   string // scheme://host
	frames sync.Map
}

func startRig(t testing.TB, spec string, opts Options) *rig {
	t.Helper()
	cam, err := capture.Open(spec, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(cam, opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, "browsertest/index.html")
	})
	mux := http.NewServeMux()
	mux.Handle("/whep", srv.Handler())
	mux.Handle("/whep/", srv.Handler())
	mux.Handle("/", page)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	r := &rig{cam: cam, srv: srv, base: "http://" + ln.Addr().String()}
	r.url = r.base + "/whep"
	// Keep the source frames by seq so tests can compare what the viewer decoded.
	src, unsub := cam.Subscribe(64)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(4)
	go func() { defer wg.Done(); _ = cam.Run(ctx) }()
	go func() {
		defer wg.Done()
		if err := srv.Run(ctx); err != nil {
			t.Errorf("whep Run: %v", err)
		}
	}()
	go func() { defer wg.Done(); _ = hs.Serve(ln) }()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case f := <-src:
				r.frames.Store(f.Seq, f)
				r.frames.Delete(f.Seq - 128)
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = hs.Close()
		wg.Wait()
		unsub()
		http.DefaultClient.CloseIdleConnections()
	})
	return r
}

// psnr compares the luma of two pictures of the same size, ignoring the marker area.
func psnr(a, b image.Image) float64 {
	r := a.Bounds()
	skip := capture.MarkerBounds(r)
	var se float64
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y += 2 {
		for x := r.Min.X; x < r.Max.X; x += 2 {
			if image.Pt(x, y).In(skip) {
				continue
			}
			d := float64(lumaAt(a, x, y)) - float64(lumaAt(b, x, y))
			se += d * d
			n++
		}
	}
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(se/float64(n)))
}

func lumaAt(img image.Image, x, y int) uint8 {
	if m, ok := img.(*image.YCbCr); ok {
		return m.Y[m.YOffset(x, y)]
	}
	// BT.601 studio swing, as the encoder converts (and as browsers expect VP8 to be).
	r, g, b, _ := img.At(x, y).RGBA()
	return uint8((66*int(r>>8) + 129*int(g>>8) + 25*int(b>>8) + 128 + 16<<8) >> 8)
}

func TestViewersReceiveTheCameraPicture(t *testing.T) {
	r := startRig(t, "synthetic:?width=640&height=360&fps=30&seed=3&crossing=1s", Options{KeyFrameInterval: 15})
	v1 := dial(t, r.url)
	defer v1.close()
	v2 := dial(t, r.url)
	defer v2.close()

	for i, v := range []*viewer{v1, v2} {
		img, rx := v.keyFrame(t)
		if b := img.Bounds(); b.Dx() != 640 || b.Dy() != 360 {
			t.Fatalf("viewer %d: decoded %v, want 640x360", i, b)
		}
		seq, at, ok := capture.ReadMarker(img)
		if !ok {
			t.Fatalf("viewer %d: no capture marker in the decoded key frame", i)
		}
		lat := rx.arrived.Sub(at)
		if lat < 0 || lat > 5*time.Second {
			t.Fatalf("viewer %d: frame %d captured at %v arrived at %v", i, seq, at, rx.arrived)
		}
		f, ok := r.frames.Load(seq)
		if !ok {
			t.Fatalf("viewer %d: source frame %d not recorded", i, seq)
		}
		src := f.(capture.Frame)
		if !src.CapturedAt.Truncate(time.Microsecond).Equal(at) {
			t.Fatalf("viewer %d: marker time %v, source frame %d captured %v", i, at, seq, src.CapturedAt)
		}
		if p := psnr(src.Image, img); p < 32 {
			t.Fatalf("viewer %d: decoded frame %d differs from the camera frame: PSNR %.1f dB", i, seq, p)
		} else {
			t.Logf("viewer %d: frame %d decoded, PSNR %.1f dB against the camera frame, capture→arrival %v", i, seq, p, lat)
		}
	}

	// Overlays reach every viewer's data channel.
	waitFor(t, "data channels open", func() bool {
		return r.srv.PublishOverlay(map[string]any{"ping": 1}) == nil && len(v1.messages) > 0 && len(v2.messages) > 0
	})
	drain(v1.messages)
	drain(v2.messages)
	type overlay struct {
		Label string  `json:"label"`
		Score float64 `json:"score"`
	}
	if err := r.srv.PublishOverlay(overlay{Label: "scratch", Score: 0.91}); err != nil {
		t.Fatal(err)
	}
	for i, v := range []*viewer{v1, v2} {
	next:
		select {
		case m := <-v.messages:
			if strings.Contains(m, "ping") {
				goto next // a readiness probe still in flight
			}
			var o overlay
			if err := json.Unmarshal([]byte(m), &o); err != nil || o.Label != "scratch" || o.Score != 0.91 {
				t.Fatalf("viewer %d overlay %q (%v)", i, m, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("viewer %d: no overlay", i)
		}
	}
	if err := r.srv.PublishOverlay(func() {}); err == nil {
		t.Fatal("PublishOverlay accepted a value JSON cannot encode")
	}

	// DELETE frees the session; the other viewer keeps receiving.
	if st := r.srv.Stats(); st.Viewers != 2 || st.FramesSent == 0 || st.CaptureToSend.N == 0 {
		t.Fatalf("stats %+v", st)
	}
	if code := deleteSession(t, r.base, v1.location); code != http.StatusOK {
		t.Fatalf("DELETE = %d", code)
	}
	if code := deleteSession(t, r.base, v1.location); code != http.StatusNotFound {
		t.Fatalf("second DELETE = %d, want 404", code)
	}
	waitFor(t, "one viewer", func() bool { return r.srv.Stats().Viewers == 1 })
	waitFor(t, "viewer 1 disconnected", func() bool {
		s := v1.pc.ConnectionState()
		return s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed || s == webrtc.PeerConnectionStateDisconnected
	})
	drainFrames(v2.frames)
	if _, rx := v2.keyFrame(t); rx.data == nil {
		t.Fatal("viewer 2 stopped receiving after viewer 1 left")
	}
	st := r.srv.Stats()
	t.Logf("stats: %+v", st)

	// A viewer that vanishes without DELETE is reaped when its connection closes or fails.
	v2.close()
	waitFor(t, "the vanished viewer reaped", func() bool { return r.srv.Stats().Viewers == 0 })
}

func drain(ch chan string) {
	for len(ch) > 0 {
		<-ch
	}
}

func drainFrames(ch chan rxFrame) {
	for len(ch) > 0 {
		<-ch
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestProtocolErrors(t *testing.T) {
	r := startRig(t, "synthetic:?width=320&height=240&fps=10", Options{MaxViewers: 1})
	do := func(method, path, ctype, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, r.base+path, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	audioOnly := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n"
	for _, c := range []struct {
		method, path, ctype, body string
		want                      int
	}{
		{"POST", "/whep", "application/sdp", "this is not SDP", 400},
		{"POST", "/whep", "application/sdp", audioOnly, 400},
		{"POST", "/whep", "application/json", "{}", 415},
		{"POST", "/whep", "application/sdp", strings.Repeat("a", maxOfferBytes+1), 413},
		{"GET", "/whep", "", "", 405},
		{"PATCH", "/whep/abc", "application/trickle-ice-sdpfrag", "a=candidate:1", 405},
		{"DELETE", "/whep/unknown", "", "", 404},
		{"GET", "/whep/a/b", "", "", 404},
	} {
		if resp := do(c.method, c.path, c.ctype, c.body); resp.StatusCode != c.want {
			t.Errorf("%s %s (%s): %d, want %d", c.method, c.path, c.ctype, resp.StatusCode, c.want)
		}
	}
	resp := do("OPTIONS", "/whep", "", "")
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Accept-Post") != "application/sdp" ||
		resp.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "Location") {
		t.Fatalf("OPTIONS: %d %v", resp.StatusCode, resp.Header)
	}
	if r.srv.Stats().Viewers != 0 {
		t.Fatal("a refused offer left a session behind")
	}
	v := dial(t, r.url)
	defer v.close()
	pc, _, offer := newOffer(t, newClientAPI(t))
	defer pc.Close()
	if resp := do("POST", "/whep", "application/sdp", offer); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("viewer over MaxViewers: %d", resp.StatusCode)
	}
}

func TestNewValidatesOptions(t *testing.T) {
	cam, err := capture.Open("synthetic:", capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []Options{{Path: "whep"}, {Path: "/whep/"}, {BitRate: 10}, {KeyFrameInterval: -1}, {MaxViewers: -1}} {
		if _, err := New(cam, o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New(nil source) succeeded")
	}
}

// FuzzCheckOffer feeds arbitrary offers to the SDP gate in front of pion: no panics, and
// only offers with a VP8 video section pass.
func FuzzCheckOffer(f *testing.F) {
	f.Add("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:96 VP8/90000\r\n")
	f.Add("v=0\r\nm=audio 9 RTP/AVP 0\r\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, offer string) {
		if err := checkOffer(offer); err == nil && !strings.Contains(strings.ToUpper(offer), "VP8/90000") {
			t.Fatalf("offer without VP8 accepted: %q", offer)
		}
	})
}
