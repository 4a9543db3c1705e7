package receiver_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
	"github.com/imageflowcanvas/ifc/sync/receiver"
)

// FuzzChunks feeds arbitrary chunk sequences (offsets, lengths, hashes,
// stream breaks) for one image, as a buggy or hostile edge might. Whatever
// the sequence, the image ends up either complete and byte-identical, or
// not stored at all with the staged bytes a prefix of the image.
//
// Each 4-byte group of ops is one message: length, offset mode, a value
// for the offset and hash, and whether the stream ends after it.
func FuzzChunks(f *testing.F) {
	e := newEnv(f, func(o *receiver.Options) { o.MaxChunkBytes = 64 })
	img := pngImage(f, 42, 6, 6)
	f.Add([]byte{64, 0, 0, 1, 64, 0, 0, 1, 64, 0, 0, 1, 64, 0, 0, 1, 64, 0, 0, 1})                           // in order
	f.Add([]byte{64, 0, 0, 0, 64, 0, 0, 1, 10, 1, 5, 1, 64, 0, 0, 0, 64, 0, 0, 1, 64, 0, 0, 1, 64, 0, 0, 1}) // breaks, wrong offset
	f.Add([]byte{32, 0, 5, 1, 64, 3, 0, 1, 200, 0, 0, 1})                                                    // bad hash, rewind, too big
	f.Add([]byte{64, 2, 200, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 400 {
			return
		}
		ctx, id := e.enroll(t)
		var st ifcv1.SyncService_UploadImageClient
		held := 0 // what the fuzzer believes the cloud holds; only steers offsets
		end := func() {
			if st == nil {
				return
			}
			st.CloseAndRecv()
			st = nil
			off, err := e.client.UploadOffset(ctx, &ifcv1.UploadOffsetRequest{Sha256: sum(img), Size: int64(len(img))})
			if err != nil {
				t.Fatal(err)
			}
			held = int(off.GetOffset())
		}
		for i := 0; i+4 <= len(ops); i += 4 {
			n, mode, v, flags := int(ops[i]), ops[i+1]%4, int(ops[i+2]), ops[i+3]
			off := held
			switch mode {
			case 1:
				off = held + v%16
			case 2:
				off = max(0, held-v%16)
			case 3:
				off = v
			}
			var data []byte
			if off <= len(img) {
				data = bytes.Clone(img[off:min(len(img), off+n)])
			} else {
				data = bytes.Repeat([]byte{byte(v)}, n%8)
			}
			m := &ifcv1.UploadImageRequest{Offset: int64(off), Data: data, DataSha256: sum(data)}
			good := off == held && n <= 64
			if v%7 == 5 {
				m.DataSha256 = sum(append(data, 1))
				good = false
			}
			if st == nil {
				var err error
				if st, err = e.client.UploadImage(ctx); err != nil {
					t.Fatal(err)
				}
				m.Image = ref(img)
			}
			if err := st.Send(m); err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatal(err)
				}
				end()
				continue
			}
			if good { // what the cloud will hold if it accepts the chunk
				held += len(data)
			}
			if flags%2 == 0 {
				end()
			}
		}
		end()

		stored := e.stored(t, id, img)
		staged := e.stagedBytes(t, id, img)
		switch {
		case stored != nil:
			if !bytes.Equal(stored, img) {
				t.Fatalf("stored image differs from the sent one (%d bytes vs %d)", len(stored), len(img))
			}
			if staged != nil {
				t.Fatal("staging file left after completion")
			}
		case !bytes.HasPrefix(img, staged):
			t.Fatalf("staged %d bytes that are not a prefix of the image", len(staged))
		}
	})
}
