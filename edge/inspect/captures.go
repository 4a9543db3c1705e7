package inspect

import (
	"sync"
	"time"

	"github.com/imageflowcanvas/ifc/edge/prefilter"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// session is one inspection: a product, a lot/serial and an inspector.
type session struct {
	ID        string
	Master    *ifcv1.InspectionMaster
	Lot       string
	Serial    string
	Inspector string
	StartedAt time.Time
	Captures  int
	Saved     int
}

// capture is one still waiting for (or holding) the human verdict. Its id
// is the record_id the verdict will be saved under.
type capture struct {
	ID          string
	SessionID   string
	CapturedAt  time.Time
	TakenAt     time.Time // when it entered the store, for the TTL
	Image       []byte
	ContentType string
	Sha256      string
	Width       int
	Height      int
	Prefilter   prefilter.Result

	mu    sync.Mutex              // serialises verdict submission for this capture
	saved *ifcv1.InspectionRecord // set once the verdict is durable
}

// captureStore holds unconfirmed captures in memory, bounded in count and
// age. The oldest capture is dropped first when it is full.
type captureStore struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	items map[string]*capture
	order []string // insertion order, oldest first
}

func newCaptureStore(max int, ttl time.Duration) *captureStore {
	return &captureStore{max: max, ttl: ttl, items: map[string]*capture{}}
}

func (cs *captureStore) put(c *capture, now time.Time) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.expire(now)
	for len(cs.order) >= cs.max {
		delete(cs.items, cs.order[0])
		cs.order = cs.order[1:]
	}
	cs.items[c.ID] = c
	cs.order = append(cs.order, c.ID)
}

func (cs *captureStore) get(id string, now time.Time) *capture {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.expire(now)
	return cs.items[id]
}

// expire drops captures older than the TTL; the caller holds mu.
func (cs *captureStore) expire(now time.Time) {
	n := 0
	for _, id := range cs.order {
		c := cs.items[id]
		if now.Sub(c.TakenAt) <= cs.ttl {
			break
		}
		delete(cs.items, id)
		n++
	}
	cs.order = cs.order[n:]
}
