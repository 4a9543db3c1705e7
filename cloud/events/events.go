// Package events carries progress events from conductors to every API
// instance. Implementations are chosen by URL scheme (nats:// embedded or
// external now, kafka:// later).
package events

import (
	"context"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// Handler receives progress events. It must not block for long.
type Handler func(*ifcv1.ProgressEvent)

// Bus publishes progress events and delivers every event to every
// subscriber. Events of one execution are delivered in publish order.
type Bus interface {
	Publish(ctx context.Context, ev *ifcv1.ProgressEvent) error
	// Subscribe delivers all progress events until ctx is done or the
	// returned cancel function is called.
	Subscribe(ctx context.Context, h Handler) (cancel func(), err error)
	Close() error
}
