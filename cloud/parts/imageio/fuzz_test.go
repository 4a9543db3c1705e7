package imageio

import (
	"errors"
	"testing"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// FuzzDecode feeds arbitrary bytes through the header reader and, when the header passes
// tight limits, the OpenCV decoder. Anything may be refused; nothing may crash, hang or
// return an image larger than the limits or of an unexpected type. The committed corpus in
// testdata/fuzz/FuzzDecode holds small JPEGs and PNGs, truncations and bomb headers.
func FuzzDecode(f *testing.F) {
	f.Add(jpegOf(f, 16, 12))
	f.Add(pngOf(f, true))
	f.Add(jpegBomb(f))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x10, 0x00, 0x10, 0x01, 0x01, 0x11, 0x00, 0xFF, 0xDA})
	lim := Limits{MaxPixels: 1 << 16, MaxSide: 1024}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, herr := ReadHeader(data)
		m, err := Decode(&ifcv1.Image{Data: data}, lim)
		if err != nil {
			if !errors.Is(err, ErrInvalidImage) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v wraps neither sentinel", err)
			}
			return
		}
		defer m.Close()
		if herr != nil {
			t.Fatalf("decoded although the header was refused: %v", herr)
		}
		if int64(m.Cols())*int64(m.Rows()) > lim.MaxPixels {
			t.Fatalf("decoded %dx%d beyond the limit", m.Cols(), m.Rows())
		}
		if m.Channels() != 1 && m.Channels() != 3 {
			t.Fatalf("decoded %d channels", m.Channels())
		}
		if (m.Channels() == 1) != h.Gray {
			t.Fatalf("header gray=%v, decoded %d channels", h.Gray, m.Channels())
		}
		if _, err := ToRaw(m); err != nil {
			t.Fatalf("decoded image does not convert to raw: %v", err)
		}
	})
}
