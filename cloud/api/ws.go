package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // DecodeConfig of JPEG frames
	_ "image/png"  // DecodeConfig of PNG frames
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/imageflowcanvas/ifc/cloud/auth"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// maxWSSubscriptions bounds the executions one connection follows at once.
const maxWSSubscriptions = 1000

var (
	errSlowConsumer = errors.New("slow consumer")
	errShutdown     = errors.New("server shutting down")
	errTokenExpired = errors.New("token expired")
)

// wsClientMsg is any message a WebSocket client sends.
type wsClientMsg struct {
	Type        string `json:"type"`
	Token       string `json:"token"`
	ExecutionID string `json:"execution_id"`
	RequestID   string `json:"request_id"`
	PipelineID  string `json:"pipeline_id"`
	Version     int32  `json:"version"`
	Image       string `json:"image"`
}

type wsErrorMsg struct {
	Type        string `json:"type"`
	RequestID   string `json:"request_id,omitempty"`
	ExecutionID string `json:"execution_id,omitempty"`
	Status      int    `json:"status"`
	Message     string `json:"message"`
}

type wsStateMsg struct {
	Type        string        `json:"type"`
	ExecutionID string        `json:"execution_id"`
	Execution   executionJSON `json:"execution"`
}

type wsResultMsg struct {
	Type         string          `json:"type"`
	RequestID    string          `json:"request_id"`
	Image        string          `json:"image,omitempty"`
	Width        int32           `json:"width,omitempty"`
	Height       int32           `json:"height,omitempty"`
	Detections   []detectionJSON `json:"detections"`
	ProcessingUS int64           `json:"processing_us"`
	Error        string          `json:"error,omitempty"`
}

// wsConn is one WebSocket client. The reader goroutine handles control
// messages, one worker runs process requests in order, and one writer owns
// all writes. Everything outbound goes through out; when it is full the
// client is too slow and is dropped, so it never holds up the hub or
// other clients.
type wsConn struct {
	s      *Server
	conn   *websocket.Conn
	p      auth.Principal
	out    chan []byte
	procQ  chan wsClientMsg
	ctx    context.Context
	cancel context.CancelCauseFunc
	subs   map[string]bool // reader goroutine only
	expiry *time.Timer     // ends the connection when the token expires

	pipeMu sync.Mutex
	pipes  map[pipeKey]cachedPipeline // process worker only, but guarded for clarity
}

type pipeKey struct {
	id      string
	version int32
}

type cachedPipeline struct {
	p       *ifcv1.Pipeline
	fetched time.Time
}

func (c *wsConn) deliver(ev *hubEvent) bool { return c.enqueue(ev.wsJSON()) }

func (c *wsConn) dropped(r dropReason) {
	if r == dropShutdown {
		c.cancel(errShutdown)
		return
	}
	c.cancel(errSlowConsumer)
}

// enqueue queues b for writing without blocking; false means the client is
// not keeping up.
func (c *wsConn) enqueue(b []byte) bool {
	if c.ctx.Err() != nil {
		return true // closing anyway; nothing to report
	}
	select {
	case c.out <- b:
		return true
	default:
		return false
	}
}

func (c *wsConn) send(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		c.s.log.Error("encode websocket message", "err", err)
		return
	}
	if !c.enqueue(b) {
		c.s.metrics.wsDropped.Inc()
		c.cancel(errSlowConsumer)
	}
}

func (c *wsConn) sendError(m wsClientMsg, status int, msg string) {
	c.send(wsErrorMsg{Type: "error", RequestID: m.RequestID, ExecutionID: m.ExecutionID, Status: status, Message: msg})
}

func (s *Server) websocket(w http.ResponseWriter, r *http.Request) {
	p := principal(r.Context())
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: s.cfg.WSOriginPatterns})
	if err != nil {
		s.log.InfoContext(r.Context(), "websocket upgrade refused", "err", err)
		return // Accept wrote the response
	}
	conn.SetReadLimit(s.cfg.WSReadLimit)
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(r.Context()))
	c := &wsConn{
		s: s, conn: conn, p: p,
		out:   make(chan []byte, s.cfg.WSSendBuffer),
		procQ: make(chan wsClientMsg, s.cfg.WSProcessQueue),
		ctx:   ctx, cancel: cancel,
		subs:  map[string]bool{},
		pipes: map[pipeKey]cachedPipeline{},
	}
	if !p.ExpiresAt.IsZero() {
		c.expiry = time.AfterFunc(p.ExpiresAt.Sub(s.now()), func() { c.cancel(errTokenExpired) })
		defer c.expiry.Stop()
	}
	s.metrics.wsClients.Inc()
	defer s.metrics.wsClients.Dec()
	log := s.log.With("user", p.Username, "remote", r.RemoteAddr)
	log.DebugContext(ctx, "websocket connected")

	var wg sync.WaitGroup
	wg.Go(c.writeLoop)
	wg.Go(c.processLoop)
	c.readLoop()
	c.cancel(nil)
	s.hub.unsubscribe("", c)
	wg.Wait()
	_ = conn.CloseNow()
	log.DebugContext(ctx, "websocket closed", "cause", context.Cause(ctx))
}

// writeLoop writes queued messages, each within the write timeout. When the
// connection's context ends it closes the connection with a reason, which
// also ends the reader.
func (c *wsConn) writeLoop() {
	for {
		select {
		case b := <-c.out:
			wctx, cancel := context.WithTimeout(context.Background(), c.s.cfg.WSWriteTimeout)
			err := c.conn.Write(wctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				c.cancel(fmt.Errorf("write: %w", err))
				_ = c.conn.CloseNow()
				return
			}
		case <-c.ctx.Done():
			switch cause := context.Cause(c.ctx); {
			case errors.Is(cause, errSlowConsumer):
				_ = c.conn.Close(websocket.StatusPolicyViolation, "slow consumer")
			case errors.Is(cause, errShutdown):
				_ = c.conn.Close(websocket.StatusGoingAway, "server shutting down")
			case errors.Is(cause, errTokenExpired):
				_ = c.conn.Close(websocket.StatusPolicyViolation, "token expired")
			default:
				_ = c.conn.CloseNow()
			}
			return
		}
	}
}

func (c *wsConn) readLoop() {
	for {
		// Not c.ctx: cancelling a Read closes the connection at once, and the
		// writer wants to send a close reason first; its Close ends this Read.
		typ, data, err := c.conn.Read(context.Background())
		if err != nil {
			return
		}
		if typ != websocket.MessageText {
			c.sendError(wsClientMsg{}, http.StatusBadRequest, "messages are JSON text")
			continue
		}
		var m wsClientMsg
		if err := json.Unmarshal(data, &m); err != nil {
			c.sendError(wsClientMsg{}, http.StatusBadRequest, "malformed JSON: "+err.Error())
			continue
		}
		switch m.Type {
		case "auth":
			c.reauth(m)
		case "subscribe":
			c.subscribe(m)
		case "unsubscribe":
			if m.ExecutionID == "" {
				c.s.hub.unsubscribe("", c)
				clear(c.subs)
			} else {
				c.s.hub.unsubscribe(m.ExecutionID, c)
				delete(c.subs, m.ExecutionID)
			}
			c.send(map[string]string{"type": "unsubscribed", "execution_id": m.ExecutionID})
		case "process":
			if !c.p.Can(auth.PermExecutionsRun) {
				c.sendError(m, http.StatusForbidden, "role "+string(c.p.Role)+" lacks permission "+string(auth.PermExecutionsRun))
				continue
			}
			if len(m.RequestID) > maxIDLen {
				c.sendError(wsClientMsg{}, http.StatusBadRequest, "request_id longer than 128 bytes")
				continue
			}
			select {
			case c.procQ <- m:
			default:
				c.s.metrics.admissionRejected.WithLabelValues("websocket").Inc()
				c.sendError(m, http.StatusTooManyRequests, "too many frames in flight on this connection; wait for results")
			}
		default:
			c.sendError(m, http.StatusBadRequest, fmt.Sprintf("unknown message type %q (want subscribe, unsubscribe or process)", m.Type))
		}
	}
}

// reauth swaps in a fresh token for the same user, so a long-lived
// connection outlives the token it was opened with. Without one the
// connection closes (1008 "token expired") when the token expires.
func (c *wsConn) reauth(m wsClientMsg) {
	cl, err := c.s.deps.Auth.VerifyActive(c.ctx, m.Token)
	if err != nil {
		c.sendError(m, http.StatusUnauthorized, err.Error())
		return
	}
	if cl.Username != c.p.Username {
		c.sendError(m, http.StatusForbidden, "token is for another user")
		return
	}
	c.p = cl.Principal
	if c.expiry != nil {
		c.expiry.Reset(cl.ExpiresAt.Sub(c.s.now()))
	}
	c.send(map[string]any{"type": "authenticated", "expires_at": cl.ExpiresAt.UTC()})
}

// subscribe sends the execution's current state, then every event the hub
// kept for it, then live events: a late subscriber misses nothing this
// instance has seen. Progress events carry the execution's seq, so a
// client can tell the replay from what the state already showed.
func (c *wsConn) subscribe(m wsClientMsg) {
	if !c.p.Can(auth.PermExecutionsRead) {
		c.sendError(m, http.StatusForbidden, "role "+string(c.p.Role)+" lacks permission "+string(auth.PermExecutionsRead))
		return
	}
	if !validID(m.ExecutionID) {
		c.sendError(m, http.StatusBadRequest, "execution_id required")
		return
	}
	if c.subs[m.ExecutionID] {
		return
	}
	if len(c.subs) >= maxWSSubscriptions {
		c.sendError(m, http.StatusTooManyRequests, fmt.Sprintf("at most %d subscriptions per connection", maxWSSubscriptions))
		return
	}
	ex, err := c.s.deps.Store.GetExecution(c.ctx, m.ExecutionID)
	if err != nil {
		st, _, msg := classify(err)
		c.sendError(m, st, msg)
		return
	}
	state, err := json.Marshal(wsStateMsg{Type: "state", ExecutionID: m.ExecutionID, Execution: executionToJSON(ex)})
	if err != nil {
		c.sendError(m, http.StatusInternalServerError, "internal error")
		return
	}
	ok := c.s.hub.subscribe(m.ExecutionID, c, func(replay []*hubEvent) bool {
		if !c.enqueue(state) {
			return false
		}
		for _, ev := range replay {
			if !c.enqueue(ev.wsJSON()) {
				return false
			}
		}
		return true
	})
	if ok {
		c.subs[m.ExecutionID] = true
	}
}

func (c *wsConn) processLoop() {
	for {
		select {
		case <-c.ctx.Done():
			return
		case m := <-c.procQ:
			c.process(m)
		}
	}
}

// process runs one frame through a pipeline and sends the result.
func (c *wsConn) process(m wsClientMsg) {
	img, err := c.s.decodeFrame(m.Image)
	if err != nil {
		st, _, msg := classify(err)
		c.sendError(m, st, msg)
		return
	}
	p, err := c.pipeline(m.PipelineID, m.Version)
	if err != nil {
		st, _, msg := classify(err)
		c.sendError(m, st, msg)
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.WaitTimeout)
	defer cancel()
	fr, err := c.s.deps.Conductor.ProcessFrame(ctx, p, img)
	if err != nil {
		st, _, msg := classify(err)
		if st == http.StatusTooManyRequests {
			c.s.metrics.admissionRejected.WithLabelValues("websocket").Inc()
		}
		if st == http.StatusInternalServerError {
			c.s.log.Error("process frame", "pipeline_id", p.GetId(), "err", err)
		}
		c.sendError(m, st, msg)
		return
	}
	res := wsResultMsg{Type: "result", RequestID: m.RequestID, Detections: detectionsJSON(fr.GetDetections()),
		ProcessingUS: fr.GetProcessingUs(), Error: fr.GetError()}
	if res.Detections == nil {
		res.Detections = []detectionJSON{}
	}
	if im := fr.GetImage(); im != nil && len(im.GetData()) > 0 {
		res.Image = base64.StdEncoding.EncodeToString(im.GetData())
		res.Width, res.Height = im.GetWidth(), im.GetHeight()
	}
	c.send(res)
}

// pipeline returns the pipeline version to run, cached per connection:
// numbered versions are immutable; "latest" is re-read after 2 s.
func (c *wsConn) pipeline(id string, version int32) (*ifcv1.Pipeline, error) {
	if !validID(id) {
		return nil, badRequest("pipeline_id required")
	}
	if version < 0 {
		return nil, badRequest("version must be >= 0")
	}
	k := pipeKey{id, version}
	c.pipeMu.Lock()
	cp, ok := c.pipes[k]
	c.pipeMu.Unlock()
	if ok && (version > 0 || time.Since(cp.fetched) < 2*time.Second) {
		return cp.p, nil
	}
	p, err := c.s.deps.Store.GetPipeline(c.ctx, id, version)
	if err != nil {
		return nil, fmt.Errorf("pipeline %q version %d: %w", id, version, err)
	}
	c.pipeMu.Lock()
	if len(c.pipes) > 64 {
		clear(c.pipes)
	}
	c.pipes[k] = cachedPipeline{p: p, fetched: time.Now()}
	c.pipeMu.Unlock()
	return p, nil
}

// decodeFrame turns a base64 JPEG/PNG (optionally a data: URL) into an
// Image, checking the header and the pixel count without decoding pixels.
func (s *Server) decodeFrame(b64 string) (*ifcv1.Image, error) {
	if i := strings.Index(b64, ";base64,"); strings.HasPrefix(b64, "data:") && i > 0 {
		b64 = b64[i+len(";base64,"):]
	}
	if b64 == "" {
		return nil, badRequest("image required (base64 JPEG or PNG)")
	}
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, badRequest("image: invalid base64: %v", err)
	}
	return s.frameImage(data)
}

// frameImage checks encoded image bytes and describes them.
func (s *Server) frameImage(data []byte) (*ifcv1.Image, error) {
	var format ifcv1.ImageFormat
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}):
		format = ifcv1.ImageFormat_IMAGE_FORMAT_JPEG
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		format = ifcv1.ImageFormat_IMAGE_FORMAT_PNG
	default:
		return nil, withStatus(http.StatusUnsupportedMediaType, errUnsupportedType, "image: want JPEG or PNG")
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, withStatus(http.StatusUnprocessableEntity, errCorruptImage, "image: corrupt header: %v", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > s.cfg.MaxFramePixels {
		return nil, withStatus(http.StatusUnprocessableEntity, errTooManyPixels, "image: %dx%d exceeds %d pixels", cfg.Width, cfg.Height, s.cfg.MaxFramePixels)
	}
	return &ifcv1.Image{Data: data, Format: format, Width: int32(cfg.Width), Height: int32(cfg.Height)}, nil
}
