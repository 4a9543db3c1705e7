package imageio

import (
	"testing"

	"github.com/imageflowcanvas/ifc/cloud/parts/internal/testimg"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

func BenchmarkDecodeJPEG1080p(b *testing.B) {
	m := testimg.Scene(1920, 1080, 8, 1)
	data := testimg.JPEG(m)
	m.Close()
	img := &ifcv1.Image{Data: data, Format: ifcv1.ImageFormat_IMAGE_FORMAT_JPEG}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		out, err := Decode(img, DefaultLimits)
		if err != nil {
			b.Fatal(err)
		}
		out.Close()
	}
}

func BenchmarkEncodeJPEG640(b *testing.B) {
	m := testimg.Scene(640, 640, 8, 1)
	defer m.Close()
	for b.Loop() {
		if _, err := EncodeJPEG(m, DefaultJPEGQuality); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadHeader1080p(b *testing.B) {
	m := testimg.Scene(1920, 1080, 8, 1)
	data := testimg.JPEG(m)
	m.Close()
	for b.Loop() {
		if _, err := ReadHeader(data); err != nil {
			b.Fatal(err)
		}
	}
}
