package sender

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// Queue cursor names used by the downlink.
const (
	cursorMasters  = "masters"
	cursorModel    = "model"     // version: master version; value: "<name>/<version>" it names
	cursorPipeline = "pipeline/" // + pipeline id; version: pipeline version; value: proto bytes
)

// downlink pulls masters and pipelines, then checks the pre-filter model.
// Only a link that is down (or a revoked device) ends the round: any other
// failure is reported and the uplink goes on, so a cloud whose downlink is
// broken still receives records.
func (s *Sender) downlink(ctx context.Context) error {
	steps := []func(context.Context) error{s.pullMasters}
	if s.o.Models != nil {
		steps = append(steps, s.checkModel)
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			if ctx.Err() != nil || s.State().Revoked || linkDown(err) {
				return err
			}
			s.hold("downlink failed", err)
		}
	}
	return nil
}

// linkDown reports whether err says the cloud could not be reached.
func linkDown(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		return true
	}
	return false
}

func (s *Sender) pullMasters(ctx context.Context) error {
	cursor, _, err := s.o.Queue.Cursor(ctx, cursorMasters)
	if err != nil {
		return fmt.Errorf("queue cursor %s: %w", cursorMasters, err)
	}
	modelVer, _, err := s.o.Queue.Cursor(ctx, cursorModel)
	if err != nil {
		return fmt.Errorf("queue cursor %s: %w", cursorModel, err)
	}
	for {
		cctx, cancel := s.callCtx(ctx)
		resp, err := s.o.Client.PullMasters(cctx, &ifcv1.PullMastersRequest{Cursor: cursor})
		cancel()
		if err := s.called("pull masters", err); err != nil {
			return err
		}
		for _, p := range resp.GetPipelines() {
			b, err := proto.Marshal(p)
			if err != nil {
				return fmt.Errorf("encode pipeline %s: %w", p.GetId(), err)
			}
			if err := s.o.Queue.PutCursor(ctx, cursorPipeline+p.GetId(), int64(p.GetVersion()), b); err != nil {
				return fmt.Errorf("queue cache pipeline %s: %w", p.GetId(), err)
			}
		}
		for _, m := range resp.GetMasters() {
			if err := s.o.Queue.PutMaster(ctx, m); err != nil {
				return fmt.Errorf("queue cache master %s: %w", m.GetProduct().GetCode(), err)
			}
			if m.GetPrefilterModelName() != "" && m.GetVersion() > modelVer {
				modelVer = m.GetVersion()
				want := m.GetPrefilterModelName() + "/" + m.GetPrefilterModelVersion()
				if err := s.o.Queue.PutCursor(ctx, cursorModel, modelVer, []byte(want)); err != nil {
					return fmt.Errorf("queue cursor %s: %w", cursorModel, err)
				}
			}
		}
		next := resp.GetNextCursor()
		if next < cursor {
			return fmt.Errorf("pull masters: cloud moved the cursor back from %d to %d", cursor, next)
		}
		if err := s.o.Queue.PutCursor(ctx, cursorMasters, next, nil); err != nil {
			return fmt.Errorf("queue cursor %s: %w", cursorMasters, err)
		}
		if !resp.GetMore() {
			return nil
		}
		if next == cursor {
			return fmt.Errorf("pull masters: cloud says more but did not advance cursor %d", cursor)
		}
		cursor = next
	}
}

// checkModel installs the model the newest master names if it is not the one in use.
func (s *Sender) checkModel(ctx context.Context) error {
	_, v, err := s.o.Queue.Cursor(ctx, cursorModel)
	if err != nil {
		return fmt.Errorf("queue cursor %s: %w", cursorModel, err)
	}
	name, version, ok := strings.Cut(string(v), "/")
	if !ok || name == "" {
		return nil
	}
	curName, curVersion := s.o.Models.Current()
	if name == curName && version == curVersion {
		return nil
	}
	key := name + "/" + version
	now := s.o.Clock.Now()
	if key == s.failedModel && now.Before(s.failedModelT.Add(s.o.PullInterval)) {
		return nil
	}
	if err := s.installModel(ctx, name, version); err != nil {
		if !linkDown(err) {
			s.failedModel, s.failedModelT = key, now
		}
		return fmt.Errorf("model %s: %w", key, err)
	}
	s.failedModel = ""
	_, cur := s.o.Models.Current()
	s.update(func(st *State) { st.ModelVersion = cur })
	s.log.Info("pre-filter model installed", "model", name, "version", version)
	return nil
}

// safeName accepts a single path element that cannot escape its directory.
func safeName(what, n string) error {
	if n == "" || n == "." || n == ".." || strings.HasPrefix(n, ".") || strings.ContainsAny(n, `/\`+"\x00") || len(n) > 255 {
		return fmt.Errorf("%s %q is not a plain file name", what, n)
	}
	return nil
}

// installModel downloads name/version into a temporary directory, verifies
// every file, renames it to <ModelDir>/<name>/<version> and installs it.
func (s *Sender) installModel(ctx context.Context, name, version string) error {
	if err := safeName("model name", name); err != nil {
		return err
	}
	if err := safeName("model version", version); err != nil {
		return err
	}
	parent := filepath.Join(s.o.ModelDir, name)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("model dir: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+version+".tmp-")
	if err != nil {
		return fmt.Errorf("model dir: %w", err)
	}
	defer os.RemoveAll(tmp) // no-op after the rename
	if err := s.download(ctx, name, version, tmp); err != nil {
		return err
	}
	final := filepath.Join(parent, version)
	if err := os.RemoveAll(final); err != nil { // a leftover of an earlier failed install
		return fmt.Errorf("model dir: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("model dir: %w", err)
	}
	syncDir(parent)
	if err := s.o.Models.Install(final); err != nil {
		os.RemoveAll(final)
		return fmt.Errorf("install: %w", err)
	}
	return nil
}

// download writes the bundle's files into dir, checking each file's size and sha256.
func (s *Sender) download(ctx context.Context, name, version, dir string) error {
	sctx, cancel := context.WithCancel(withCredential(ctx, s.o.Credentials))
	defer cancel()
	watchdog := time.AfterFunc(s.o.CallTimeout, cancel)
	defer watchdog.Stop()
	st, err := s.o.Client.DownloadModel(sctx, &ifcv1.DownloadModelRequest{Name: name, Version: version})
	if err := s.called("download model", err); err != nil {
		return err
	}
	var cur *bundleFile
	defer func() { cur.close() }()
	files := 0
	for {
		c, err := st.Recv()
		if err == io.EOF {
			break
		}
		if err := s.called("download model", err); err != nil {
			return err
		}
		watchdog.Reset(s.o.CallTimeout)
		if cur == nil || c.GetFile() != cur.name {
			if err := cur.finish(); err != nil {
				return err
			}
			if cur, err = newBundleFile(dir, c); err != nil {
				return err
			}
			files++
		}
		if cur == nil {
			return errors.New("bundle stream does not start with a file's first chunk")
		}
		if err := cur.write(c); err != nil {
			return err
		}
	}
	if err := cur.finish(); err != nil {
		return err
	}
	if files == 0 {
		return errors.New("bundle has no files")
	}
	syncDir(dir)
	return nil
}

// bundleFile is one file of a model bundle being received.
type bundleFile struct {
	name, sha string
	size, n   int64
	f         *os.File
	h         hash.Hash
}

func newBundleFile(dir string, c *ifcv1.ModelChunk) (*bundleFile, error) {
	if err := safeName("bundle file", c.GetFile()); err != nil {
		return nil, err
	}
	if c.GetFileSize() < 0 || len(c.GetFileSha256()) != 64 {
		return nil, fmt.Errorf("bundle file %s: bad size %d or sha256 %q", c.GetFile(), c.GetFileSize(), c.GetFileSha256())
	}
	f, err := os.OpenFile(filepath.Join(dir, c.GetFile()), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("bundle file %s: %w", c.GetFile(), err)
	}
	return &bundleFile{name: c.GetFile(), sha: c.GetFileSha256(), size: c.GetFileSize(), f: f, h: sha256.New()}, nil
}

func (b *bundleFile) write(c *ifcv1.ModelChunk) error {
	if c.GetFile() != b.name || c.GetOffset() != b.n {
		return fmt.Errorf("bundle file %s: chunk for %s at offset %d, want offset %d", b.name, c.GetFile(), c.GetOffset(), b.n)
	}
	if b.n+int64(len(c.GetData())) > b.size {
		return fmt.Errorf("bundle file %s: more than the announced %d bytes", b.name, b.size)
	}
	b.h.Write(c.GetData())
	if _, err := b.f.Write(c.GetData()); err != nil {
		return fmt.Errorf("bundle file %s: %w", b.name, err)
	}
	b.n += int64(len(c.GetData()))
	return nil
}

// finish closes the file and checks its size and sha256; nil b is a no-op.
func (b *bundleFile) finish() error {
	if b == nil {
		return nil
	}
	if b.n != b.size {
		return fmt.Errorf("bundle file %s: got %d of %d bytes", b.name, b.n, b.size)
	}
	if got := hex.EncodeToString(b.h.Sum(nil)); got != b.sha {
		return fmt.Errorf("bundle file %s: sha256 %s, want %s", b.name, got, b.sha)
	}
	if err := b.f.Sync(); err != nil {
		return fmt.Errorf("bundle file %s: %w", b.name, err)
	}
	err := b.f.Close()
	b.f = nil
	if err != nil {
		return fmt.Errorf("bundle file %s: %w", b.name, err)
	}
	return nil
}

func (b *bundleFile) close() {
	if b != nil && b.f != nil {
		b.f.Close()
	}
}

// syncDir makes renames and new entries in dir durable, best effort.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// WantedModelDir returns the directory of the pre-filter bundle the cloud
// last named for this edge, if it has been downloaded to modelDir, so the
// agent can start on it instead of waiting for the next pull. ok is false
// when the cloud named none or it is not on disk.
func WantedModelDir(ctx context.Context, q interface {
	Cursor(ctx context.Context, name string) (int64, []byte, error)
}, modelDir string) (dir string, ok bool, err error) {
	_, v, err := q.Cursor(ctx, cursorModel)
	if err != nil {
		return "", false, fmt.Errorf("queue cursor %s: %w", cursorModel, err)
	}
	name, version, found := strings.Cut(string(v), "/")
	if !found || safeName("model", name) != nil || safeName("version", version) != nil {
		return "", false, nil
	}
	dir = filepath.Join(modelDir, name, version)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", false, nil
	}
	return dir, true, nil
}
