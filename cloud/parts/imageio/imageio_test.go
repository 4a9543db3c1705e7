package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"gocv.io/x/gocv"

	"github.com/imageflowcanvas/ifc/cloud/parts/internal/testimg"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

func jpegOf(t testing.TB, w, h int) []byte {
	t.Helper()
	m := testimg.Scene(w, h, 0, 1)
	defer m.Close()
	return testimg.JPEG(m)
}

func pngOf(t testing.TB, gray bool) []byte {
	t.Helper()
	var m gocv.Mat
	if gray {
		m = testimg.Gray(40, 30, 0, 1)
	} else {
		m = testimg.Scene(40, 30, 0, 1)
	}
	defer m.Close()
	return testimg.PNG(m)
}

// sofOffset finds the frame header of a JPEG produced by OpenCV (baseline SOF0).
func sofOffset(t testing.TB, data []byte) int {
	t.Helper()
	i := bytes.Index(data, []byte{0xFF, 0xC0})
	if i < 0 {
		t.Fatal("no SOF0 in test JPEG")
	}
	return i
}

// jpegBomb is a valid small JPEG whose header claims 20000×20000 pixels.
func jpegBomb(t testing.TB) []byte {
	data := jpegOf(t, 64, 48)
	i := sofOffset(t, data)
	binary.BigEndian.PutUint16(data[i+5:], 20000) // height
	binary.BigEndian.PutUint16(data[i+7:], 20000) // width
	return data
}

// pngBomb is a valid small PNG whose IHDR (with a correct CRC) claims 20000×20000 pixels.
func pngBomb(t testing.TB) []byte {
	data := pngOf(t, false)
	binary.BigEndian.PutUint32(data[16:], 20000)
	binary.BigEndian.PutUint32(data[20:], 20000)
	binary.BigEndian.PutUint32(data[29:], crc32.ChecksumIEEE(data[12:29]))
	return data
}

func TestDecodeEncoded(t *testing.T) {
	tests := []struct {
		name     string
		img      *ifcv1.Image
		w, h, ch int
	}{
		{"jpeg", &ifcv1.Image{Data: jpegOf(t, 64, 48), Format: ifcv1.ImageFormat_IMAGE_FORMAT_JPEG}, 64, 48, 3},
		{"jpeg sniffed", &ifcv1.Image{Data: jpegOf(t, 64, 48)}, 64, 48, 3},
		{"png colour", &ifcv1.Image{Data: pngOf(t, false), Format: ifcv1.ImageFormat_IMAGE_FORMAT_PNG}, 40, 30, 3},
		{"png grey stays grey", &ifcv1.Image{Data: pngOf(t, true), Format: ifcv1.ImageFormat_IMAGE_FORMAT_PNG}, 40, 30, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode(tt.img, DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.Cols() != tt.w || m.Rows() != tt.h || m.Channels() != tt.ch {
				t.Errorf("decoded %dx%dx%d, want %dx%dx%d", m.Cols(), m.Rows(), m.Channels(), tt.w, tt.h, tt.ch)
			}
		})
	}
}

func TestDecodeGreyJPEG(t *testing.T) {
	g := testimg.Gray(32, 32, 0, 1)
	defer g.Close()
	m, err := DecodeBytes(testimg.JPEG(g), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Channels() != 1 {
		t.Errorf("grey JPEG decoded with %d channels", m.Channels())
	}
}

func TestDecodeRawSharesBytes(t *testing.T) {
	data := make([]byte, 4*3*3)
	data[0] = 7
	m, err := Decode(&ifcv1.Image{Data: data, Format: ifcv1.ImageFormat_IMAGE_FORMAT_RAW_BGR8, Width: 4, Height: 3}, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Cols() != 4 || m.Rows() != 3 || m.Channels() != 3 {
		t.Fatalf("raw wrapped as %dx%dx%d", m.Cols(), m.Rows(), m.Channels())
	}
	data[0] = 42 // no copy: the Mat sees the change
	if got := m.GetVecbAt(0, 0)[0]; got != 42 {
		t.Errorf("pixel = %d, want 42 (raw bytes must be wrapped, not copied)", got)
	}
}

func TestDecodeRejects(t *testing.T) {
	valid := jpegOf(t, 64, 48)
	corrupt := append([]byte(nil), valid...)
	corrupt[sofOffset(t, corrupt)+4] = 9 // sample precision 9: the decoder refuses the frame
	tests := []struct {
		name string
		img  *ifcv1.Image
		want error
	}{
		{"nil", nil, ErrInvalidImage},
		{"empty", &ifcv1.Image{Format: ifcv1.ImageFormat_IMAGE_FORMAT_JPEG}, ErrInvalidImage},
		{"corrupt jpeg", &ifcv1.Image{Data: corrupt, Format: ifcv1.ImageFormat_IMAGE_FORMAT_JPEG}, ErrInvalidImage},
		{"truncated jpeg", &ifcv1.Image{Data: valid[:len(valid)/2], Format: ifcv1.ImageFormat_IMAGE_FORMAT_JPEG}, ErrInvalidImage},
		{"truncated jpeg header", &ifcv1.Image{Data: valid[:40], Format: ifcv1.ImageFormat_IMAGE_FORMAT_JPEG}, ErrInvalidImage},
		{"truncated png", &ifcv1.Image{Data: pngOf(t, false)[:60], Format: ifcv1.ImageFormat_IMAGE_FORMAT_PNG}, ErrInvalidImage},
		{"jpeg bomb", &ifcv1.Image{Data: jpegBomb(t), Format: ifcv1.ImageFormat_IMAGE_FORMAT_JPEG}, ErrTooLarge},
		{"png bomb", &ifcv1.Image{Data: pngBomb(t), Format: ifcv1.ImageFormat_IMAGE_FORMAT_PNG}, ErrTooLarge},
		{"not an image", &ifcv1.Image{Data: []byte("%PDF-1.7 this is not a picture")}, ErrInvalidImage},
		{"png declared jpeg", &ifcv1.Image{Data: pngOf(t, false), Format: ifcv1.ImageFormat_IMAGE_FORMAT_JPEG}, ErrInvalidImage},
		{"raw short", &ifcv1.Image{Data: make([]byte, 10), Format: ifcv1.ImageFormat_IMAGE_FORMAT_RAW_BGR8, Width: 4, Height: 4}, ErrInvalidImage},
		{"raw zero size", &ifcv1.Image{Data: make([]byte, 10), Format: ifcv1.ImageFormat_IMAGE_FORMAT_RAW_GRAY8}, ErrInvalidImage},
		{"raw negative", &ifcv1.Image{Data: make([]byte, 10), Format: ifcv1.ImageFormat_IMAGE_FORMAT_RAW_GRAY8, Width: -2, Height: -5}, ErrInvalidImage},
		{"raw too large", &ifcv1.Image{Data: make([]byte, 1), Format: ifcv1.ImageFormat_IMAGE_FORMAT_RAW_GRAY8, Width: 20000, Height: 20000}, ErrTooLarge},
		{"unknown format", &ifcv1.Image{Data: valid, Format: ifcv1.ImageFormat(99)}, ErrInvalidImage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode(tt.img, DefaultLimits)
			if err == nil {
				m.Close()
				t.Fatal("decoded, want an error")
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestReadHeaderBombMessage(t *testing.T) {
	h, err := ReadHeader(jpegBomb(t))
	if err != nil {
		t.Fatal(err)
	}
	if h.Width != 20000 || h.Height != 20000 {
		t.Fatalf("header %dx%d", h.Width, h.Height)
	}
	_, err = DecodeBytes(jpegBomb(t), DefaultLimits)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("20000x20000")) {
		t.Errorf("err = %v; want it to name the size", err)
	}
}

func TestEncodeJPEG(t *testing.T) {
	m := testimg.Scene(64, 48, 0, 1)
	defer m.Close()
	img, err := EncodeJPEG(m, DefaultJPEGQuality)
	if err != nil {
		t.Fatal(err)
	}
	if Sniff(img.GetData()) != ifcv1.ImageFormat_IMAGE_FORMAT_JPEG || img.GetWidth() != 64 || img.GetHeight() != 48 {
		t.Fatalf("encoded %v %dx%d", Sniff(img.GetData()), img.GetWidth(), img.GetHeight())
	}
	back, err := Decode(img, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	back.Close()
	if _, err := EncodeJPEG(gocv.NewMat(), 90); err == nil {
		t.Error("encoded an empty mat")
	}
	if _, err := EncodeJPEG(m, 0); err == nil {
		t.Error("accepted quality 0")
	}
}

func TestToRawRegion(t *testing.T) {
	m := testimg.Scene(64, 48, 0, 1)
	defer m.Close()
	r := m.Region(imageRect(10, 5, 20, 7))
	defer r.Close()
	img, err := ToRaw(r)
	if err != nil {
		t.Fatal(err)
	}
	if img.GetWidth() != 10 || img.GetHeight() != 2 || len(img.GetData()) != 10*2*3 {
		t.Fatalf("raw region %dx%d %d bytes", img.GetWidth(), img.GetHeight(), len(img.GetData()))
	}
	want := m.GetVecbAt(5, 10)
	if !bytes.Equal(img.GetData()[:3], []byte{want[0], want[1], want[2]}) {
		t.Errorf("first pixel %v, want %v", img.GetData()[:3], want)
	}
}
