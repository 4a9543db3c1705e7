package api

import (
	"encoding/base64"
	"encoding/json"
	"testing"
)

// FuzzDecodeFrame feeds arbitrary WebSocket process payloads through the
// message and frame decoders: they must reject or accept, never panic, and
// never accept more pixels than the bound.
func FuzzDecodeFrame(f *testing.F) {
	f.Add([]byte(`{"type":"process","image":"` + base64.StdEncoding.EncodeToString([]byte("\xff\xd8\xff\xe0")) + `"}`))
	f.Add([]byte(`{"type":"process","image":"data:image/png;base64,iVBORw0KGgo="}`))
	f.Add([]byte(`{"type":"subscribe","execution_id":123}`))
	s := &Server{}
	s.cfg.setDefaults()
	s.cfg.MaxFramePixels = 1 << 20
	f.Fuzz(func(t *testing.T, msg []byte) {
		var m wsClientMsg
		if json.Unmarshal(msg, &m) != nil {
			return
		}
		img, err := s.decodeFrame(m.Image)
		if err == nil && int64(img.Width)*int64(img.Height) > s.cfg.MaxFramePixels {
			t.Fatalf("accepted %dx%d", img.Width, img.Height)
		}
	})
}
