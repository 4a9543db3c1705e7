package bustest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// FallbackQueue is the fallback-queue contract (conductor.FallbackQueue)
// that kafkabus and natsbus offer beside events.Bus.
type FallbackQueue interface {
	EnqueueFallback(ctx context.Context, key string, job []byte) error
	ConsumeFallback(ctx context.Context, limit int, h func(ctx context.Context, job []byte) error) error
}

// RunFallback checks the contract over two consumers of one queue (two
// replicas): every job is handled, by one of them; a job whose handler
// fails is delivered again; a job whose consumer stops mid-job is
// completed by the other. a and b must share a fresh queue; wait bounds
// each step (a Kafka group needs seconds to form and rebalance).
func RunFallback(t *testing.T, a, b FallbackQueue, wait time.Duration) {
	var (
		mu       sync.Mutex
		handled  = map[string][]string{} // job → consumers that finished it
		failed   = map[string]bool{}
		holder   = make(chan string, 1) // which consumer holds "interrupt"
		heldOnce bool
	)
	handler := func(name string) func(context.Context, []byte) error {
		return func(ctx context.Context, job []byte) error {
			j := string(job)
			mu.Lock()
			switch {
			case j == "fail-once" && !failed[j]:
				failed[j] = true
				mu.Unlock()
				return errors.New("injected failure")
			case j == "interrupt" && !heldOnce:
				heldOnce = true
				mu.Unlock()
				holder <- name
				<-ctx.Done()
				return ctx.Err()
			}
			handled[j] = append(handled[j], name)
			mu.Unlock()
			return nil
		}
	}
	ctxs := map[string]context.CancelFunc{}
	var wg sync.WaitGroup
	for name, q := range map[string]FallbackQueue{"a": a, "b": b} {
		ctx, cancel := context.WithCancel(context.Background())
		ctxs[name] = cancel
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := q.ConsumeFallback(ctx, 4, handler(name)); err != nil && ctx.Err() == nil {
				t.Errorf("consumer %s: %v", name, err)
			}
		}()
	}
	defer func() {
		for _, c := range ctxs {
			c()
		}
		wg.Wait()
	}()
	until := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(wait)
		for {
			mu.Lock()
			ok := cond()
			mu.Unlock()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out after %v waiting for %s (handled %v)", wait, what, handled)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	jobs := []string{"j0", "j1", "j2", "j3", "j4", "j5", "fail-once"}
	for i, j := range jobs {
		q := a
		if i%2 == 1 {
			q = b
		}
		if err := q.EnqueueFallback(ctx, newID(), []byte(j)); err != nil {
			t.Fatalf("enqueue %s: %v", j, err)
		}
	}
	until("every job", func() bool {
		for _, j := range jobs {
			if len(handled[j]) == 0 {
				return false
			}
		}
		return true
	})
	for _, j := range jobs {
		if n := len(handled[j]); n > 1 {
			t.Logf("job %s handled %d times (at least once allows it; a rebalance during the test?)", j, n)
		}
	}

	if err := a.EnqueueFallback(ctx, newID(), []byte("interrupt")); err != nil {
		t.Fatal(err)
	}
	var name string
	select {
	case name = <-holder:
	case <-time.After(wait):
		t.Fatal("the interrupt job was never delivered")
	}
	ctxs[name]() // the holder stops; the other consumer must finish the job
	until("the interrupted job on the other consumer", func() bool { return len(handled["interrupt"]) > 0 })
	if got := handled["interrupt"][0]; got == name {
		t.Errorf("the interrupted job was finished by its stopped consumer %s", name)
	}
}
