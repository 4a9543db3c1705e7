package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/imageflowcanvas/ifc/cloud/archive"
	"github.com/imageflowcanvas/ifc/cloud/conductor"
	"github.com/imageflowcanvas/ifc/cloud/events"
	"github.com/imageflowcanvas/ifc/cloud/events/kafkabus"
	"github.com/imageflowcanvas/ifc/cloud/execmetrics"
	"github.com/imageflowcanvas/ifc/cloud/objectstore"
)

// DefaultMetricsTopic carries execution metrics records when events go
// through Kafka.
const DefaultMetricsTopic = "ifc.metrics"

// kafkaExtras wires what only exists with kafka:// events: every API
// process publishes one metrics record per finished execution to
// cfg.MetricsTopic (the returned Publisher goes to the conductor), and a
// process with archive: true also runs the archive consumer over the
// progress and metrics topics into the object store. With another bus it
// returns bus unchanged.
func (s *Server) kafkaExtras(bus events.Bus, objects objectstore.Store, store execmetrics.Store, logger *slog.Logger) (conductor.Publisher, error) {
	kb, ok := bus.(*kafkabus.Bus)
	if !ok {
		return bus, nil
	}
	kcfg, err := kafkabus.ParseURL(s.cfg.EventsURL)
	if err != nil {
		return nil, err
	}
	kcfg.Topic = s.cfg.MetricsTopic
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mbus, err := kafkabus.Open(ctx, kcfg, logger)
	if err != nil {
		return nil, fmt.Errorf("open metrics topic: %w", err)
	}
	s.closers = append(s.closers, mbus.Close)
	tap := execmetrics.New(bus, mbus, store, logger)
	s.runners = append(s.runners, tap.Run)
	if s.cfg.Archive {
		a, err := archive.New(archive.Config{
			Brokers:  kcfg.Brokers,
			Topics:   []string{kb.Topic(), mbus.Topic()},
			MaxBytes: s.cfg.ArchiveMaxBytes,
			MaxAge:   s.cfg.ArchiveMaxAge,
		}, objects, logger)
		if err != nil {
			return nil, err
		}
		s.runners = append(s.runners, a.Run)
	}
	return tap, nil
}
