package inspect

import (
	"bytes"
	"fmt"
	"image"
	"net/http"
	"strconv"
	"sync"

	"gocv.io/x/gocv"

	"github.com/imageflowcanvas/ifc/models/infer"
)

// LiveView gives the newest frame the live preview already has; it takes
// no still and opens nothing (the agent adapts edge/whep.Server.Latest).
type LiveView interface {
	// LatestFrame returns the newest live frame and its sequence number,
	// which grows with every new frame. Errors wrapping ErrNoCamera mean
	// no frames are flowing.
	LatestFrame() (Frame, uint64, error)
}

// Preview still defaults: small enough to fetch several times a second on
// loopback, large enough to judge the part by.
const (
	PreviewMaxWidth    = 1280
	PreviewJPEGQuality = 80
)

// previewCache holds the JPEG of the last frame served, so viewers polling
// faster than the camera (or several viewers) share one encode.
type previewCache struct {
	mu   sync.Mutex // held across an encode: concurrent requests wait for it rather than encode twice
	seq  uint64
	data []byte
}

// jpeg returns the JPEG of frame seq, encoding it unless it is the cached one.
func (c *previewCache) jpeg(f Frame, seq uint64) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.data != nil && c.seq == seq {
		return c.data, nil
	}
	data, err := encodePreview(f.Image)
	if err != nil {
		return nil, err
	}
	c.seq, c.data = seq, data
	return data, nil
}

// encodePreview scales img to at most PreviewMaxWidth wide (keeping the
// aspect ratio) and encodes it as JPEG.
func encodePreview(img image.Image) ([]byte, error) {
	mat, err := infer.MatFromImage(img)
	if err != nil {
		return nil, fmt.Errorf("preview frame to Mat: %w", err)
	}
	defer mat.Close()
	if w, h := mat.Cols(), mat.Rows(); w > PreviewMaxWidth {
		small := gocv.NewMat()
		defer small.Close()
		gocv.Resize(mat, &small, image.Pt(PreviewMaxWidth, max(1, h*PreviewMaxWidth/w)), 0, 0, gocv.InterpolationArea)
		mat.Close()
		mat = small.Clone()
	}
	buf, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, mat, []int{gocv.IMWriteJpegQuality, PreviewJPEGQuality})
	if err != nil {
		return nil, fmt.Errorf("encode preview frame: %w", err)
	}
	defer buf.Close()
	return bytes.Clone(buf.GetBytes()), nil
}

// previewFrame serves the newest live frame as a JPEG for viewers that
// cannot play the WHEP stream (a webview without WebRTC). It creates no
// capture and runs no pre-filter.
func (s *Server) previewFrame(w http.ResponseWriter, r *http.Request) {
	if s.opts.Live == nil {
		s.fail(w, r, fmt.Errorf("%w: this agent has no live preview", ErrNoCamera))
		return
	}
	f, seq, err := s.opts.Live.LatestFrame()
	if err != nil {
		s.fail(w, r, fmt.Errorf("live frame: %w", err))
		return
	}
	data, err := s.preview.jpeg(f, seq)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/jpeg")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Seq", strconv.FormatUint(seq, 10))
	if !f.CapturedAt.IsZero() {
		h.Set("X-Captured-At", f.CapturedAt.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	}
	h.Set("Content-Length", strconv.Itoa(len(data)))
	_, _ = w.Write(data)
}
