package receiver_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	"github.com/imageflowcanvas/ifc/models/bundle"
	"github.com/imageflowcanvas/ifc/models/prefilter"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
	"github.com/imageflowcanvas/ifc/sync/device"
	"github.com/imageflowcanvas/ifc/sync/receiver"
)

func TestNewValidates(t *testing.T) {
	e := newEnv(t, nil)
	for name, o := range map[string]receiver.Options{
		"no store":   {Images: e.files, StagingDir: t.TempDir()},
		"no images":  {Store: e.store, StagingDir: t.TempDir()},
		"no staging": {Store: e.store, Images: e.files},
		"negative":   {Store: e.store, Images: e.files, StagingDir: t.TempDir(), MaxChunkBytes: -1},
	} {
		if _, err := receiver.New(o); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	dir := filepath.Join(t.TempDir(), "a", "staging")
	if _, err := receiver.New(receiver.Options{Store: e.store, Images: e.files, StagingDir: dir}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("staging dir: %v, %v; want mode 0700", fi, err)
	}
}

func TestEnrollThenReplayRefused(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	tok := e.token(t, time.Now().Add(time.Hour))
	resp, err := e.client.Enroll(ctx, &ifcv1.EnrollRequest{Token: tok, DeviceName: "press 3", AgentVersion: "1.2.0"})
	if err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	c := resp.GetCredentials()
	if _, err := uuid.Parse(c.GetDeviceId()); err != nil || c.GetLine() != testLine || c.GetSecret() == "" {
		t.Fatalf("credentials = %v", c)
	}
	d, err := e.store.GetDevice(ctx, c.GetDeviceId())
	if err != nil || d.Name != "press 3" || d.SecretHash != device.Hash(c.GetSecret()) {
		t.Fatalf("stored device = %+v, %v", d, err)
	}
	hb, err := e.client.Heartbeat(authCtx(c.GetDeviceId(), c.GetSecret()), &ifcv1.HeartbeatRequest{Queued: 3, QueuedBytes: 900, ModelVersion: "1.0.0"})
	if err != nil || hb.GetServerTime() == nil {
		t.Fatalf("Heartbeat with new credentials = %v, %v", hb, err)
	}
	if d, _ := e.store.GetDevice(ctx, c.GetDeviceId()); d.Queued != 3 || d.QueuedBytes != 900 || d.ModelVersion != "1.0.0" || d.LastSeen.IsZero() {
		t.Fatalf("device after heartbeat = %+v", d)
	}

	_, err = e.client.Enroll(ctx, &ifcv1.EnrollRequest{Token: tok, DeviceId: "other-box"})
	wantCode(t, err, codes.Unauthenticated, "enrollment token already used")
	_, err = e.client.Enroll(ctx, &ifcv1.EnrollRequest{Token: "ifcenr_nope"})
	wantCode(t, err, codes.Unauthenticated, "unknown enrollment token")
	_, err = e.client.Enroll(ctx, &ifcv1.EnrollRequest{Token: e.token(t, time.Now().Add(time.Hour)), DeviceId: "../x"})
	wantCode(t, err, codes.InvalidArgument, "device id")
	_, err = e.client.Enroll(ctx, &ifcv1.EnrollRequest{Token: e.token(t, time.Now().Add(time.Hour)), DeviceId: c.GetDeviceId()})
	wantCode(t, err, codes.AlreadyExists, c.GetDeviceId())

	devs, err := e.store.ListDevices(ctx)
	if err != nil || len(devs) != 1 {
		t.Fatalf("devices = %d, %v; want only the first", len(devs), err)
	}
}

func TestEnrollChosenDeviceID(t *testing.T) {
	e := newEnv(t, nil)
	resp, err := e.client.Enroll(context.Background(), &ifcv1.EnrollRequest{Token: e.token(t, time.Now().Add(time.Hour)), DeviceId: "edge-07"})
	if err != nil || resp.GetCredentials().GetDeviceId() != "edge-07" {
		t.Fatalf("Enroll = %v, %v", resp, err)
	}
}

func TestEnrollExpiredToken(t *testing.T) {
	e := newEnv(t, nil)
	_, err := e.client.Enroll(context.Background(), &ifcv1.EnrollRequest{Token: e.token(t, time.Now().Add(-time.Minute))})
	wantCode(t, err, codes.Unauthenticated, "enrollment token expired")
	if devs, _ := e.store.ListDevices(context.Background()); len(devs) != 0 {
		t.Fatalf("devices = %v, want none", devs)
	}
}

func TestEnrollRevokedToken(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	tok := e.token(t, time.Now().Add(time.Hour))
	if _, err := e.store.RevokeEnrollmentToken(ctx, device.Hash(tok)[:metadata.EnrollmentTokenIDLen], time.Now()); err != nil {
		t.Fatal(err)
	}
	_, err := e.client.Enroll(ctx, &ifcv1.EnrollRequest{Token: tok, DeviceId: "edge-r"})
	wantCode(t, err, codes.Unauthenticated, "unknown enrollment token")
	if devs, _ := e.store.ListDevices(ctx); len(devs) != 0 {
		t.Fatalf("devices = %v, want none", devs)
	}
}

func TestDeviceAuthRefusals(t *testing.T) {
	e := newEnv(t, nil)
	_, id := e.enroll(t)
	const same = "unknown device or wrong secret"
	for name, tc := range map[string]struct {
		ctx  context.Context
		want string
	}{
		"no credential":  {context.Background(), "missing device credential"},
		"malformed":      {authCtx("", "x"), "malformed"},
		"unknown device": {authCtx("ghost", "secret"), same},
		"wrong secret":   {authCtx(id, "not-the-secret"), same},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.client.Heartbeat(tc.ctx, &ifcv1.HeartbeatRequest{})
			wantCode(t, err, codes.Unauthenticated, tc.want)
			_, err = e.client.UploadOffset(tc.ctx, &ifcv1.UploadOffsetRequest{Sha256: sum([]byte("x")), Size: 1})
			wantCode(t, err, codes.Unauthenticated, tc.want)
		})
	}
}

func TestRevokedDeviceRefused(t *testing.T) {
	e := newEnv(t, nil)
	ctx, id := e.enroll(t)
	at := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
	if err := e.store.RevokeDevice(context.Background(), id, at); err != nil {
		t.Fatal(err)
	}
	_, err := e.client.Heartbeat(ctx, &ifcv1.HeartbeatRequest{})
	wantCode(t, err, codes.PermissionDenied, fmt.Sprintf("device %s was revoked at 2026-11-02T09:30:00Z; enroll again with a new token", id))
	img := pngImage(t, 1, 8, 8)
	_, err = e.send(ctx, img, chunk(img, 0, len(img)))
	wantCode(t, err, codes.PermissionDenied, "was revoked")
	if got := e.stagedBytes(t, id, img); got != nil {
		t.Fatalf("revoked device staged %d bytes", len(got))
	}
}

func TestForgedDeviceIDRefused(t *testing.T) {
	e := newEnv(t, nil)
	e.master(t, "P1", "", 0)
	ctxA, idA := e.enroll(t)
	_, idB := e.enroll(t)
	img := pngImage(t, 2, 8, 8)
	e.upload(t, ctxA, img)
	r := record(idB, "P1", img)
	_, err := e.client.CommitRecord(ctxA, &ifcv1.CommitRecordRequest{Record: r})
	wantCode(t, err, codes.PermissionDenied, fmt.Sprintf("record is for device %s but the caller is %s", idB, idA))
	if _, err := e.store.GetRecord(context.Background(), r.GetRecordId()); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("forged record stored: %v", err)
	}
}

func TestCommitRecord(t *testing.T) {
	e := newEnv(t, nil)
	e.master(t, "P1", "", 0)
	ctx, id := e.enroll(t)
	img := pngImage(t, 3, 16, 16)

	r := record(id, "P1", img)
	_, err := e.client.CommitRecord(ctx, &ifcv1.CommitRecordRequest{Record: r})
	wantCode(t, err, codes.FailedPrecondition, "upload every image")

	e.upload(t, ctx, img)
	unknown := record(id, "NOPE", img)
	_, err = e.client.CommitRecord(ctx, &ifcv1.CommitRecordRequest{Record: unknown})
	wantCode(t, err, codes.FailedPrecondition, "unknown product NOPE: the cloud has no inspection master for it")
	if _, err := e.store.GetRecord(context.Background(), unknown.GetRecordId()); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("record of unknown product stored: %v", err)
	}

	resp, err := e.client.CommitRecord(ctx, &ifcv1.CommitRecordRequest{Record: r})
	if err != nil || resp.GetOutcome() != ifcv1.CommitOutcome_COMMIT_OUTCOME_CREATED {
		t.Fatalf("first commit = %v, %v", resp, err)
	}
	again, err := e.client.CommitRecord(ctx, &ifcv1.CommitRecordRequest{Record: r})
	if err != nil || again.GetOutcome() != ifcv1.CommitOutcome_COMMIT_OUTCOME_DUPLICATE {
		t.Fatalf("second commit = %v, %v", again, err)
	}
	if !again.GetCommittedAt().AsTime().Equal(resp.GetCommittedAt().AsTime()) {
		t.Errorf("duplicate committed_at %v, first %v", again.GetCommittedAt().AsTime(), resp.GetCommittedAt().AsTime())
	}
	stored, err := e.store.GetRecord(context.Background(), r.GetRecordId())
	if err != nil || len(stored.Images) != 1 || stored.Images[0].FileID == "" || stored.PipelineState != metadata.PipelineNone {
		t.Fatalf("stored record = %+v, %v", stored, err)
	}

	// The cloud files records under the device's enrolled line, whatever
	// line the edge wrote; a retry of such a record is still a duplicate.
	other := record(id, "P1", img)
	other.Line = "somewhere-else"
	for range 2 {
		if _, err := e.client.CommitRecord(ctx, &ifcv1.CommitRecordRequest{Record: other}); err != nil {
			t.Fatalf("commit with another line: %v", err)
		}
	}
	if got, err := e.store.GetRecord(context.Background(), other.GetRecordId()); err != nil || got.Record.GetLine() != testLine {
		t.Fatalf("record filed under line %q, want the enrolled line %q (%v)", got.Record.GetLine(), testLine, err)
	}

	changed := record(id, "P1", img)
	changed.RecordId = r.GetRecordId()
	changed.Serial = "different"
	_, err = e.client.CommitRecord(ctx, &ifcv1.CommitRecordRequest{Record: changed})
	wantCode(t, err, codes.AlreadyExists, "already stored with different content")
}

func TestCommitRecordInvalid(t *testing.T) {
	e := newEnv(t, nil)
	e.master(t, "P1", "", 0)
	ctx, id := e.enroll(t)
	img := pngImage(t, 4, 8, 8)
	e.upload(t, ctx, img)
	for _, tc := range []struct {
		field string
		edit  func(r *ifcv1.InspectionRecord)
	}{
		{"record_id", func(r *ifcv1.InspectionRecord) { r.RecordId = "not-a-uuid" }},
		{"record_id", func(r *ifcv1.InspectionRecord) { r.RecordId = strings.ToUpper(r.RecordId) }},
		{"product_code", func(r *ifcv1.InspectionRecord) { r.ProductCode = "" }},
		{"images", func(r *ifcv1.InspectionRecord) { r.Images = nil }},
		{"images[0].sha256", func(r *ifcv1.InspectionRecord) { r.Images[0].Sha256 = "ABC" }},
		{"verdict.result", func(r *ifcv1.InspectionRecord) { r.Verdict = nil }},
		{"captured_at", func(r *ifcv1.InspectionRecord) { r.CapturedAt = nil }},
		{"captured_at", func(r *ifcv1.InspectionRecord) { r.CapturedAt = &timestamppb.Timestamp{Seconds: 1, Nanos: -5} }},
		{"captured_at: year 2400", func(r *ifcv1.InspectionRecord) {
			r.CapturedAt = timestamppb.New(time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC))
		}},
	} {
		r := record(id, "P1", img)
		tc.edit(r)
		_, err := e.client.CommitRecord(ctx, &ifcv1.CommitRecordRequest{Record: r})
		wantCode(t, err, codes.InvalidArgument, tc.field)
	}
	_, err := e.client.CommitRecord(ctx, &ifcv1.CommitRecordRequest{})
	wantCode(t, err, codes.InvalidArgument, "record is required")
	if recs, _, err := e.store.SearchRecords(context.Background(), metadata.RecordFilter{}); err != nil || len(recs) != 0 {
		t.Fatalf("records = %d, %v; want none", len(recs), err)
	}
}

func TestCommitEdgeOverride(t *testing.T) {
	e := newEnv(t, nil)
	e.master(t, "P1", "", 0)
	ctx, id := e.enroll(t)
	ctxB, idB := e.enroll(t)
	img := pngImage(t, 5, 8, 8)
	e.upload(t, ctx, img)
	r := record(id, "P1", img)
	if _, err := e.client.CommitRecord(ctx, &ifcv1.CommitRecordRequest{Record: r}); err != nil {
		t.Fatal(err)
	}
	o := &ifcv1.VerdictOverride{
		OverrideId: uuid.Must(uuid.NewV7()).String(),
		RecordId:   r.GetRecordId(),
		Actor:      "inspector-2",
		Reason:     "scratch missed",
		Verdict:    &ifcv1.Verdict{Result: ifcv1.VerdictResult_VERDICT_RESULT_NG, DefectType: "scratch"},
		At:         timestamppb.New(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)),
		Origin:     ifcv1.VerdictOrigin_VERDICT_ORIGIN_EDGE,
		DeviceId:   id,
	}
	resp, err := e.client.CommitOverride(ctx, &ifcv1.CommitOverrideRequest{Override: o})
	if err != nil || resp.GetOutcome() != ifcv1.CommitOutcome_COMMIT_OUTCOME_CREATED {
		t.Fatalf("override = %v, %v", resp, err)
	}
	resp, err = e.client.CommitOverride(ctx, &ifcv1.CommitOverrideRequest{Override: o})
	if err != nil || resp.GetOutcome() != ifcv1.CommitOutcome_COMMIT_OUTCOME_DUPLICATE {
		t.Fatalf("override again = %v, %v", resp, err)
	}
	stored, err := e.store.GetRecord(context.Background(), r.GetRecordId())
	if err != nil || len(stored.Overrides) != 1 || stored.Effective.GetResult() != ifcv1.VerdictResult_VERDICT_RESULT_NG {
		t.Fatalf("record after override = %+v, %v", stored, err)
	}

	// Another device cannot learn of, or override, this record.
	other := &ifcv1.VerdictOverride{OverrideId: uuid.Must(uuid.NewV7()).String(), RecordId: r.GetRecordId(),
		Verdict: o.Verdict, At: o.At, Origin: ifcv1.VerdictOrigin_VERDICT_ORIGIN_EDGE, DeviceId: idB}
	_, err = e.client.CommitOverride(ctxB, &ifcv1.CommitOverrideRequest{Override: other})
	wantCode(t, err, codes.NotFound, "not found")
	other.RecordId = uuid.Must(uuid.NewV7()).String()
	_, err = e.client.CommitOverride(ctxB, &ifcv1.CommitOverrideRequest{Override: other})
	wantCode(t, err, codes.NotFound, "not found")
	cloud := &ifcv1.VerdictOverride{OverrideId: uuid.Must(uuid.NewV7()).String(), RecordId: r.GetRecordId(),
		Verdict: o.Verdict, At: o.At, Origin: ifcv1.VerdictOrigin_VERDICT_ORIGIN_CLOUD, DeviceId: id}
	_, err = e.client.CommitOverride(ctx, &ifcv1.CommitOverrideRequest{Override: cloud})
	wantCode(t, err, codes.InvalidArgument, "origin")
	forged := &ifcv1.VerdictOverride{OverrideId: uuid.Must(uuid.NewV7()).String(), RecordId: r.GetRecordId(),
		Verdict: o.Verdict, At: o.At, Origin: ifcv1.VerdictOrigin_VERDICT_ORIGIN_EDGE, DeviceId: id}
	_, err = e.client.CommitOverride(ctxB, &ifcv1.CommitOverrideRequest{Override: forged})
	wantCode(t, err, codes.PermissionDenied, "caller is "+idB)

	stored, _ = e.store.GetRecord(context.Background(), r.GetRecordId())
	if len(stored.Overrides) != 1 {
		t.Fatalf("overrides = %d, want 1", len(stored.Overrides))
	}
}

func TestPullMastersWithRollout(t *testing.T) {
	e := newEnv(t, nil)
	bg := context.Background()
	p, err := e.store.CreatePipelineVersion(bg, "", &ifcv1.PipelineDefinition{Name: "deep check"}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	e.master(t, "P1", p.GetId(), p.GetVersion())
	e.master(t, "P2", p.GetId(), p.GetVersion())
	e.master(t, "P3", "missing-pipeline", 1)
	if err := e.store.PutRollout(bg, metadata.Rollout{Line: testLine, ProductCode: "P1", ModelName: "prefilter",
		ModelVersion: "2.0.0", Threshold: 0.3, CreatedBy: "admin", CreatedAt: e.now}); err != nil {
		t.Fatal(err)
	}
	ctx, _ := e.enroll(t)
	resp, err := e.client.PullMasters(ctx, &ifcv1.PullMastersRequest{})
	if err != nil {
		t.Fatalf("PullMasters: %v", err)
	}
	byCode := map[string]*ifcv1.InspectionMaster{}
	for _, m := range resp.GetMasters() {
		byCode[m.GetProduct().GetCode()] = m
	}
	if len(byCode) != 3 || byCode["P1"].GetPrefilterModelVersion() != "2.0.0" || byCode["P1"].GetPrefilterThreshold() != 0.3 {
		t.Fatalf("masters = %v", resp.GetMasters())
	}
	if len(resp.GetPipelines()) != 1 || resp.GetPipelines()[0].GetId() != p.GetId() {
		t.Fatalf("pipelines = %v, want only %s once", resp.GetPipelines(), p.GetId())
	}
	next, err := e.client.PullMasters(ctx, &ifcv1.PullMastersRequest{Cursor: resp.GetNextCursor()})
	if err != nil || len(next.GetMasters()) != 0 || next.GetMore() {
		t.Fatalf("pull after cursor = %v, %v; want nothing new", next, err)
	}
	_, err = e.client.PullMasters(ctx, &ifcv1.PullMastersRequest{Cursor: -1})
	wantCode(t, err, codes.InvalidArgument, "negative")
}

// download reassembles the bundle files DownloadModel streams.
func download(ctx context.Context, c ifcv1.SyncServiceClient, name, version string) (map[string][]byte, []string, error) {
	st, err := c.DownloadModel(ctx, &ifcv1.DownloadModelRequest{Name: name, Version: version})
	if err != nil {
		return nil, nil, err
	}
	got := map[string][]byte{}
	var order []string
	sums := map[string]string{}
	for {
		ch, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		if ch.GetOffset() == 0 {
			order = append(order, ch.GetFile())
			sums[ch.GetFile()] = ch.GetFileSha256()
		}
		if int64(len(got[ch.GetFile()])) != ch.GetOffset() {
			return nil, nil, fmt.Errorf("%s: chunk at %d after %d bytes", ch.GetFile(), ch.GetOffset(), len(got[ch.GetFile()]))
		}
		got[ch.GetFile()] = append(got[ch.GetFile()], ch.GetData()...)
	}
	for f, want := range sums {
		h := sha256.Sum256(got[f])
		if hex.EncodeToString(h[:]) != want {
			return nil, nil, fmt.Errorf("%s: sha256 does not match the announced one", f)
		}
	}
	return got, order, nil
}

func TestDownloadEmbeddedPrefilter(t *testing.T) {
	b, err := bundle.LoadFS(prefilter.FS)
	if err != nil {
		t.Fatal(err)
	}
	key := b.Manifest.Name + "@" + b.Manifest.Version
	e := newEnv(t, func(o *receiver.Options) { o.ModelFS = map[string]fs.FS{key: prefilter.FS} })
	ctx, _ := e.enroll(t)
	got, order, err := download(ctx, e.client, b.Manifest.Name, b.Manifest.Version)
	if err != nil {
		t.Fatalf("download: %v", err)
	}
	ents, _ := fs.ReadDir(prefilter.FS, ".")
	if len(got) != len(ents) || order[len(order)-1] != bundle.ManifestFile {
		t.Fatalf("files %v, want the %d bundle files with manifest.json last", order, len(ents))
	}
	for _, ent := range ents {
		want, _ := fs.ReadFile(prefilter.FS, ent.Name())
		if string(got[ent.Name()]) != string(want) {
			t.Errorf("%s: %d bytes, differs from the source (%d bytes)", ent.Name(), len(got[ent.Name()]), len(want))
		}
	}

	for _, tc := range []struct{ name, version string }{{"..", "etc"}, {"../etc", "1"}, {"prefilter", "../../etc"}, {"", "1"}, {"a/b", "1"}} {
		_, _, err := download(ctx, e.client, tc.name, tc.version)
		wantCode(t, err, codes.InvalidArgument, "plain names")
	}
	_, _, err = download(ctx, e.client, "prefilter", "9.9.9")
	wantCode(t, err, codes.NotFound, "not found")
}

func TestDownloadFromModelDir(t *testing.T) {
	dir := t.TempDir()
	bdir := filepath.Join(dir, "det", "2")
	if err := os.MkdirAll(bdir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"manifest.json": []byte(`{"name":"det"}`), "model.onnx": make([]byte, 600<<10), "empty.bin": nil}
	for i := range files["model.onnx"] {
		files["model.onnx"][i] = byte(i * 31)
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(bdir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	secret := filepath.Join(dir, "secret.txt")
	os.WriteFile(secret, []byte("not part of the bundle"), 0o600)
	if err := os.Symlink(secret, filepath.Join(bdir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(o *receiver.Options) { o.ModelDirs = []string{t.TempDir(), dir} })
	ctx, _ := e.enroll(t)
	got, order, err := download(ctx, e.client, "det", "2")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(order) != "[empty.bin model.onnx manifest.json]" {
		t.Fatalf("order = %v (symlinks must be skipped, manifest last)", order)
	}
	for n, want := range files {
		if string(got[n]) != string(want) {
			t.Errorf("%s differs", n)
		}
	}
}

// fakeRunner records submissions; busy makes the first calls retry-later,
// fail makes runs of a pipeline fail.
type fakeRunner struct {
	mu    sync.Mutex
	busy  int
	fail  string
	calls map[string]int // file id → accepted submissions
}

func (f *fakeRunner) RunPipeline(_ context.Context, pipelineID string, _ int32, fileID, createdBy string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.busy > 0 {
		f.busy--
		return "", fmt.Errorf("conductor: %w", receiver.ErrRetryLater)
	}
	if pipelineID == f.fail {
		return "", errors.New("pipeline definition is invalid")
	}
	f.calls[fileID]++
	return "exec-" + fileID, nil
}

func (f *fakeRunner) count(fileID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[fileID]
}

func TestPipelineLoopSubmitsOncePerRecord(t *testing.T) {
	bg := context.Background()
	runner := &fakeRunner{busy: 2, calls: map[string]int{}}
	e := newEnv(t, func(o *receiver.Options) {
		o.Runner = runner
		o.PipelineInterval = 20 * time.Millisecond
	})
	good, _ := e.store.CreatePipelineVersion(bg, "", &ifcv1.PipelineDefinition{Name: "good"}, "admin")
	bad, _ := e.store.CreatePipelineVersion(bg, "", &ifcv1.PipelineDefinition{Name: "bad"}, "admin")
	runner.fail = bad.GetId()
	e.master(t, "P1", good.GetId(), good.GetVersion())
	e.master(t, "P2", bad.GetId(), bad.GetVersion())
	ctx, id := e.enroll(t)
	var recs []*ifcv1.InspectionRecord
	for i := range 3 {
		img := pngImage(t, 10+i, 8, 8)
		e.upload(t, ctx, img)
		r := record(id, "P1", img)
		if i == 2 {
			r.ProductCode = "P2"
		}
		if _, err := e.client.CommitRecord(ctx, &ifcv1.CommitRecordRequest{Record: r}); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	runCtx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() { done <- e.srv.Run(runCtx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	state := func(r *ifcv1.InspectionRecord) metadata.Record {
		rec, err := e.store.GetRecord(bg, r.GetRecordId())
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	eventually(t, "every record leaves pending", func() bool {
		for _, r := range recs {
			if state(r).PipelineState == metadata.PipelinePending {
				return false
			}
		}
		return true
	})
	for _, r := range recs[:2] {
		rec := state(r)
		if rec.PipelineState != metadata.PipelineSubmitted || rec.ExecutionID != "exec-"+rec.Images[0].FileID {
			t.Errorf("record %s: state %s execution %q", r.GetRecordId(), rec.PipelineState, rec.ExecutionID)
		}
	}
	if rec := state(recs[2]); rec.PipelineState != metadata.PipelineFailed || rec.PipelineError != "pipeline definition is invalid" {
		t.Errorf("failing record: state %s error %q", rec.PipelineState, rec.PipelineError)
	}
	// A later record is submitted in a later round; the earlier ones are not again.
	img := pngImage(t, 20, 8, 8)
	e.upload(t, ctx, img)
	late := record(id, "P1", img)
	if _, err := e.client.CommitRecord(ctx, &ifcv1.CommitRecordRequest{Record: late}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the later record is submitted", func() bool { return state(late).PipelineState == metadata.PipelineSubmitted })
	for _, r := range recs[:2] {
		if n := runner.count(state(r).Images[0].FileID); n != 1 {
			t.Errorf("record %s submitted %d times, want 1", r.GetRecordId(), n)
		}
	}
}
