package whep

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"io"
	"slices"
	"syscall"
	"testing"
	"time"

	mdvpx "github.com/pion/mediadevices/pkg/codec/vpx"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"

	"github.com/imageflowcanvas/ifc/edge/capture"
)

// frameFeed hands the libvpx decoder one whole compressed frame per Read.
type frameFeed struct{ next []byte }

func (f *frameFeed) Read(p []byte) (int, error) {
	if f.next == nil {
		return 0, io.EOF
	}
	n := copy(p, f.next)
	f.next = nil
	return n, nil
}

// BenchmarkCaptureToReceive720p measures camera frame → WebRTC receiver over loopback at
// 1280×720, 30 fps: the capture time is read from the marker in the decoded picture and
// compared with the arrival of the frame's last RTP packet. One iteration is one frame,
// so run it with -benchtime 300x (10 s of video).
func BenchmarkCaptureToReceive720p(b *testing.B) {
	r := startRig(b, "synthetic:?width=1280&height=720&fps=30&seed=1", Options{})
	v := dial(b, r.url)
	defer v.close()
	feed := &frameFeed{}
	dec, err := mdvpx.NewDecoder(feed, prop.Media{Video: prop.Video{Width: 1280, Height: 720}})
	if err != nil {
		b.Fatal(err)
	}
	defer dec.Close()
	// Start from a key frame so every later frame decodes.
	for f := range v.frames {
		if f.key {
			feed.next = f.data
			if _, _, err := dec.Read(); err != nil {
				b.Fatal(err)
			}
			break
		}
	}
	lat := make([]time.Duration, 0, b.N)
	misses := 0
	b.ResetTimer()
	for range b.N {
		var f rxFrame
		select {
		case f = <-v.frames:
		case <-time.After(10 * time.Second):
			b.Fatal("no frame for 10s")
		}
		feed.next = f.data
		img, _, err := dec.Read()
		if err != nil {
			b.Fatal(err)
		}
		_, at, ok := capture.ReadMarker(img)
		if !ok {
			misses++
			continue
		}
		lat = append(lat, f.arrived.Sub(at))
	}
	b.StopTimer()
	if len(lat) == 0 {
		b.Fatal("no marker read")
	}
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	st := r.srv.Stats()
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.95), "p95-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(st.CaptureToSend.P50.Microseconds())/1000, "send-p50-ms")
	b.ReportMetric(float64(st.Encode.P50.Microseconds())/1000, "encode-p50-ms")
	b.ReportMetric(float64(misses), "unreadable-markers")
	if st.FramesSent > 0 {
		b.ReportMetric(float64(st.BytesSent*8)/float64(st.FramesSent)*30/1e6, "Mbps@30fps")
	}
}

// syntheticFrames captures n 1280×720 synthetic frames.
func syntheticFrames(b *testing.B, n int) []image.Image {
	cam, err := capture.Open("synthetic:?width=1280&height=720&fps=240&seed=1", capture.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ch, unsub := cam.Subscribe(n)
	defer unsub()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = cam.Run(ctx) }()
	out := make([]image.Image, 0, n)
	for len(out) < n {
		out = append(out, (<-ch).Image)
	}
	cancel()
	<-done
	return out
}

func toYCbCr(img image.Image) *image.YCbCr {
	y := image.NewYCbCr(img.Bounds(), image.YCbCrSubsampleRatio420)
	for py := 0; py < img.Bounds().Dy(); py++ {
		for px := 0; px < img.Bounds().Dx(); px++ {
			r, g, bl, _ := img.At(px, py).RGBA()
			yy, cb, cr := color.RGBToYCbCr(uint8(r>>8), uint8(g>>8), uint8(bl>>8))
			y.Y[y.YOffset(px, py)] = yy
			y.Cb[y.COffset(px, py)] = cb
			y.Cr[y.COffset(px, py)] = cr
		}
	}
	return y
}

// benchEncode measures the shared encoder per 1280×720 frame at the default 2.5 Mbps.
func benchEncode(b *testing.B, frames []image.Image, cpuUsed int) {
	enc, err := NewEncoder(EncoderConfig{Width: 1280, Height: 720, BitRate: 2_500_000, KeyFrameInterval: 60, CPUUsed: cpuUsed})
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	bytes := 0
	t0 := time.Now()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := range b.N {
		data, _, err := enc.Encode(frames[i%len(frames)], t0.Add(time.Duration(i)*time.Second/30), false)
		if err != nil {
			b.Fatal(err)
		}
		bytes += len(data)
	}
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes/frame")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/frame")
}

// cpuTime is the process's user+system CPU time: unlike wall time it does not grow when
// other processes compete for the cores.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEncodeVP8RGBA720p includes the RGBA → I420 conversion the synthetic source needs.
func BenchmarkEncodeVP8RGBA720p(b *testing.B) {
	frames := syntheticFrames(b, 60)
	for _, cpu := range []int{4, 8, 12, 16} {
		b.Run(fmt.Sprintf("cpu-used=%d", cpu), func(b *testing.B) { benchEncode(b, frames, cpu) })
	}
}

// BenchmarkEncodeVP8YCbCr720p is the encoder alone, as with a camera delivering YUV.
func BenchmarkEncodeVP8YCbCr720p(b *testing.B) {
	frames := syntheticFrames(b, 60)
	for i, f := range frames {
		frames[i] = toYCbCr(f)
	}
	benchEncode(b, frames, 16)
}

// BenchmarkEncodeVP8Mediadevices720p is mediadevices' own libvpx codec (cpu-used 0, one
// thread, no intra cap) at the same bit rate, for comparison.
func BenchmarkEncodeVP8Mediadevices720p(b *testing.B) {
	frames := syntheticFrames(b, 60)
	p, err := mdvpx.NewVP8Params()
	if err != nil {
		b.Fatal(err)
	}
	p.BitRate, p.KeyFrameInterval, p.RateControlEndUsage = 2_500_000, 60, mdvpx.RateControlCBR
	var cur image.Image
	enc, err := p.BuildVideoEncoder(video.ReaderFunc(func() (image.Image, func(), error) { return cur, func() {}, nil }),
		prop.Media{Video: prop.Video{Width: 1280, Height: 720, FrameRate: 30}})
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	bytes := 0
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := range b.N {
		cur = frames[i%len(frames)]
		data, release, err := enc.Read()
		if err != nil {
			b.Fatal(err)
		}
		bytes += len(data)
		release()
	}
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes/frame")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/frame")
}
