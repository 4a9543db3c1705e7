package whep

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"golang.org/x/image/vp8"
)

// rxFrame is one VP8 frame reassembled from RTP by the test viewer.
type rxFrame struct {
	data    []byte
	key     bool
	arrived time.Time // arrival of the frame's last RTP packet (marker bit)
}

// viewer is a minimal pion WHEP client used by the tests and benchmarks.
type viewer struct {
	pc       *webrtc.PeerConnection
	location string
	frames   chan rxFrame
	messages chan string
	wg       sync.WaitGroup
}

// newClientAPI mirrors the server's network settings: loopback host candidates, UDP4, no mDNS.
// Its one UDP socket has a 1 MiB receive buffer (browsers enlarge theirs too): with the
// kernel's default 208 KiB a receiver starved of CPU by the encoder on a shared 2-core box
// overflows during key frames.
func newClientAPI(t testing.TB) *webrtc.API {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadBuffer(1 << 20); err != nil {
		t.Fatal(err)
	}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})
	t.Cleanup(func() { _ = mux.Close() })
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetInterfaceFilter(func(n string) bool { return n == "lo" })
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEUDPMux(mux)
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
}

// offer builds a recvonly video offer with an overlay data channel, candidates included.
func newOffer(t testing.TB, api *webrtc.API) (*webrtc.PeerConnection, *webrtc.DataChannel, string) {
	t.Helper()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	dc, err := pc.CreateDataChannel("overlay", nil)
	if err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return pc, dc, pc.LocalDescription().SDP
}

// dial connects a viewer to the WHEP endpoint at url.
func dial(t testing.TB, url string) *viewer {
	t.Helper()
	pc, dc, offer := newOffer(t, newClientAPI(t))
	v := &viewer{pc: pc, frames: make(chan rxFrame, 256), messages: make(chan string, 16)}
	dc.OnMessage(func(m webrtc.DataChannelMessage) {
		select {
		case v.messages <- string(m.Data):
		default:
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		v.wg.Add(1)
		go func() { defer v.wg.Done(); v.readTrack(tr) }()
	})
	resp, err := http.Post(url, "application/sdp", strings.NewReader(offer))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST offer: %s: %s", resp.Status, answer)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/sdp" {
		t.Fatalf("answer content type %q", ct)
	}
	v.location = resp.Header.Get("Location")
	if !strings.HasPrefix(v.location, "/whep/") {
		t.Fatalf("Location %q", v.location)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(answer)}); err != nil {
		t.Fatal(err)
	}
	return v
}

// readTrack is a small jitter buffer: it reassembles VP8 frames from RTP, in timestamp
// order, waiting for NACK retransmissions. A frame is complete when its first packet (S bit),
// its last (marker bit) and every packet between them have arrived; its arrival time is that
// of the packet that completed it. When the oldest frame stays incomplete for 200 ms it is
// abandoned and a PLI asks for a key frame, as a browser would.
func (v *viewer) readTrack(tr *webrtc.TrackRemote) {
	type partial struct {
		ts          uint32
		payload     map[uint16][]byte
		first, last int32
		seen        time.Time
		done        time.Time // zero until complete
		data        []byte
	}
	var queue []*partial // by timestamp
	var lastTS uint32
	emitted := false
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		now := time.Now()
		if emitted && int32(pkt.Timestamp-lastTS) <= 0 {
			continue // a late or duplicate packet of a finished or abandoned frame
		}
		var d codecs.VP8Packet
		payload, err := d.Unmarshal(pkt.Payload)
		if err != nil {
			continue
		}
		var p *partial
		i := 0
		for ; i < len(queue); i++ {
			if queue[i].ts == pkt.Timestamp {
				p = queue[i]
				break
			}
			if int32(queue[i].ts-pkt.Timestamp) > 0 {
				break
			}
		}
		if p == nil {
			p = &partial{ts: pkt.Timestamp, payload: map[uint16][]byte{}, first: -1, last: -1, seen: now}
			queue = append(queue[:i], append([]*partial{p}, queue[i:]...)...)
		}
		p.payload[pkt.SequenceNumber] = bytes.Clone(payload)
		if d.S == 1 && d.PID == 0 {
			p.first = int32(pkt.SequenceNumber)
		}
		if pkt.Marker {
			p.last = int32(pkt.SequenceNumber)
		}
		if p.done.IsZero() && p.first >= 0 && p.last >= 0 {
			if n := uint16(p.last) - uint16(p.first) + 1; int(n) == len(p.payload) {
				for j := range n {
					p.data = append(p.data, p.payload[uint16(p.first)+j]...)
				}
				p.done = now
			}
		}
		for len(queue) > 0 {
			head := queue[0]
			if head.done.IsZero() {
				if now.Sub(head.seen) < 200*time.Millisecond {
					break
				}
				queue = queue[1:]
				lastTS, emitted = head.ts, true
				_ = v.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())}})
				continue
			}
			queue = queue[1:]
			lastTS, emitted = head.ts, true
			select {
			case v.frames <- rxFrame{data: head.data, key: len(head.data) > 0 && head.data[0]&1 == 0, arrived: head.done}:
			default:
			}
		}
	}
}

// keyFrame waits for the next key frame and decodes it with the pure-Go VP8 decoder.
func (v *viewer) keyFrame(t testing.TB) (*image.YCbCr, rxFrame) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case f := <-v.frames:
			if !f.key {
				continue
			}
			img, err := decodeKey(f.data)
			if err != nil {
				t.Fatal(err)
			}
			return img, f
		case <-deadline:
			t.Fatal("no key frame within 20s")
		}
	}
}

func decodeKey(data []byte) (*image.YCbCr, error) {
	d := vp8.NewDecoder()
	d.Init(bytes.NewReader(data), len(data))
	fh, err := d.DecodeFrameHeader()
	if err != nil {
		return nil, fmt.Errorf("vp8 header: %w", err)
	}
	if !fh.KeyFrame {
		return nil, fmt.Errorf("not a key frame")
	}
	img, err := d.DecodeFrame()
	if err != nil {
		return nil, fmt.Errorf("vp8 decode: %w", err)
	}
	return img, nil
}

// close tears the viewer down without telling the server.
func (v *viewer) close() {
	_ = v.pc.Close()
	v.wg.Wait()
}

// deleteSession sends the WHEP teardown and returns the status code.
func deleteSession(t testing.TB, base, location string) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodDelete, base+location, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
