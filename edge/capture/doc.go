// Package capture turns a camera spec such as "v4l2:/dev/video0?width=1280&height=720&fps=30",
// "synthetic:?defect_rate=0.3&seed=1" or "folder:/srv/replay?fps=5" into a stream of frames.
//
// Sources are chosen by URL scheme from a registry (see Register). A Camera owns one source:
// Open parses and validates the spec and starts nothing; Run owns the capture goroutine,
// reopening the source with exponential backoff whenever it fails or the device disappears;
// Subscribe fans live frames out to any number of consumers, dropping frames for a consumer
// that is slow rather than ever blocking capture; Still waits for the next full-resolution
// frame; Status reports state ("starting", "live", "missing", "error") for UIs and health checks.
//
// Frames are shared by every subscriber and must be treated as read-only.
//
// The synthetic source draws a row-pair of black/white blocks in the top-left corner of each
// frame encoding the frame's sequence number and capture time (see DrawMarker and ReadMarker),
// so latency can be measured from the picture a viewer receives.
package capture
