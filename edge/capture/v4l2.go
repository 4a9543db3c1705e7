package capture

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pion/mediadevices"
	"github.com/pion/mediadevices/pkg/driver"
	"github.com/pion/mediadevices/pkg/driver/camera"
	"github.com/pion/mediadevices/pkg/frame"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"
)

// V4L2Config is a parsed "v4l2:" spec: the device and the constraints asked of it.
type V4L2Config struct {
	Device string  // e.g. /dev/video0
	Width  int     // 0: the driver's best
	Height int     // 0: the driver's best
	FPS    float64 // 0: the driver's best
	Format string  // "", "mjpeg", "yuyv", "nv12", "nv21", "i420" or "uyvy"
}

// V4L2Opener opens a v4l2 device. It must return an error wrapping ErrNoCamera when the
// device node is absent, so the camera reports "missing" rather than "error".
type V4L2Opener func(ctx context.Context, cfg V4L2Config) (Stream, error)

var v4l2Formats = map[string]frame.Format{
	"mjpeg": frame.FormatMJPEG,
	"yuyv":  frame.FormatYUYV,
	"nv12":  frame.FormatNV12,
	"nv21":  frame.FormatNV21,
	"i420":  frame.FormatI420,
	"uyvy":  frame.FormatUYVY,
}

type v4l2Source struct {
	cfg  V4L2Config
	open V4L2Opener
}

// newV4L2 parses v4l2:/dev/videoN?width=1280&height=720&fps=30&format=mjpeg.
func newV4L2(u *url.URL, opts Options) (Source, error) {
	dev := specPath(u)
	if !strings.HasPrefix(dev, "/dev/") || filepath.Clean(dev) != dev || strings.Contains(dev, "..") {
		return nil, fmt.Errorf("%w: v4l2 device %q must be a clean path under /dev/", ErrBadSpec, dev)
	}
	q := newQuery(u)
	cfg := V4L2Config{
		Device: dev,
		Width:  q.int("width", 0, 16, 8192),
		Height: q.int("height", 0, 16, 8192),
		FPS:    q.float("fps", 0, 0.1, 480),
		Format: strings.ToLower(q.str("format", "")),
	}
	if _, ok := v4l2Formats[cfg.Format]; cfg.Format != "" && !ok {
		q.fail("format=%q not one of mjpeg, yuyv, nv12, nv21, i420, uyvy", cfg.Format)
	}
	if err := q.done(); err != nil {
		return nil, err
	}
	open := opts.V4L2Opener
	if open == nil {
		open = openMediaDevices
	}
	return &v4l2Source{cfg: cfg, open: open}, nil
}

func (s *v4l2Source) Device() string { return s.cfg.Device }

func (s *v4l2Source) Mode() (int, int, float64) { return s.cfg.Width, s.cfg.Height, s.cfg.FPS }

func (s *v4l2Source) Open(ctx context.Context) (Stream, error) {
	st, err := s.open(ctx, s.cfg)
	if err != nil {
		return nil, fmt.Errorf("open camera %s: %w", s.cfg.Device, err)
	}
	return st, nil
}

// discoverMu serialises mediadevices' global driver registry rescans.
var discoverMu sync.Mutex

// openMediaDevices opens the device through pion/mediadevices: it rescans /dev for cameras
// (so a camera plugged in after start is found), picks the driver for cfg.Device and asks
// for the constraints in cfg.
func openMediaDevices(_ context.Context, cfg V4L2Config) (Stream, error) {
	real, err := filepath.EvalSymlinks(cfg.Device)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: no device node %s", ErrNoCamera, cfg.Device)
		}
		return nil, err
	}
	discoverMu.Lock()
	camera.Initialize()
	var id string
	for _, d := range driver.GetManager().Query(driver.FilterVideoRecorder()) {
		label := d.Info().Label // "<name>;<real name>"
		if i := strings.Index(label, camera.LabelSeparator); i >= 0 && label[i+1:] == filepath.Base(real) {
			id = d.ID()
			break
		}
	}
	discoverMu.Unlock()
	if id == "" {
		return nil, fmt.Errorf("%w: %s is not a video capture device", ErrNoCamera, cfg.Device)
	}
	ms, err := mediadevices.GetUserMedia(mediadevices.MediaStreamConstraints{
		Video: func(c *mediadevices.MediaTrackConstraints) {
			c.DeviceID = prop.StringExact(id)
			if cfg.Width > 0 {
				c.Width = prop.Int(cfg.Width)
			}
			if cfg.Height > 0 {
				c.Height = prop.Int(cfg.Height)
			}
			if cfg.FPS > 0 {
				c.FrameRate = prop.Float(cfg.FPS)
			}
			if f, ok := v4l2Formats[cfg.Format]; ok {
				c.FrameFormat = prop.FrameFormatExact(f)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("get user media: %w", err)
	}
	tracks := ms.GetVideoTracks()
	if len(tracks) == 0 {
		return nil, errors.New("get user media: no video track")
	}
	vt, ok := tracks[0].(*mediadevices.VideoTrack)
	if !ok {
		tracks[0].Close()
		return nil, fmt.Errorf("get user media: unexpected track type %T", tracks[0])
	}
	return &mdStream{dev: cfg.Device, track: vt, reader: vt.NewReader(false)}, nil
}

// mdStream reads frames from a mediadevices video track.
type mdStream struct {
	dev    string
	track  *mediadevices.VideoTrack
	reader video.Reader
	once   sync.Once
}

// Next copies the driver's frame (whose buffer is reused) into a frame of our own.
func (s *mdStream) Next(ctx context.Context) (Frame, error) {
	stop := context.AfterFunc(ctx, func() { _ = s.Close() })
	defer stop()
	img, release, err := s.reader.Read()
	if err != nil {
		if _, serr := os.Stat(s.dev); errors.Is(serr, os.ErrNotExist) {
			return Frame{}, fmt.Errorf("read %s: %w (%v)", s.dev, ErrNoCamera, err)
		}
		return Frame{}, fmt.Errorf("read %s: %w", s.dev, err)
	}
	at := time.Now()
	out := copyImage(img)
	release()
	return Frame{CapturedAt: at, Image: out}, nil
}

func (s *mdStream) Close() error {
	var err error
	s.once.Do(func() { err = s.track.Close() })
	return err
}

// copyImage returns a copy of img as *image.YCbCr (kept as is) or *image.RGBA.
func copyImage(img image.Image) image.Image {
	if y, ok := img.(*image.YCbCr); ok {
		c := *y
		c.Y = append([]byte(nil), y.Y...)
		c.Cb = append([]byte(nil), y.Cb...)
		c.Cr = append([]byte(nil), y.Cr...)
		return &c
	}
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Rect, img, b.Min, draw.Src)
	return out
}
