package auth

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves goroutines behind (gRPC
// servers, streams).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
