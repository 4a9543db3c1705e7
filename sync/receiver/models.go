package receiver

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/imageflowcanvas/ifc/models/bundle"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// modelChunk is the data size of one ModelChunk.
const modelChunk = 256 << 10

// DownloadModel streams every regular file of one model bundle, sorted by
// name with manifest.json last, so an edge that has the manifest knows it
// has everything.
func (s *Server) DownloadModel(req *ifcv1.DownloadModelRequest, stream grpc.ServerStreamingServer[ifcv1.ModelChunk]) error {
	ctx := stream.Context()
	d, err := s.authenticate(ctx)
	if err != nil {
		return err
	}
	name, version := req.GetName(), req.GetVersion()
	if !bundle.ValidFileName(name) || !bundle.ValidFileName(version) {
		return invalid("model name %q and version %q must be plain names (A-Z a-z 0-9 _ . -, no \"..\")", name, version)
	}
	fsys := s.findModel(name, version)
	if fsys == nil {
		return status.Errorf(codes.NotFound, "model %s version %s not found", name, version)
	}
	names, err := bundleFiles(fsys)
	if err != nil {
		return s.internal(ctx, "list model bundle", err, "device_id", d.DeviceID, "model", name+"@"+version)
	}
	for _, n := range names {
		if err := sendModelFile(fsys, n, stream); err != nil {
			if _, ok := status.FromError(err); ok {
				return err
			}
			return s.internal(ctx, "send model file", err, "device_id", d.DeviceID, "model", name+"@"+version, "file", n)
		}
	}
	s.logger.InfoContext(ctx, "model sent", "device_id", d.DeviceID, "model", name+"@"+version, "files", len(names))
	return nil
}

// findModel returns the bundle's file system, or nil.
func (s *Server) findModel(name, version string) fs.FS {
	if fsys, ok := s.opts.ModelFS[name+"@"+version]; ok {
		return fsys
	}
	for _, dir := range s.opts.ModelDirs {
		p := filepath.Join(dir, name, version)
		if fi, err := os.Stat(filepath.Join(p, bundle.ManifestFile)); err == nil && fi.Mode().IsRegular() {
			return os.DirFS(p)
		}
	}
	return nil
}

// bundleFiles lists the regular files at the root of fsys, manifest last.
// Symlinks and directories are skipped, so nothing outside the bundle leaks.
func bundleFiles(fsys fs.FS) ([]string, error) {
	ents, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() && bundle.ValidFileName(e.Name()) {
			names = append(names, e.Name())
		}
	}
	sort.Slice(names, func(i, j int) bool {
		mi, mj := names[i] == bundle.ManifestFile, names[j] == bundle.ManifestFile
		if mi != mj {
			return mj
		}
		return names[i] < names[j]
	})
	return names, nil
}

// sendModelFile hashes one file, then streams it in chunks.
func sendModelFile(fsys fs.FS, name string, stream grpc.ServerStreamingServer[ifcv1.ModelChunk]) error {
	size, sum, err := hashFile(fsys, name)
	if err != nil {
		return err
	}
	f, err := fsys.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, modelChunk)
	var off int64
	for {
		n, err := io.ReadFull(f, buf)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("read %s: %w", name, err)
		}
		if n == 0 && off > 0 {
			break
		}
		c := &ifcv1.ModelChunk{File: name, Offset: off, Data: buf[:n]}
		if off == 0 {
			c.FileSize, c.FileSha256 = size, sum
		}
		if err := stream.Send(c); err != nil {
			return err
		}
		off += int64(n)
		if n < len(buf) {
			break
		}
	}
	if off != size {
		return fmt.Errorf("%s changed while being sent: %d bytes, hashed %d", name, off, size)
	}
	return nil
}

func hashFile(fsys fs.FS, name string) (int64, string, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("hash %s: %w", name, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}
