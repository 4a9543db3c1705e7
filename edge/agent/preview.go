package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imageflowcanvas/ifc/edge/capture"
	"github.com/imageflowcanvas/ifc/edge/inspect"
	"github.com/imageflowcanvas/ifc/edge/whep"
)

// preview is the WHEP live preview as the agent uses it (edge/whep.Server).
type preview interface {
	Handler() http.Handler // POST /whep and the session resources under /whep/
	Run(ctx context.Context) error
	PublishOverlay(v any) error
	Latest() (capture.Frame, bool) // the newest frame Run has seen
}

// liveFrames serves the local API's still-frame live view from the frames
// the preview already takes from the camera: no second subscription, no
// still, no pre-filter.
type liveFrames struct {
	cam  *capture.Camera
	prev preview
}

// LatestFrame returns the preview's newest frame while the camera is live.
func (l liveFrames) LatestFrame() (inspect.Frame, uint64, error) {
	st := l.cam.Status()
	if st.State != capture.StateLive {
		msg := st.State
		if st.Err != "" {
			msg += ": " + st.Err
		}
		return inspect.Frame{}, 0, fmt.Errorf("%w: camera %s is %s", inspect.ErrNoCamera, st.Device, msg)
	}
	f, ok := l.prev.Latest()
	if !ok {
		return inspect.Frame{}, 0, fmt.Errorf("%w: camera %s has delivered no frame yet", inspect.ErrNoCamera, st.Device)
	}
	return inspect.Frame{Image: f.Image, CapturedAt: f.CapturedAt}, f.Seq, nil
}

// newPreview builds the WHEP preview for cam: one shared VP8 encoder, host
// candidates on loopback only unless allow_remote opens every interface.
func newPreview(cam *capture.Camera, cfg Config, reg prometheus.Registerer, log *slog.Logger) (preview, error) {
	opts := whep.Options{Logger: log, Registerer: reg}
	if cfg.AllowRemote {
		opts.Interfaces = []string{"*"}
	}
	opts.AllowOrigins = cfg.Origins()
	return whep.New(cam, opts)
}
