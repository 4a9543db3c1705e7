package receiver_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
	"github.com/imageflowcanvas/ifc/sync/receiver"
)

// offset asks the cloud how much of img it holds.
func (e *env) offset(t *testing.T, ctx context.Context, img []byte) *ifcv1.UploadOffsetResponse {
	t.Helper()
	resp, err := e.client.UploadOffset(ctx, &ifcv1.UploadOffsetRequest{Sha256: sum(img), Size: int64(len(img))})
	if err != nil {
		t.Fatalf("UploadOffset: %v", err)
	}
	return resp
}

// holdChunks uploads the first n 1024-byte chunks of img and ends the stream.
func (e *env) holdChunks(t *testing.T, ctx context.Context, img []byte, n int) {
	t.Helper()
	var msgs []*ifcv1.UploadImageRequest
	for i := range n {
		msgs = append(msgs, chunk(img, i*1024, 1024))
	}
	resp, err := e.send(ctx, img, msgs...)
	if err != nil || resp.GetOffset() != int64(n*1024) || resp.GetComplete() {
		t.Fatalf("partial upload = %v, %v", resp, err)
	}
}

func TestUploadResumesAfterBrokenConnection(t *testing.T) {
	e := newEnv(t, nil)
	ctx, id := e.enroll(t)
	img := pngImage(t, 1, 64, 64) // several KiB
	if len(img) < 5*1024 {
		t.Fatalf("test image only %d bytes", len(img))
	}

	// First attempt: three chunks, then the connection breaks.
	cutCtx, cut := context.WithCancel(ctx)
	st, err := e.client.UploadImage(cutCtx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		m := chunk(img, i*1024, 1024)
		if i == 0 {
			m.Image = ref(img)
		}
		if err := st.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the cloud holds three chunks", func() bool { return e.offset(t, ctx, img).GetOffset() == 3*1024 })
	cut()

	// Resume the way the sender does: ask, then continue from there.
	var resp *ifcv1.UploadImageResponse
	eventually(t, "the resumed upload completes", func() bool {
		off := e.offset(t, ctx, img)
		if off.GetOffset() != 3*1024 {
			t.Fatalf("offset after the cut = %d, want %d (staged bytes must survive)", off.GetOffset(), 3*1024)
		}
		var msgs []*ifcv1.UploadImageRequest
		for o := int(off.GetOffset()); o < len(img); o += 1024 {
			msgs = append(msgs, chunk(img, o, min(1024, len(img)-o)))
		}
		resp, err = e.send(ctx, img, msgs...)
		if status.Code(err) == codes.Aborted {
			return false // the cut stream has not been torn down yet
		}
		if err != nil {
			t.Fatalf("resume: %v", err)
		}
		return true
	})
	if !resp.GetComplete() || resp.GetOffset() != int64(len(img)) {
		t.Fatalf("resume reply = %v", resp)
	}
	if got := e.stored(t, id, img); !bytes.Equal(got, img) {
		t.Fatalf("stored %d bytes, not byte-identical to the %d sent", len(got), len(img))
	}
	if e.stagedBytes(t, id, img) != nil {
		t.Error("staging file left behind after completion")
	}
	if off := e.offset(t, ctx, img); !off.GetComplete() || off.GetOffset() != int64(len(img)) {
		t.Errorf("offset after completion = %v", off)
	}
	// Uploading a complete image again reads nothing and says complete.
	resp, err = e.send(ctx, img)
	if err != nil || !resp.GetComplete() {
		t.Fatalf("re-upload = %v, %v", resp, err)
	}
}

func TestUploadWrongOffsetChangesNothing(t *testing.T) {
	e := newEnv(t, nil)
	ctx, id := e.enroll(t)
	img := pngImage(t, 2, 64, 64)
	e.holdChunks(t, ctx, img, 1)
	before := e.stagedBytes(t, id, img)
	_, err := e.send(ctx, img, chunk(img, 2048, 1024))
	wantCode(t, err, codes.FailedPrecondition, "chunk at offset 2048, cloud holds 1024: resume from 1024")
	_, err = e.send(ctx, img, chunk(img, 0, 1024))
	wantCode(t, err, codes.FailedPrecondition, "chunk at offset 0, cloud holds 1024")
	if after := e.stagedBytes(t, id, img); !bytes.Equal(before, after) {
		t.Fatalf("staging changed: %d bytes → %d", len(before), len(after))
	}
}

func TestUploadChunkHashMismatchChangesNothing(t *testing.T) {
	e := newEnv(t, nil)
	ctx, id := e.enroll(t)
	img := pngImage(t, 3, 64, 64)
	e.holdChunks(t, ctx, img, 1)
	before := e.stagedBytes(t, id, img)
	bad := chunk(img, 1024, 1024)
	bad.DataSha256 = sum([]byte("something else"))
	_, err := e.send(ctx, img, bad)
	wantCode(t, err, codes.DataLoss, "chunk sha256 mismatch at offset 1024")
	if after := e.stagedBytes(t, id, img); !bytes.Equal(before, after) {
		t.Fatalf("staging changed: %d bytes → %d", len(before), len(after))
	}
	if off := e.offset(t, ctx, img); off.GetOffset() != 1024 {
		t.Fatalf("offset = %d, want 1024", off.GetOffset())
	}
}

func TestUploadWholeImageMismatchStoresNothing(t *testing.T) {
	e := newEnv(t, nil)
	ctx, id := e.enroll(t)
	img := pngImage(t, 4, 16, 16)
	claimed := bytes.Clone(img) // same size, other sha256
	claimed[len(claimed)/2] ^= 0xff
	st, err := e.client.UploadImage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first := chunk(img, 0, len(img))
	first.Image = ref(claimed)
	if err := st.Send(first); err != nil {
		t.Fatal(err)
	}
	_, err = st.CloseAndRecv()
	wantCode(t, err, codes.DataLoss, "image sha256 mismatch, upload again from offset 0")
	if e.stagedBytes(t, id, claimed) != nil || e.stored(t, id, claimed) != nil || e.stored(t, id, img) != nil {
		t.Fatal("a mismatching image left something behind")
	}
	if off := e.offset(t, ctx, claimed); off.GetOffset() != 0 || off.GetComplete() {
		t.Fatalf("offset = %v, want 0", off)
	}
}

func TestUploadTruncatedStreamKeepsPrefix(t *testing.T) {
	e := newEnv(t, nil)
	ctx, id := e.enroll(t)
	img := pngImage(t, 6, 64, 64)
	half := len(img) / 2
	var msgs []*ifcv1.UploadImageRequest
	for o := 0; o < half; o += 1024 {
		msgs = append(msgs, chunk(img, o, min(1024, half-o)))
	}
	resp, err := e.send(ctx, img, msgs...)
	if err != nil || resp.GetOffset() != int64(half) || resp.GetComplete() {
		t.Fatalf("truncated upload = %v, %v; want offset %d", resp, err, half)
	}
	if e.stored(t, id, img) != nil {
		t.Fatal("a truncated upload was stored")
	}
	if got := e.stagedBytes(t, id, img); !bytes.Equal(got, img[:half]) {
		t.Fatalf("staged %d bytes, want the first %d", len(got), half)
	}
	if off := e.offset(t, ctx, img); off.GetOffset() != int64(half) {
		t.Fatalf("offset = %d, want %d", off.GetOffset(), half)
	}
}

func TestUploadCorruptImageRefused(t *testing.T) {
	e := newEnv(t, nil)
	ctx, id := e.enroll(t)
	junk := bytes.Repeat([]byte("this is not an image "), 20)
	_, err := e.send(ctx, junk, chunk(junk, 0, len(junk)))
	wantCode(t, err, codes.InvalidArgument, "unsupported image type")
	if e.stored(t, id, junk) != nil || e.stagedBytes(t, id, junk) != nil {
		t.Fatal("corrupt upload left something behind")
	}
	truncated := pngImage(t, 7, 16, 16)
	truncated = truncated[:len(truncated)-20]
	_, err = e.send(ctx, truncated, chunk(truncated, 0, len(truncated)))
	wantCode(t, err, codes.InvalidArgument, "corrupt")
	if e.stored(t, id, truncated) != nil {
		t.Fatal("truncated image stored")
	}
}

func TestUploadBadRequests(t *testing.T) {
	e := newEnv(t, func(o *receiver.Options) { o.MaxImageBytes = 1 << 20 })
	ctx, id := e.enroll(t)
	img := pngImage(t, 9, 64, 64)
	big := chunk(img, 0, 1024)
	big.Data = append(big.Data, 0)
	big.DataSha256 = sum(big.Data)
	past := chunk(img, 0, 1024)
	past.Image = &ifcv1.ImageRef{Sha256: sum(img), Size: 100}
	for name, tc := range map[string]struct {
		msg  *ifcv1.UploadImageRequest
		want string
	}{
		"no image":     {&ifcv1.UploadImageRequest{Image: nil, Offset: 0}, "first message must carry the image"},
		"bad sha256":   {&ifcv1.UploadImageRequest{Image: &ifcv1.ImageRef{Sha256: "ABC", Size: 10}}, "sha256"},
		"upper hex":    {&ifcv1.UploadImageRequest{Image: &ifcv1.ImageRef{Sha256: strings.ToUpper(sum(img)), Size: 10}}, "sha256"},
		"zero size":    {&ifcv1.UploadImageRequest{Image: &ifcv1.ImageRef{Sha256: sum(img), Size: 0}}, "size 0"},
		"too large":    {&ifcv1.UploadImageRequest{Image: &ifcv1.ImageRef{Sha256: sum(img), Size: 2 << 20}}, "between 1 and 1048576"},
		"big chunk":    {big, "larger than the limit of 1024"},
		"past the end": {past, "runs past the image size 100"},
	} {
		t.Run(name, func(t *testing.T) {
			st, err := e.client.UploadImage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tc.msg.Image == nil && name != "no image" {
				tc.msg.Image = ref(img)
			}
			st.Send(tc.msg)
			_, err = st.CloseAndRecv()
			wantCode(t, err, codes.InvalidArgument, tc.want)
		})
	}
	if e.stagedBytes(t, id, img) != nil && len(e.stagedBytes(t, id, img)) != 0 {
		t.Fatal("refused chunks were staged")
	}
	_, err := e.client.UploadOffset(ctx, &ifcv1.UploadOffsetRequest{Sha256: "../../etc/passwd", Size: 1})
	wantCode(t, err, codes.InvalidArgument, "sha256")
}

func TestUploadOffsetDiscardsOverlongStaging(t *testing.T) {
	e := newEnv(t, nil)
	ctx, id := e.enroll(t)
	img := pngImage(t, 11, 64, 64)
	e.holdChunks(t, ctx, img, 2)
	// The same sha256 announced with a smaller size: what is staged cannot be a prefix.
	off, err := e.client.UploadOffset(ctx, &ifcv1.UploadOffsetRequest{Sha256: sum(img), Size: 1000})
	if err != nil || off.GetOffset() != 0 {
		t.Fatalf("offset = %v, %v; want 0 for staged bytes longer than the image", off, err)
	}
	if e.stagedBytes(t, id, img) != nil {
		t.Fatal("overlong staging file kept")
	}
}

func TestUploadConcurrentStreamAborted(t *testing.T) {
	e := newEnv(t, nil)
	ctx, _ := e.enroll(t)
	img := pngImage(t, 8, 64, 64)
	st, err := e.client.UploadImage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := chunk(img, 0, 1024)
	m.Image = ref(img)
	if err := st.Send(m); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first stream holds a chunk", func() bool { return e.offset(t, ctx, img).GetOffset() == 1024 })
	_, err = e.send(ctx, img, chunk(img, 1024, 1024))
	wantCode(t, err, codes.Aborted, "in progress")
	resp, err := st.CloseAndRecv()
	if err != nil || resp.GetOffset() != 1024 {
		t.Fatalf("first stream = %v, %v", resp, err)
	}
}
