package receiver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/imageflowcanvas/ifc/cloud/files"
	"github.com/imageflowcanvas/ifc/cloud/metadata"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// stagingPath is where the partial upload of one image of one device lives.
// Both parts are validated (device.ValidID, sha256Re) before use.
func (s *Server) stagingPath(deviceID, sum string) string {
	return filepath.Join(s.opts.StagingDir, deviceID, sum+".part")
}

// checkImage validates an image reference of an upload.
func (s *Server) checkImage(sum string, size int64) error {
	if !sha256Re.MatchString(sum) {
		return invalid("image sha256 %q is not 64 lowercase hex digits", sum)
	}
	if size <= 0 || size > s.opts.MaxImageBytes {
		return invalid("image size %d must be between 1 and %d bytes", size, s.opts.MaxImageBytes)
	}
	return nil
}

// UploadOffset tells how much of an image the cloud holds for the caller.
func (s *Server) UploadOffset(ctx context.Context, req *ifcv1.UploadOffsetRequest) (*ifcv1.UploadOffsetResponse, error) {
	d, err := s.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.checkImage(req.GetSha256(), req.GetSize()); err != nil {
		return nil, err
	}
	switch _, err := s.opts.Store.GetUpload(ctx, d.DeviceID, req.GetSha256()); {
	case err == nil:
		return &ifcv1.UploadOffsetResponse{Offset: req.GetSize(), Complete: true}, nil
	case !errors.Is(err, metadata.ErrNotFound):
		return nil, s.internal(ctx, "look up upload", err, "device_id", d.DeviceID)
	}
	path := s.stagingPath(d.DeviceID, req.GetSha256())
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return &ifcv1.UploadOffsetResponse{}, nil
	case err != nil:
		return nil, s.internal(ctx, "stat staged upload", err, "device_id", d.DeviceID)
	case fi.Size() > req.GetSize():
		// Not a prefix of this image: discard and start over.
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, s.internal(ctx, "discard staged upload", err, "device_id", d.DeviceID)
		}
		return &ifcv1.UploadOffsetResponse{}, nil
	}
	return &ifcv1.UploadOffsetResponse{Offset: fi.Size()}, nil
}

// lockUpload claims the (device, image) upload for one stream.
func (s *Server) lockUpload(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.uploading[key] {
		return false
	}
	s.uploading[key] = true
	return true
}

func (s *Server) unlockUpload(key string) {
	s.mu.Lock()
	delete(s.uploading, key)
	s.mu.Unlock()
}

// UploadImage receives the chunks of one image; see the package doc.
func (s *Server) UploadImage(stream grpc.ClientStreamingServer[ifcv1.UploadImageRequest, ifcv1.UploadImageResponse]) error {
	ctx := stream.Context()
	d, err := s.authenticate(ctx)
	if err != nil {
		return err
	}
	msg, err := stream.Recv()
	if err == io.EOF {
		return invalid("empty upload stream: the first message must carry the image")
	}
	if err != nil {
		return err
	}
	img := msg.GetImage()
	if img == nil {
		return invalid("the first message must carry the image")
	}
	sum, size := img.GetSha256(), img.GetSize()
	if err := s.checkImage(sum, size); err != nil {
		return err
	}
	resp, err := s.receive(ctx, stream, d.DeviceID, msg)
	if err != nil {
		return err
	}
	// Sent after the lock and the file are released, so the edge can
	// start its next stream for this image as soon as it has the reply.
	return stream.SendAndClose(resp)
}

// receive appends the stream's chunks to the staged upload while holding
// the (device, image) lock, and finishes the upload when it is complete.
func (s *Server) receive(ctx context.Context, stream grpc.ClientStreamingServer[ifcv1.UploadImageRequest, ifcv1.UploadImageResponse], deviceID string, msg *ifcv1.UploadImageRequest) (*ifcv1.UploadImageResponse, error) {
	sum, size := msg.GetImage().GetSha256(), msg.GetImage().GetSize()
	key := deviceID + "/" + sum
	if !s.lockUpload(key) {
		return nil, status.Errorf(codes.Aborted, "another upload of image %s from device %s is in progress", sum, deviceID)
	}
	defer s.unlockUpload(key)

	switch _, err := s.opts.Store.GetUpload(ctx, deviceID, sum); {
	case err == nil:
		return &ifcv1.UploadImageResponse{Offset: size, Complete: true}, nil
	case !errors.Is(err, metadata.ErrNotFound):
		return nil, s.internal(ctx, "look up upload", err, "device_id", deviceID)
	}
	st, err := s.openStaging(deviceID, sum, size)
	if err != nil {
		return nil, s.internal(ctx, "open staged upload", err, "device_id", deviceID)
	}
	defer st.f.Close()
	for {
		if err := s.appendChunk(st, msg); err != nil {
			if _, ok := status.FromError(err); !ok {
				return nil, s.internal(ctx, "stage upload chunk", err, "device_id", deviceID)
			}
			return nil, err
		}
		if st.held == size {
			return s.finishUpload(ctx, deviceID, st)
		}
		var err error
		msg, err = stream.Recv()
		if err == io.EOF {
			return &ifcv1.UploadImageResponse{Offset: st.held}, nil
		}
		if err != nil {
			return nil, err // the connection broke; the staged bytes stay for resume
		}
		if im := msg.GetImage(); im != nil && (im.GetSha256() != sum || im.GetSize() != size) {
			return nil, invalid("the image may not change within one upload stream")
		}
	}
}

// staging is the open staging file of one upload.
type staging struct {
	f    *os.File
	path string
	sum  string
	size int64
	held int64
}

func (s *Server) openStaging(deviceID, sum string, size int64) (*staging, error) {
	path := s.stagingPath(deviceID, sum)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	held := fi.Size()
	if held > size { // not a prefix of this image
		if err := f.Truncate(0); err != nil {
			f.Close()
			return nil, err
		}
		held = 0
	}
	return &staging{f: f, path: path, sum: sum, size: size, held: held}, nil
}

// appendChunk checks one message and appends its data with a single write.
// A refused chunk leaves the staged bytes as they were.
func (s *Server) appendChunk(st *staging, msg *ifcv1.UploadImageRequest) error {
	off, data := msg.GetOffset(), msg.GetData()
	if off != st.held {
		return status.Errorf(codes.FailedPrecondition, "chunk at offset %d, cloud holds %d: resume from %d", off, st.held, st.held)
	}
	if len(data) > s.opts.MaxChunkBytes {
		return invalid("chunk of %d bytes is larger than the limit of %d", len(data), s.opts.MaxChunkBytes)
	}
	if off+int64(len(data)) > st.size {
		return invalid("chunk at offset %d with %d bytes runs past the image size %d", off, len(data), st.size)
	}
	if len(data) == 0 {
		return nil
	}
	got := sha256.Sum256(data)
	if hex.EncodeToString(got[:]) != msg.GetDataSha256() {
		return status.Errorf(codes.DataLoss, "chunk sha256 mismatch at offset %d", off)
	}
	if _, err := st.f.WriteAt(data, off); err != nil {
		// Cut a partial write back so the staged bytes stay a verified prefix.
		if terr := st.f.Truncate(off); terr != nil {
			return fmt.Errorf("write chunk: %w (and truncate: %v)", err, terr)
		}
		return fmt.Errorf("write chunk: %w", err)
	}
	st.held += int64(len(data))
	return nil
}

// finishUpload verifies the whole staged image and ingests it.
func (s *Server) finishUpload(ctx context.Context, deviceID string, st *staging) (*ifcv1.UploadImageResponse, error) {
	log := s.logger.With("device_id", deviceID, "sha256", st.sum)
	if err := st.f.Sync(); err != nil {
		return nil, s.internal(ctx, "sync staged upload", err, "device_id", deviceID)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(st.f, 0, st.size)); err != nil {
		return nil, s.internal(ctx, "hash staged upload", err, "device_id", deviceID)
	}
	discard := func() {
		if err := os.Remove(st.path); err != nil {
			log.WarnContext(ctx, "remove staged upload", "err", err)
		}
	}
	if hex.EncodeToString(h.Sum(nil)) != st.sum {
		discard()
		log.WarnContext(ctx, "uploaded image does not match its sha256")
		return nil, status.Error(codes.DataLoss, "image sha256 mismatch, upload again from offset 0")
	}
	f, err := s.opts.Images.Ingest(ctx, io.NewSectionReader(st.f, 0, st.size), files.IngestOptions{
		Filename:  st.sum,
		CreatedBy: "device:" + deviceID,
		MaxBytes:  s.opts.MaxImageBytes,
	})
	if err != nil {
		if refusedImage(err) {
			discard()
			log.WarnContext(ctx, "uploaded image refused", "err", err)
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		// Keep the staged bytes: a retry finishes without sending them again.
		return nil, s.internal(ctx, "store image", err, "device_id", deviceID)
	}
	if err := s.opts.Store.PutUpload(ctx, metadata.Upload{DeviceID: deviceID, SHA256: st.sum, FileID: f.FileID, CreatedAt: s.now()}); err != nil {
		return nil, s.internal(ctx, "record upload", err, "device_id", deviceID)
	}
	discard()
	log.InfoContext(ctx, "image uploaded", "file_id", f.FileID, "size", st.size)
	return &ifcv1.UploadImageResponse{Offset: st.size, Complete: true}, nil
}

// refusedImage reports whether Ingest refused the bytes themselves (as
// opposed to failing to store them).
func refusedImage(err error) bool {
	for _, e := range []error{files.ErrTooLarge, files.ErrUnsupportedType, files.ErrTooManyPixels, files.ErrCorrupt} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
