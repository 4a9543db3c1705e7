// Package whep serves a camera's live preview over WebRTC using WHEP (WebRTC-HTTP Egress
// Protocol, draft-ietf-wish-whep, modelled on RFC 9725 for WHIP).
//
// One shared VP8 encoder (Debian libvpx through a small cgo wrapper, vp8.go) feeds every
// viewer: frames are encoded once, packetised once and written to one shared track that
// each viewer's PeerConnection is bound to. The encoder only runs while at least one viewer is connected,
// and a new viewer (or an RTCP PLI/FIR from any viewer) forces the next frame to be a key frame.
//
// Resources, relative to Options.Path (default "/whep"):
//
//	POST    /whep        SDP offer (application/sdp) → 201 Created, SDP answer, Location: /whep/<id>
//	DELETE  /whep/<id>   tear the session down → 200 OK (404 when unknown)
//	PATCH   /whep/<id>   405 Method Not Allowed: the server does not do trickle ICE or ICE
//	                     restarts; the answer already carries every candidate (gathering is
//	                     finished before it is sent), as WHEP allows
//	OPTIONS /whep[/<id>] 204 with CORS headers and Accept-Post: application/sdp
//
// Mount Handler on both the endpoint and its subtree:
//
//	mux.Handle("/whep", srv.Handler())
//	mux.Handle("/whep/", srv.Handler())
//
// and run srv.Run(ctx) beside the camera's Run(ctx); Run returning closes every session.
//
// Why VP8 and not H.264: a VP8 key frame can be decoded by pure Go (golang.org/x/image/vp8),
// which lets tests assert on the picture a viewer receives; every browser decodes VP8; and the
// x264/openh264 encoders cannot both be linked into one binary. The measured cost and latency
// are in docs/benchmarks.md.
//
// Overlays: a viewer that puts a data channel in its offer (label "overlay" by convention)
// receives every value passed to PublishOverlay as one JSON text message.
//
// Networking defaults suit a box with no network: host candidates on the loopback interface
// only, UDP over IPv4, mDNS off. Options.Interfaces opens it to the LAN.
//
// Latency: each frame's capture time (capture.Frame.CapturedAt) is compared with the moment
// its RTP packets have been handed to every viewer's transport; Stats and the Prometheus
// histogram ifc_whep_capture_to_send_seconds report it.
package whep
