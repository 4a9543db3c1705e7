package events

import (
	"errors"
	"fmt"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// ErrInvalidEvent is returned by Publish for events that cannot be routed.
var ErrInvalidEvent = errors.New("invalid progress event")

// MaxExecutionIDLen bounds execution ids used as routing keys.
const MaxExecutionIDLen = 128

// Validate checks that ev can be published: the execution id becomes a
// subject token (NATS) or partition key (Kafka), so it must be 1..128
// bytes of letters, digits, '-' and '_' (UUIDs fit).
func Validate(ev *ifcv1.ProgressEvent) error {
	if ev == nil {
		return fmt.Errorf("%w: nil", ErrInvalidEvent)
	}
	id := ev.GetExecutionId()
	if id == "" || len(id) > MaxExecutionIDLen {
		return fmt.Errorf("%w: execution id must be 1..%d bytes", ErrInvalidEvent, MaxExecutionIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		if !ok {
			return fmt.Errorf("%w: execution id %q has byte 0x%02x", ErrInvalidEvent, id, c)
		}
	}
	return nil
}
