package receiver_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	grpcmd "google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/cloud/files"
	"github.com/imageflowcanvas/ifc/cloud/metadata"
	"github.com/imageflowcanvas/ifc/cloud/metadata/sqlitestore"
	"github.com/imageflowcanvas/ifc/cloud/objectstore/fsstore"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
	"github.com/imageflowcanvas/ifc/sync/device"
	"github.com/imageflowcanvas/ifc/sync/receiver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testLine = "line-1"

// env is a receiver on a real gRPC server over real SQLite, a filesystem
// object store and files.Service.
type env struct {
	store   metadata.Store
	files   *files.Service
	srv     *receiver.Server
	client  ifcv1.SyncServiceClient
	staging string
	now     time.Time
}

func newEnv(t testing.TB, edit func(*receiver.Options)) *env {
	t.Helper()
	dir := t.TempDir()
	store, err := sqlitestore.New(context.Background(), filepath.Join(dir, "ifc.db"), sqlitestore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	objects, err := fsstore.New(filepath.Join(dir, "objects"))
	if err != nil {
		t.Fatalf("object store: %v", err)
	}
	fsvc, err := files.New(objects, store, nil, files.Options{})
	if err != nil {
		t.Fatalf("files: %v", err)
	}
	e := &env{store: store, files: fsvc, staging: filepath.Join(dir, "staging"), now: time.Now().UTC()}
	opts := receiver.Options{
		Store:         store,
		Images:        fsvc,
		StagingDir:    e.staging,
		MaxChunkBytes: 1024,
		Logger:        slog.New(slog.DiscardHandler),
	}
	if edit != nil {
		edit(&opts)
	}
	e.srv, err = receiver.New(opts)
	if err != nil {
		t.Fatalf("receiver.New: %v", err)
	}
	gs := grpc.NewServer(receiver.ServerOptions()...)
	gs.RegisterService(e.srv.Desc(), e.srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); gs.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		gs.Stop()
		<-done
	})
	e.client = ifcv1.NewSyncServiceClient(conn)
	return e
}

// token creates an enrollment token for testLine expiring at exp.
func (e *env) token(t testing.TB, exp time.Time) string {
	t.Helper()
	tok, hash, err := device.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateEnrollmentToken(context.Background(), metadata.EnrollmentToken{
		TokenHash: hash, Line: testLine, CreatedBy: "admin", CreatedAt: e.now, ExpiresAt: exp,
	}); err != nil {
		t.Fatalf("create token: %v", err)
	}
	return tok
}

// enroll enrolls a new device and returns a context carrying its credential.
func (e *env) enroll(t testing.TB) (context.Context, string) {
	t.Helper()
	resp, err := e.client.Enroll(context.Background(), &ifcv1.EnrollRequest{Token: e.token(t, time.Now().Add(time.Hour)), DeviceName: "box"})
	if err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	c := resp.GetCredentials()
	return authCtx(c.GetDeviceId(), c.GetSecret()), c.GetDeviceId()
}

func authCtx(id, secret string) context.Context {
	return grpcmd.AppendToOutgoingContext(context.Background(), device.MetadataKey, device.Header(id, secret))
}

// master stores a master for code naming pipelineID (may be empty).
func (e *env) master(t testing.TB, code, pipelineID string, version int32) *ifcv1.InspectionMaster {
	t.Helper()
	m, err := e.store.PutMaster(context.Background(), &ifcv1.InspectionMaster{
		Product:         &ifcv1.Product{Code: code, Name: "Product " + code},
		PipelineId:      pipelineID,
		PipelineVersion: version,
	})
	if err != nil {
		t.Fatalf("put master: %v", err)
	}
	return m
}

// pngImage returns a valid PNG of noise (so it does not compress) that
// differs by seed.
func pngImage(t testing.TB, seed int, w, h int) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(rng.Uint32()), uint8(rng.Uint32()), uint8(rng.Uint32()), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func ref(data []byte) *ifcv1.ImageRef {
	return &ifcv1.ImageRef{Sha256: sum(data), Size: int64(len(data)), ContentType: "image/png"}
}

// chunk is the message carrying img[off:off+n].
func chunk(img []byte, off, n int) *ifcv1.UploadImageRequest {
	data := img[off : off+n]
	return &ifcv1.UploadImageRequest{Offset: int64(off), Data: data, DataSha256: sum(data)}
}

// send streams msgs (the first gets the ImageRef of img) and closes the
// stream, returning the reply or the stream's status.
func (e *env) send(ctx context.Context, img []byte, msgs ...*ifcv1.UploadImageRequest) (*ifcv1.UploadImageResponse, error) {
	st, err := e.client.UploadImage(ctx)
	if err != nil {
		return nil, err
	}
	if len(msgs) == 0 {
		msgs = []*ifcv1.UploadImageRequest{{}}
	}
	for i, m := range msgs {
		if i == 0 && m.Image == nil {
			m.Image = ref(img)
		}
		if err := st.Send(m); err != nil {
			if errors.Is(err, io.EOF) {
				break // the server ended the stream; CloseAndRecv has its status
			}
			return nil, err
		}
	}
	return st.CloseAndRecv()
}

// upload sends the whole image in MaxChunkBytes (1024) chunks.
func (e *env) upload(t testing.TB, ctx context.Context, img []byte) {
	t.Helper()
	var msgs []*ifcv1.UploadImageRequest
	for off := 0; off < len(img); off += 1024 {
		msgs = append(msgs, chunk(img, off, min(1024, len(img)-off)))
	}
	resp, err := e.send(ctx, img, msgs...)
	if err != nil || !resp.GetComplete() {
		t.Fatalf("upload: %v, %v", resp, err)
	}
}

// stagedBytes reads the staging file of an image ("" when absent).
func (e *env) stagedBytes(t testing.TB, deviceID string, img []byte) []byte {
	t.Helper()
	b, err := readFileIfExists(filepath.Join(e.staging, deviceID, sum(img)+".part"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stored returns the bytes of the device's stored upload of img, or nil.
func (e *env) stored(t testing.TB, deviceID string, img []byte) []byte {
	t.Helper()
	ctx := context.Background()
	u, err := e.store.GetUpload(ctx, deviceID, sum(img))
	if errors.Is(err, metadata.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	rc, _, err := e.files.Open(ctx, u.FileID)
	if err != nil {
		t.Fatalf("open stored file: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// record is a valid record of deviceID for product code with the images.
func record(deviceID, code string, imgs ...[]byte) *ifcv1.InspectionRecord {
	r := &ifcv1.InspectionRecord{
		RecordId:    uuid.Must(uuid.NewV7()).String(),
		DeviceId:    deviceID,
		Line:        testLine,
		ProductCode: code,
		CapturedAt:  timestamppb.New(time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)),
		Verdict:     &ifcv1.Verdict{Result: ifcv1.VerdictResult_VERDICT_RESULT_OK},
	}
	for _, img := range imgs {
		r.Images = append(r.Images, ref(img))
	}
	return r
}

// wantCode fails unless err is a status with code c whose message contains msg.
func wantCode(t testing.TB, err error, c codes.Code, msg string) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != c || !strings.Contains(st.Message(), msg) {
		t.Fatalf("error = %v, want %s containing %q", err, c, msg)
	}
}

// eventually polls cond until it holds or a deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func readFileIfExists(p string) ([]byte, error) {
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}
