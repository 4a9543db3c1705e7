package events_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/imageflowcanvas/ifc/cloud/events"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

func TestValidate(t *testing.T) {
	for _, id := range []string{"0196f3a2-7b7e-7c3a-9d1e-0123456789ab", "exec_1", strings.Repeat("a", events.MaxExecutionIDLen)} {
		if err := events.Validate(&ifcv1.ProgressEvent{ExecutionId: id}); err != nil {
			t.Errorf("Validate(%q) = %v", id, err)
		}
	}
	for _, id := range []string{"", "a.b", "a*", ">", "a b", "ü", strings.Repeat("a", events.MaxExecutionIDLen+1)} {
		if err := events.Validate(&ifcv1.ProgressEvent{ExecutionId: id}); !errors.Is(err, events.ErrInvalidEvent) {
			t.Errorf("Validate(%.20q) = %v, want ErrInvalidEvent", id, err)
		}
	}
	if err := events.Validate(nil); !errors.Is(err, events.ErrInvalidEvent) {
		t.Errorf("Validate(nil) = %v", err)
	}
}
