package capture

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	_ "image/jpeg" // decoders for replayed files
	_ "image/png"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Limits on replayed files, so a stray huge file cannot exhaust memory.
const (
	maxFolderFileBytes = 64 << 20
	maxFolderPixels    = 8192 * 8192
)

// folder replays the JPEG and PNG files of one directory in name order, looping. Other
// files are ignored; files that fail to decode are skipped with a warning. Files are read
// through an os.Root, so symlinks cannot lead outside the directory.
type folder struct {
	dir string
	fps float64
	opt Options
}

// newFolder parses folder:/abs/dir?fps=5.
func newFolder(u *url.URL, opts Options) (Source, error) {
	dir := specPath(u)
	if dir == "" || !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("%w: folder path %q must be absolute", ErrBadSpec, dir)
	}
	if slices.Contains(strings.Split(dir, "/"), "..") || filepath.Clean(dir) != dir {
		return nil, fmt.Errorf("%w: folder path %q must be clean (no .., //, trailing /)", ErrBadSpec, dir)
	}
	q := newQuery(u)
	f := &folder{dir: dir, fps: q.float("fps", 5, 0.1, 240), opt: opts}
	if err := q.done(); err != nil {
		return nil, err
	}
	names, err := f.list()
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: folder %s has no .jpg, .jpeg or .png files", ErrBadSpec, dir)
	}
	return f, nil
}

func (f *folder) Device() string { return "folder:" + f.dir }

func (f *folder) Mode() (int, int, float64) { return 0, 0, f.fps }

// list returns the image file names in the directory, sorted.
func (f *folder) list() ([]string, error) {
	st, err := os.Stat(f.dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("folder %s: %w", f.dir, ErrNoCamera)
		}
		return nil, fmt.Errorf("folder %s: %w", f.dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a directory", ErrBadSpec, f.dir)
	}
	ents, err := os.ReadDir(f.dir)
	if err != nil {
		return nil, fmt.Errorf("folder %s: %w", f.dir, err)
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		switch strings.ToLower(filepath.Ext(n)) {
		case ".jpg", ".jpeg", ".png":
			if !strings.HasPrefix(n, ".") && (e.Type().IsRegular() || e.Type()&os.ModeSymlink != 0) {
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	return names, nil
}

func (f *folder) Open(context.Context) (Stream, error) {
	root, err := os.OpenRoot(f.dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("folder %s: %w", f.dir, ErrNoCamera)
		}
		return nil, fmt.Errorf("open folder %s: %w", f.dir, err)
	}
	return &folderStream{f: f, root: root, pace: newPacer(f.fps)}, nil
}

type folderStream struct {
	f     *folder
	root  *os.Root
	pace  *pacer
	names []string
	next  int
}

// Next decodes the next good file, re-listing the directory at the start of every loop.
func (s *folderStream) Next(ctx context.Context) (Frame, error) {
	if err := s.pace.wait(ctx); err != nil {
		return Frame{}, err
	}
	var lastErr error
	for tries := 0; ; tries++ {
		if s.next >= len(s.names) {
			names, err := s.f.list()
			if err != nil {
				return Frame{}, err
			}
			if len(names) == 0 || (tries > len(names) && lastErr != nil) {
				return Frame{}, fmt.Errorf("folder %s: no decodable images (last error: %v)", s.f.dir, lastErr)
			}
			s.names, s.next = names, 0
		}
		name := s.names[s.next]
		s.next++
		img, err := s.decode(name)
		if err != nil {
			lastErr = err
			s.f.opt.Logger.Warn("skipping replay file", "component", "capture", "file", name, "err", err)
			continue
		}
		return Frame{CapturedAt: time.Now(), Image: img}, nil
	}
}

// decode reads one file inside the root, checking size and dimensions before decoding.
func (s *folderStream) decode(name string) (image.Image, error) {
	fh, err := s.root.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", name, err)
	}
	if !st.Mode().IsRegular() || st.Size() > maxFolderFileBytes {
		return nil, fmt.Errorf("%s: not a regular file under %d bytes", name, maxFolderFileBytes)
	}
	cfg, _, err := image.DecodeConfig(io.LimitReader(fh, maxFolderFileBytes))
	if err != nil {
		return nil, fmt.Errorf("%s: not a JPEG or PNG image: %w", name, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxFolderPixels {
		return nil, fmt.Errorf("%s: %dx%d pixels exceeds %d", name, cfg.Width, cfg.Height, maxFolderPixels)
	}
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("seek %s: %w", name, err)
	}
	img, _, err := image.Decode(io.LimitReader(fh, maxFolderFileBytes))
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", name, err)
	}
	return normalize(img), nil
}

func (s *folderStream) Close() error { return s.root.Close() }

// normalize returns img as *image.RGBA or *image.YCbCr with a zero origin.
func normalize(img image.Image) image.Image {
	if y, ok := img.(*image.YCbCr); ok && y.Rect.Min == (image.Point{}) {
		return y
	}
	if r, ok := img.(*image.RGBA); ok && r.Rect.Min == (image.Point{}) {
		return r
	}
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Rect, img, b.Min, draw.Src)
	return out
}
