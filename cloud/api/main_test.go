package api

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves goroutines behind (WebSocket
// writers, process workers, watchers, Run).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
