package inspect

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// wsWriteTimeout bounds one WebSocket write; a client slower than that is dropped.
const wsWriteTimeout = 5 * time.Second

// hub fans the latest status out to WebSocket clients. Each client has a
// one-slot mailbox holding the newest message: a slow client skips
// intermediate states but always ends up with the current one, and never
// holds up the others.
type hub struct {
	log    *slog.Logger
	kicked chan struct{}

	mu      sync.Mutex
	last    []byte
	clients map[*wsClient]struct{}
	closed  bool
	wg      sync.WaitGroup
}

type wsClient struct {
	mailbox chan []byte // capacity 1: the newest message
	done    chan struct{}
}

func newHub(log *slog.Logger) *hub {
	return &hub{log: log, kicked: make(chan struct{}, 1), clients: map[*wsClient]struct{}{}}
}

// kick asks Run for an immediate status refresh.
func (h *hub) kick() {
	select {
	case h.kicked <- struct{}{}:
	default:
	}
}

// publish sends st to every client if it differs from the last one sent.
func (h *hub) publish(st StatusJSON) {
	msg, err := json.Marshal(WSMessage{Type: "status", Status: &st})
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if bytes.Equal(msg, h.last) {
		return
	}
	h.last = msg
	for c := range h.clients {
		deliver(c, msg)
	}
}

// deliver replaces whatever is waiting in c's mailbox with msg.
func deliver(c *wsClient, msg []byte) {
	select {
	case <-c.mailbox:
	default:
	}
	c.mailbox <- msg
}

// offer gives c msg unless a newer message is already waiting.
func (h *hub) offer(c *wsClient, msg []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(c.mailbox) == 0 {
		c.mailbox <- msg
	}
}

func (h *hub) add() (*wsClient, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false
	}
	c := &wsClient{mailbox: make(chan []byte, 1), done: make(chan struct{})}
	if h.last != nil {
		c.mailbox <- h.last
	}
	h.clients[c] = struct{}{}
	h.wg.Add(1)
	return c, true
}

func (h *hub) remove(c *wsClient) {
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
	h.wg.Done()
}

// shutdown closes every client and waits for their handlers to return.
func (h *hub) shutdown() {
	h.mu.Lock()
	h.closed = true
	for c := range h.clients {
		close(c.done)
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// websocket serves /api/v1/ws: the current status on connect, then every change.
func (s *Server) websocket(w http.ResponseWriter, r *http.Request) {
	c, ok := s.hub.add()
	if !ok {
		s.fail(w, r, &apiError{status: http.StatusServiceUnavailable, typ: ProblemInternal, msg: "the agent is shutting down"})
		return
	}
	defer s.hub.remove(c)
	var patterns []string
	for _, o := range s.opts.AllowedOrigins {
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			patterns = append(patterns, u.Host)
		} else if o == "*" {
			patterns = append(patterns, "*")
		}
	}
	// Same-origin, plus the configured origins.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: patterns})
	if err != nil {
		return
	}
	defer conn.CloseNow()
	if len(c.mailbox) == 0 {
		// Run has not published yet: send the current status now.
		if st, err := s.status(r.Context()); err == nil {
			if msg, err := json.Marshal(WSMessage{Type: "status", Status: &st}); err == nil {
				s.hub.offer(c, msg)
			}
		}
	}
	// The client sends nothing; CloseRead answers pings and notices a close.
	ctx := conn.CloseRead(r.Context())
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.done:
			_ = conn.Close(websocket.StatusGoingAway, "agent shutting down")
			return
		case msg := <-c.mailbox:
			wctx, cancel := context.WithTimeout(ctx, wsWriteTimeout)
			err := conn.Write(wctx, websocket.MessageText, msg)
			cancel()
			if err != nil {
				s.log.Debug("websocket client dropped", "err", err)
				return
			}
		}
	}
}
