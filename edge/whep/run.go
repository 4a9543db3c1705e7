package whep

import (
	"context"
	"errors"
	"time"

	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/imageflowcanvas/ifc/edge/capture"
)

// Run keeps the source's newest frame for Latest, and encodes frames while at least one
// viewer is connected and writes them
// to every viewer's track, until ctx ends; then it closes every session. It may be called once.
func (s *Server) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("whep: Run called twice")
	}
	frames, unsubscribe := s.src.Subscribe(1)
	defer unsubscribe()
	defer s.closeAll()
	var enc *Encoder
	defer func() {
		if enc != nil {
			_ = enc.Close()
		}
	}()
	var last time.Time
	for {
		var f capture.Frame
		select {
		case <-ctx.Done():
			return nil
		case fr, ok := <-frames:
			if !ok {
				return nil
			}
			f = fr
		}
		f = latest(frames, f)
		s.latest.Store(&f)
		s.framesIn.Add(1)
		if s.viewers() == 0 {
			last = time.Time{}
			continue
		}
		b := f.Image.Bounds()
		if enc == nil || enc.cfg.Width != b.Dx() || enc.cfg.Height != b.Dy() {
			if enc != nil {
				_ = enc.Close()
			}
			var err error
			enc, err = NewEncoder(EncoderConfig{Width: b.Dx(), Height: b.Dy(), BitRate: s.opts.BitRate,
				KeyFrameInterval: s.opts.KeyFrameInterval, CPUUsed: s.opts.CPUUsed})
			if err != nil {
				s.log.Error("encoder unavailable, frame dropped", "err", err)
				continue
			}
			s.keyFrame.Store(true)
			s.log.Info("encoder started", "width", b.Dx(), "height", b.Dy(), "bit_rate", s.opts.BitRate)
		}
		t0 := time.Now()
		data, key, err := enc.Encode(f.Image, f.CapturedAt, s.keyFrame.Swap(false))
		encoded := time.Now()
		if err != nil {
			s.log.Error("encode failed, restarting encoder", "seq", f.Seq, "err", err)
			_ = enc.Close()
			enc = nil
			continue
		}
		if len(data) == 0 {
			continue
		}
		dur := time.Second / 30
		if !last.IsZero() {
			dur = min(time.Second, max(time.Millisecond, f.CapturedAt.Sub(last)))
		}
		last = f.CapturedAt
		if err := s.track.WriteSample(media.Sample{Data: data, Duration: dur}); err != nil {
			s.log.Debug("write sample", "err", err)
			continue
		}
		sent := time.Since(f.CapturedAt)
		s.encodeTime.add(encoded.Sub(t0))
		s.captureToSend.add(sent)
		s.metrics.encode.Observe(encoded.Sub(t0).Seconds())
		s.metrics.captureToSend.Observe(sent.Seconds())
		s.framesSent.Add(1)
		s.bytesSent.Add(uint64(len(data)))
		if key {
			s.keyFrames.Add(1)
		}
	}
}

// latest returns the newest frame already waiting, so the encoder never works on a stale one.
func latest(frames <-chan capture.Frame, f capture.Frame) capture.Frame {
	for {
		select {
		case g, ok := <-frames:
			if !ok {
				return f
			}
			f = g
		default:
			return f
		}
	}
}
