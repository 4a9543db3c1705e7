package agent

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imageflowcanvas/ifc/edge/capture"
	"github.com/imageflowcanvas/ifc/edge/whep"
)

// preview is the WHEP live preview as the agent uses it (edge/whep.Server).
type preview interface {
	Handler() http.Handler // POST /whep and the session resources under /whep/
	Run(ctx context.Context) error
	PublishOverlay(v any) error
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
