package whep

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/imageflowcanvas/ifc/edge/capture"
)

// FrameSource delivers live frames; *capture.Camera implements it.
type FrameSource interface {
	Subscribe(buffer int) (<-chan capture.Frame, func())
}

// Options configures a Server. The zero value is usable.
type Options struct {
	Logger *slog.Logger
	// Path is where the endpoint is mounted; sessions live under Path + "/<id>". Default "/whep".
	Path string
	// BitRate is the encoder's target in bits per second. Default 2.5 Mbps (libvpx would use 100 kbps).
	BitRate int
	// KeyFrameInterval is the longest run of frames between key frames. Default 60.
	KeyFrameInterval int
	// CPUUsed is the libvpx realtime speed, 1 (slowest) to 16 (fastest). Default 16.
	CPUUsed int
	// MaxViewers bounds concurrent sessions; more are refused with 503. Default 16.
	MaxViewers int
	// Interfaces lists the network interfaces to gather host candidates on. Default ["lo"];
	// ["*"] means every interface.
	Interfaces []string
	// UDPPortMin and UDPPortMax bound the ICE ports (both zero: any ephemeral port).
	UDPPortMin, UDPPortMax uint16
	// AllowOrigin is the CORS Access-Control-Allow-Origin value. Default "*".
	AllowOrigin string
	// AllowOrigins, when set, replaces AllowOrigin: a request's Origin in
	// the list is echoed (with Vary: Origin), any other gets no CORS
	// headers, so the browser refuses it.
	AllowOrigins []string
	// Registerer receives the Prometheus collectors; nil registers nothing.
	Registerer prometheus.Registerer
}

// Server is a WHEP endpoint sharing one encoder among all viewers.
type Server struct {
	src     FrameSource
	opts    Options
	log     *slog.Logger
	api     *webrtc.API
	track   *webrtc.TrackLocalStaticSample
	metrics *metrics
	running atomic.Bool

	keyFrame atomic.Bool // the next encoded frame must be a key frame
	latest   atomic.Pointer[capture.Frame]

	mu       sync.Mutex
	sessions map[string]*session
	closed   bool

	framesIn, framesSent, keyFrames, bytesSent atomic.Uint64
	captureToSend, encodeTime                  window
}

// session is one viewer.
type session struct {
	id  string
	pc  *webrtc.PeerConnection
	mu  sync.Mutex
	dcs []*webrtc.DataChannel
	// rekey sends the follow-up key frame after the viewer connects.
	rekey *time.Timer
	once  sync.Once
	done  chan struct{} // closed when the session ends
}

// New validates opts and prepares the WebRTC stack; it starts nothing.
func New(src FrameSource, opts Options) (*Server, error) {
	if src == nil {
		return nil, errors.New("whep: nil frame source")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Path == "" {
		opts.Path = "/whep"
	}
	if !strings.HasPrefix(opts.Path, "/") || strings.HasSuffix(opts.Path, "/") {
		return nil, fmt.Errorf("whep: path %q must start and not end with /", opts.Path)
	}
	if opts.BitRate == 0 {
		opts.BitRate = 2_500_000
	}
	if opts.BitRate < 50_000 || opts.BitRate > 50_000_000 {
		return nil, fmt.Errorf("whep: bit rate %d not in 50k..50M", opts.BitRate)
	}
	if opts.KeyFrameInterval == 0 {
		opts.KeyFrameInterval = 60
	}
	if opts.KeyFrameInterval < 1 || opts.KeyFrameInterval > 3000 {
		return nil, fmt.Errorf("whep: key frame interval %d not in 1..3000", opts.KeyFrameInterval)
	}
	if opts.CPUUsed == 0 {
		opts.CPUUsed = 16
	}
	if opts.CPUUsed < 1 || opts.CPUUsed > 16 {
		return nil, fmt.Errorf("whep: cpu used %d not in 1..16", opts.CPUUsed)
	}
	if opts.MaxViewers == 0 {
		opts.MaxViewers = 16
	}
	if opts.MaxViewers < 1 {
		return nil, fmt.Errorf("whep: max viewers %d < 1", opts.MaxViewers)
	}
	if opts.Interfaces == nil {
		opts.Interfaces = []string{"lo"}
	}
	if opts.AllowOrigin == "" {
		opts.AllowOrigin = "*"
	}
	api, err := newAPI(opts)
	if err != nil {
		return nil, err
	}
	track, err := webrtc.NewTrackLocalStaticSample(
		webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "ifc-preview")
	if err != nil {
		return nil, fmt.Errorf("whep: track: %w", err)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("whep: metrics: %w", err)
	}
	return &Server{
		src: src, opts: opts, api: api, track: track, metrics: m,
		log:      opts.Logger.With("component", "whep"),
		sessions: map[string]*session{},
	}, nil
}

// newAPI builds a WebRTC stack offering VP8 only, with NACK/RTCP interceptors and the
// configured ICE network restrictions.
func newAPI(opts Options) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb},
		PayloadType:        96,
	}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, fmt.Errorf("whep: register VP8: %w", err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, fmt.Errorf("whep: interceptors: %w", err)
	}
	se := webrtc.SettingEngine{}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICETimeouts(3*time.Second, 8*time.Second, time.Second)
	if !slices.Contains(opts.Interfaces, "*") {
		ifaces := slices.Clone(opts.Interfaces)
		se.SetInterfaceFilter(func(name string) bool { return slices.Contains(ifaces, name) })
	}
	if slices.Contains(opts.Interfaces, "lo") || slices.Contains(opts.Interfaces, "*") {
		se.SetIncludeLoopbackCandidate(true)
	}
	if opts.UDPPortMin != 0 || opts.UDPPortMax != 0 {
		if err := se.SetEphemeralUDPPortRange(opts.UDPPortMin, opts.UDPPortMax); err != nil {
			return nil, fmt.Errorf("whep: port range: %w", err)
		}
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

// Stats returns a snapshot of counters and latency summaries.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	n := len(s.sessions)
	s.mu.Unlock()
	return Stats{
		Viewers:       n,
		FramesIn:      s.framesIn.Load(),
		FramesSent:    s.framesSent.Load(),
		KeyFrames:     s.keyFrames.Load(),
		BytesSent:     s.bytesSent.Load(),
		CaptureToSend: s.captureToSend.summary(),
		Encode:        s.encodeTime.summary(),
	}
}

// Latest returns the newest frame Run has taken from the source, whether or
// not anyone is watching (false before the first). Viewers without WebRTC
// poll it as still images; the frame's Image is shared and read-only.
func (s *Server) Latest() (capture.Frame, bool) {
	f := s.latest.Load()
	if f == nil {
		return capture.Frame{}, false
	}
	return *f, true
}

// viewers returns the number of open sessions.
func (s *Server) viewers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// PublishOverlay sends v as JSON to every viewer's open data channel. It fails only when v
// cannot be encoded; a viewer whose channel fails is logged and skipped.
func (s *Server) PublishOverlay(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("whep: overlay: %w", err)
	}
	msg := string(b)
	s.mu.Lock()
	sessions := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	s.mu.Unlock()
	for _, ss := range sessions {
		ss.mu.Lock()
		dcs := slices.Clone(ss.dcs)
		ss.mu.Unlock()
		for _, dc := range dcs {
			if dc.ReadyState() != webrtc.DataChannelStateOpen {
				continue
			}
			if err := dc.SendText(msg); err != nil {
				s.log.Debug("overlay send failed", "session", ss.id, "err", err)
			}
		}
	}
	return nil
}

// newSession negotiates a viewer from an SDP offer and returns its id and answer.
func (s *Server) newSession(ctx context.Context, offer string) (*session, string, error) {
	if err := checkOffer(offer); err != nil {
		return nil, "", err
	}
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, "", fmt.Errorf("peer connection: %w", err)
	}
	ss := &session{id: newID(), pc: pc, done: make(chan struct{})}
	fail := func(err error) (*session, string, error) {
		_ = pc.Close()
		return nil, "", err
	}
	sender, err := pc.AddTrack(s.track)
	if err != nil {
		return fail(fmt.Errorf("add track: %w", err))
	}
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		ss.mu.Lock()
		ss.dcs = append(ss.dcs, dc)
		ss.mu.Unlock()
	})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		s.log.Debug("viewer state", "session", ss.id, "state", st.String())
		switch st {
		case webrtc.PeerConnectionStateConnected:
			// A key frame now, and another shortly after: Chromium decodes the first key
			// frame that arrives as the connection comes up but then stalls on the frames
			// that follow until the next key frame, without sending a PLI (measured with
			// Chromium 156: a 2 s stall, the whole key-frame interval). The second key
			// frame, 500 ms later, bounds that stall.
			s.keyFrame.Store(true)
			ss.mu.Lock()
			if ss.rekey == nil {
				ss.rekey = time.AfterFunc(500*time.Millisecond, func() { s.keyFrame.Store(true) })
			}
			ss.mu.Unlock()
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			go s.closeSession(ss.id)
		}
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return fail(fmt.Errorf("%w: %v", errBadOffer, err))
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return fail(fmt.Errorf("%w: %v", errBadOffer, err))
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return fail(fmt.Errorf("set local description: %w", err))
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return fail(fmt.Errorf("gather candidates: %w", ctx.Err()))
	}
	if tr := transceiverOf(pc, sender); tr == nil || tr.Mid() == "" {
		return fail(fmt.Errorf("%w: video not negotiated", errBadOffer))
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fail(errClosed)
	}
	if len(s.sessions) >= s.opts.MaxViewers {
		s.mu.Unlock()
		return fail(errFull)
	}
	s.sessions[ss.id] = ss
	n := len(s.sessions)
	s.mu.Unlock()
	s.metrics.viewers.Set(float64(n))
	go s.readRTCP(ss, sender)
	s.log.Info("viewer joined", "session", ss.id, "viewers", n)
	return ss, pc.LocalDescription().SDP, nil
}

func transceiverOf(pc *webrtc.PeerConnection, sender *webrtc.RTPSender) *webrtc.RTPTransceiver {
	for _, tr := range pc.GetTransceivers() {
		if tr.Sender() == sender {
			return tr
		}
	}
	return nil
}

// readRTCP drains a viewer's RTCP (which the interceptors need) and turns picture-loss and
// full-intra requests into a key frame. It ends when the session's sender closes.
func (s *Server) readRTCP(ss *session, sender *webrtc.RTPSender) {
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				s.keyFrame.Store(true)
			}
		}
	}
}

// closeSession tears a session down; it reports whether the id was known.
func (s *Server) closeSession(id string) bool {
	s.mu.Lock()
	ss, ok := s.sessions[id]
	delete(s.sessions, id)
	n := len(s.sessions)
	s.mu.Unlock()
	if !ok {
		return false
	}
	s.metrics.viewers.Set(float64(n))
	ss.once.Do(func() {
		ss.mu.Lock()
		if ss.rekey != nil {
			ss.rekey.Stop()
		}
		ss.mu.Unlock()
		if err := ss.pc.Close(); err != nil {
			s.log.Debug("close peer connection", "session", id, "err", err)
		}
		close(ss.done)
	})
	s.log.Info("viewer left", "session", id, "viewers", n)
	return true
}

// closeAll ends every session and refuses new ones.
func (s *Server) closeAll() {
	s.mu.Lock()
	s.closed = true
	ids := make([]string, 0, len(s.sessions))
	for id := range s.sessions {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	for _, id := range ids {
		s.closeSession(id)
	}
}

var (
	errBadOffer = errors.New("bad SDP offer")
	errFull     = errors.New("too many viewers")
	errClosed   = errors.New("server shutting down")
)

// checkOffer parses the offer and requires a video section that can receive VP8.
func checkOffer(offer string) error {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(offer); err != nil {
		return fmt.Errorf("%w: %v", errBadOffer, err)
	}
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "video" {
			continue
		}
		for _, a := range md.Attributes {
			if a.Key == "rtpmap" && strings.Contains(strings.ToUpper(a.Value), "VP8/90000") {
				return nil
			}
		}
		return fmt.Errorf("%w: the video section does not offer VP8", errBadOffer)
	}
	return fmt.Errorf("%w: no video section", errBadOffer)
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Handler serves the WHEP endpoint at Options.Path and its session resources beneath it.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.cors(w, r)
		switch {
		case r.URL.Path == s.opts.Path:
			s.serveEndpoint(w, r)
		case strings.HasPrefix(r.URL.Path, s.opts.Path+"/") && !strings.Contains(r.URL.Path[len(s.opts.Path)+1:], "/"):
			s.serveSession(w, r, r.URL.Path[len(s.opts.Path)+1:])
		default:
			http.NotFound(w, r)
		}
	})
}

func (s *Server) cors(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if len(s.opts.AllowOrigins) > 0 {
		h.Add("Vary", "Origin")
		o := r.Header.Get("Origin")
		if o == "" || !slices.Contains(s.opts.AllowOrigins, o) {
			return
		}
		h.Set("Access-Control-Allow-Origin", o)
	} else {
		h.Set("Access-Control-Allow-Origin", s.opts.AllowOrigin)
	}
	h.Set("Access-Control-Allow-Methods", "POST, DELETE, PATCH, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Content-Type, Authorization, If-Match")
	h.Set("Access-Control-Expose-Headers", "Location, Link, ETag, Accept-Post")
}

const maxOfferBytes = 64 << 10

func (s *Server) serveEndpoint(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodOptions:
		w.Header().Set("Accept-Post", "application/sdp")
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "POST, OPTIONS")
		httpError(w, http.StatusMethodNotAllowed, "use POST with an SDP offer")
		return
	}
	if ct := strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0]); !strings.EqualFold(ct, "application/sdp") {
		httpError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/sdp")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOfferBytes))
	if err != nil {
		httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("offer larger than %d bytes", maxOfferBytes))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	ss, answer, err := s.newSession(ctx, string(body))
	switch {
	case errors.Is(err, errBadOffer):
		httpError(w, http.StatusBadRequest, err.Error())
		return
	case errors.Is(err, errFull), errors.Is(err, errClosed):
		w.Header().Set("Retry-After", "5")
		httpError(w, http.StatusServiceUnavailable, err.Error())
		return
	case err != nil:
		s.log.Warn("viewer setup failed", "err", err)
		httpError(w, http.StatusInternalServerError, "session setup failed")
		return
	}
	w.Header().Set("Content-Type", "application/sdp")
	w.Header().Set("Location", s.opts.Path+"/"+ss.id)
	w.Header().Set("ETag", `"`+ss.id+`"`)
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer)
}

func (s *Server) serveSession(w http.ResponseWriter, r *http.Request, id string) {
	switch r.Method {
	case http.MethodOptions:
		w.WriteHeader(http.StatusNoContent)
	case http.MethodDelete:
		if !s.closeSession(id) {
			httpError(w, http.StatusNotFound, "no such session")
			return
		}
		w.WriteHeader(http.StatusOK)
	default: // PATCH included: no trickle ICE, no ICE restarts.
		w.Header().Set("Allow", "DELETE, OPTIONS")
		httpError(w, http.StatusMethodNotAllowed, "this WHEP server does not support trickle ICE or ICE restarts; the answer has every candidate")
	}
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}
