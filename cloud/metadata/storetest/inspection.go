package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/cloud/metadata"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

const (
	vOK = ifcv1.VerdictResult_VERDICT_RESULT_OK
	vNG = ifcv1.VerdictResult_VERDICT_RESULT_NG
)

var t0 = time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)

func master(code, pipelineID string) *ifcv1.InspectionMaster {
	return &ifcv1.InspectionMaster{
		Product:               &ifcv1.Product{Code: code, Name: "Product " + code},
		Items:                 []*ifcv1.InspectionItem{{Id: "scratch", Name: "Scratches"}},
		DefectTypes:           []*ifcv1.DefectType{{Code: "SCR", Name: "Scratch"}},
		PrefilterModelName:    "base-model",
		PrefilterModelVersion: "1",
		PrefilterThreshold:    0.5,
		PipelineId:            pipelineID,
		PipelineVersion:       1,
	}
}

func putMaster(t *testing.T, s metadata.Store, m *ifcv1.InspectionMaster) *ifcv1.InspectionMaster {
	t.Helper()
	got, err := s.PutMaster(ctx, m)
	if err != nil {
		t.Fatalf("put master %s: %v", m.GetProduct().GetCode(), err)
	}
	return got
}

// sha returns the hex sha256 of s, standing in for an image's bytes.
func sha(s string) string { return fmt.Sprintf("%x", sha256.Sum256([]byte(s))) }

// upload records that device uploaded the image named name as file "file-<name>".
func upload(t *testing.T, s metadata.Store, device, name string) {
	t.Helper()
	if err := s.PutUpload(ctx, metadata.Upload{DeviceID: device, SHA256: sha(name), FileID: "file-" + name, CreatedAt: t0}); err != nil {
		t.Fatalf("put upload: %v", err)
	}
}

type rec struct {
	id, device, line, product, lot string
	at                             time.Time
	verdict                        ifcv1.VerdictResult
	images                         []string
}

func (r rec) proto() *ifcv1.InspectionRecord {
	p := &ifcv1.InspectionRecord{
		RecordId:    r.id,
		DeviceId:    r.device,
		Line:        r.line,
		ProductCode: r.product,
		Lot:         r.lot,
		Serial:      "SN-" + r.id,
		Inspector:   "inspector-1",
		CapturedAt:  timestamppb.New(r.at),
		Prefilter:   &ifcv1.PrefilterResult{Score: 0.25, Label: "ok", ModelName: "m", ModelVersion: "1", Threshold: 0.5},
		Verdict:     &ifcv1.Verdict{Result: r.verdict, DecidedAt: timestamppb.New(r.at.Add(time.Second))},
		CreatedAt:   timestamppb.New(r.at.Add(2 * time.Second)),
	}
	for _, name := range r.images {
		p.Images = append(p.Images, &ifcv1.ImageRef{Sha256: sha(name), Size: 1000, ContentType: "image/jpeg", Width: 64, Height: 48})
	}
	return p
}

// commit uploads r's images from its device and commits it.
func commit(t *testing.T, s metadata.Store, r rec) *ifcv1.InspectionRecord {
	t.Helper()
	for _, name := range r.images {
		upload(t, s, r.device, name)
	}
	p := r.proto()
	created, err := s.CommitRecord(ctx, p, t0.Add(time.Hour))
	if err != nil || !created {
		t.Fatalf("commit %s: created=%v, %v", r.id, created, err)
	}
	return p
}

func recordIDs(rs []metadata.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Record.GetRecordId()
	}
	return out
}

func testEnrollment(t *testing.T, s metadata.Store) {
	tok := metadata.EnrollmentToken{TokenHash: sha("tok-1"), Line: "line-a", CreatedBy: "admin", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := s.CreateEnrollmentToken(ctx, tok); err != nil {
		t.Fatalf("create token: %v", err)
	}
	if err := s.CreateEnrollmentToken(ctx, tok); !errors.Is(err, metadata.ErrConflict) {
		t.Errorf("duplicate token = %v, want ErrConflict", err)
	}
	if err := s.CreateEnrollmentToken(ctx, metadata.EnrollmentToken{Line: "x", ExpiresAt: t0}); !errors.Is(err, metadata.ErrInvalidArgument) {
		t.Errorf("token without hash = %v, want ErrInvalidArgument", err)
	}
	now := t0.Add(time.Minute)
	d, err := s.RedeemEnrollmentToken(ctx, tok.TokenHash, metadata.Device{DeviceID: "dev-1", Name: "Cell 1", SecretHash: sha("secret-1"), Line: "ignored"}, now)
	if err != nil {
		t.Fatalf("redeem: %v", err)
	}
	if d.Line != "line-a" || !d.EnrolledAt.Equal(now) || d.Revoked() {
		t.Fatalf("redeemed device = %+v, want line from the token and EnrolledAt = now", d)
	}
	got, err := s.GetDevice(ctx, "dev-1")
	if err != nil || got.DeviceID != "dev-1" || got.Name != "Cell 1" || got.Line != "line-a" || got.SecretHash != sha("secret-1") || !got.EnrolledAt.Equal(now) {
		t.Fatalf("get device = %+v, %v", got, err)
	}

	// Redeeming twice fails and creates nothing.
	_, err = s.RedeemEnrollmentToken(ctx, tok.TokenHash, metadata.Device{DeviceID: "dev-2", SecretHash: sha("s2")}, now)
	if !errors.Is(err, metadata.ErrTokenUsed) {
		t.Errorf("second redeem = %v, want ErrTokenUsed", err)
	}
	if _, err := s.GetDevice(ctx, "dev-2"); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("device of a refused redeem exists: %v", err)
	}
	if again, _ := s.GetDevice(ctx, "dev-1"); again.SecretHash != got.SecretHash || !again.EnrolledAt.Equal(got.EnrolledAt) {
		t.Errorf("first device changed by the refused redeem: %+v", again)
	}

	if _, err := s.RedeemEnrollmentToken(ctx, sha("no-such-token"), metadata.Device{DeviceID: "dev-3", SecretHash: "h"}, now); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("unknown token = %v, want ErrNotFound", err)
	}

	// An expired token is refused and stays unused: it still works at an
	// earlier time, which proves nothing was written.
	exp := metadata.EnrollmentToken{TokenHash: sha("tok-exp"), Line: "line-b", ExpiresAt: t0.Add(time.Hour)}
	if err := s.CreateEnrollmentToken(ctx, exp); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RedeemEnrollmentToken(ctx, exp.TokenHash, metadata.Device{DeviceID: "dev-4", SecretHash: "h"}, exp.ExpiresAt); !errors.Is(err, metadata.ErrTokenExpired) {
		t.Errorf("redeem at expiry = %v, want ErrTokenExpired", err)
	}
	if _, err := s.GetDevice(ctx, "dev-4"); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("device of an expired redeem exists: %v", err)
	}

	// A device id already enrolled is a conflict and leaves the token unused.
	if _, err := s.RedeemEnrollmentToken(ctx, exp.TokenHash, metadata.Device{DeviceID: "dev-1", SecretHash: "h"}, now); !errors.Is(err, metadata.ErrConflict) {
		t.Errorf("redeem with an enrolled device id = %v, want ErrConflict", err)
	}
	if d, err := s.GetDevice(ctx, "dev-1"); err != nil || d.Line != "line-a" {
		t.Errorf("conflicting redeem changed dev-1: %+v, %v", d, err)
	}
	if d, err := s.RedeemEnrollmentToken(ctx, exp.TokenHash, metadata.Device{DeviceID: "dev-4", SecretHash: "h"}, now); err != nil || d.Line != "line-b" {
		t.Errorf("token unusable after refused redeems: %+v, %v", d, err)
	}
	if _, err := s.RedeemEnrollmentToken(ctx, "", metadata.Device{DeviceID: "dev-5", SecretHash: "h"}, now); !errors.Is(err, metadata.ErrInvalidArgument) {
		t.Errorf("empty token hash = %v, want ErrInvalidArgument", err)
	}

	// A revoked device enrolls again under its own id (its queued records
	// carry it): new secret and line, no longer revoked.
	if err := s.RevokeDevice(ctx, "dev-1", now); err != nil {
		t.Fatal(err)
	}
	re := metadata.EnrollmentToken{TokenHash: sha("tok-re"), Line: "line-c", ExpiresAt: t0.Add(time.Hour)}
	if err := s.CreateEnrollmentToken(ctx, re); err != nil {
		t.Fatal(err)
	}
	later := now.Add(time.Minute)
	if d, err := s.RedeemEnrollmentToken(ctx, re.TokenHash, metadata.Device{DeviceID: "dev-1", SecretHash: sha("secret-new")}, later); err != nil || d.Line != "line-c" {
		t.Fatalf("re-enroll a revoked device: %+v, %v", d, err)
	}
	if d, err := s.GetDevice(ctx, "dev-1"); err != nil || d.Revoked() || d.SecretHash != sha("secret-new") || d.Line != "line-c" || !d.EnrolledAt.Equal(later) {
		t.Fatalf("re-enrolled device = %+v, %v", d, err)
	}
}

func testEnrollmentTokenRevoke(t *testing.T, s metadata.Store) {
	if ts, err := s.ListEnrollmentTokens(ctx); err != nil || len(ts) != 0 {
		t.Fatalf("empty list = %v, %v", ts, err)
	}
	older := metadata.EnrollmentToken{TokenHash: sha("rv-older"), Line: "line-a", CreatedBy: "integrator", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	newer := metadata.EnrollmentToken{TokenHash: sha("rv-newer"), Line: "line-b", CreatedBy: "admin", CreatedAt: t0.Add(time.Minute), ExpiresAt: t0.Add(2 * time.Hour)}
	used := metadata.EnrollmentToken{TokenHash: sha("rv-used"), Line: "line-c", CreatedBy: "admin", CreatedAt: t0.Add(-time.Minute), ExpiresAt: t0.Add(time.Hour)}
	for _, tok := range []metadata.EnrollmentToken{older, newer, used} {
		if err := s.CreateEnrollmentToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	now := t0.Add(2 * time.Minute)
	if _, err := s.RedeemEnrollmentToken(ctx, used.TokenHash, metadata.Device{DeviceID: "rv-dev", SecretHash: sha("rv-secret")}, now); err != nil {
		t.Fatal(err)
	}

	ts, err := s.ListEnrollmentTokens(ctx)
	if err != nil || len(ts) != 3 {
		t.Fatalf("list = %+v, %v", ts, err)
	}
	if ts[0].TokenHash != newer.TokenHash || ts[1].TokenHash != older.TokenHash || ts[2].TokenHash != used.TokenHash {
		t.Fatalf("list order = %s, %s, %s; want newest created first", ts[0].Line, ts[1].Line, ts[2].Line)
	}
	if g := ts[1]; g.Line != "line-a" || g.CreatedBy != "integrator" || !g.CreatedAt.Equal(t0) || !g.ExpiresAt.Equal(t0.Add(time.Hour)) ||
		!g.UsedAt.IsZero() || g.DeviceID != "" || !g.RevokedAt.IsZero() {
		t.Fatalf("unused token = %+v", g)
	}
	if g := ts[2]; !g.UsedAt.Equal(now) || g.DeviceID != "rv-dev" || !g.RevokedAt.IsZero() {
		t.Fatalf("used token = %+v", g)
	}
	if id := older.ID(); len(id) != metadata.EnrollmentTokenIDLen || id != older.TokenHash[:12] {
		t.Fatalf("ID = %q", id)
	}

	// Revoke is idempotent and keeps the first time.
	at := now.Add(time.Minute)
	got, err := s.RevokeEnrollmentToken(ctx, older.ID(), at)
	if err != nil || got.TokenHash != older.TokenHash || !got.RevokedAt.Equal(at) || got.Line != "line-a" {
		t.Fatalf("revoke = %+v, %v", got, err)
	}
	if got, err := s.RevokeEnrollmentToken(ctx, older.ID(), at.Add(time.Hour)); err != nil || !got.RevokedAt.Equal(at) {
		t.Fatalf("second revoke = %+v, %v; want the first time kept", got, err)
	}
	// A revoked token no longer enrolls, refused like an unknown token, and nothing changes.
	if _, err := s.RedeemEnrollmentToken(ctx, older.TokenHash, metadata.Device{DeviceID: "rv-dev-2", SecretHash: sha("s")}, at); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("redeem revoked token: %v, want ErrNotFound", err)
	}
	if _, err := s.GetDevice(ctx, "rv-dev-2"); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("device of a revoked token: %v", err)
	}
	ts, _ = s.ListEnrollmentTokens(ctx)
	if g := ts[1]; !g.RevokedAt.Equal(at) || !g.UsedAt.IsZero() || g.DeviceID != "" {
		t.Fatalf("revoked token in list = %+v", g)
	}
	if g := ts[0]; !g.RevokedAt.IsZero() {
		t.Fatalf("revoking one token revoked another: %+v", g)
	}

	// A used token cannot be revoked; unknown or malformed IDs are not found.
	if _, err := s.RevokeEnrollmentToken(ctx, used.ID(), at); !errors.Is(err, metadata.ErrTokenUsed) {
		t.Fatalf("revoke used token: %v, want ErrTokenUsed", err)
	}
	for _, id := range []string{sha("nope")[:12], "", "ABCDEF012345", older.TokenHash, "%", older.ID()[:11] + "%"} {
		if _, err := s.RevokeEnrollmentToken(ctx, id, at); !errors.Is(err, metadata.ErrNotFound) {
			t.Errorf("revoke %q: %v, want ErrNotFound", id, err)
		}
	}
	// The newer token still enrolls.
	if d, err := s.RedeemEnrollmentToken(ctx, newer.TokenHash, metadata.Device{DeviceID: "rv-dev-3", SecretHash: sha("s3")}, at); err != nil || d.Line != "line-b" {
		t.Fatalf("redeem unrevoked token: %+v, %v", d, err)
	}
}

func enroll(t *testing.T, s metadata.Store, id, line string) {
	t.Helper()
	tok := metadata.EnrollmentToken{TokenHash: sha("tok-" + id), Line: line, ExpiresAt: t0.Add(time.Hour)}
	if err := s.CreateEnrollmentToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RedeemEnrollmentToken(ctx, tok.TokenHash, metadata.Device{DeviceID: id, SecretHash: sha(id)}, t0); err != nil {
		t.Fatal(err)
	}
}

func testDevices(t *testing.T, s metadata.Store) {
	if ds, err := s.ListDevices(ctx); err != nil || len(ds) != 0 {
		t.Fatalf("empty list = %v, %v", ds, err)
	}
	enroll(t, s, "d-2", "line-b")
	enroll(t, s, "d-3", "line-a")
	enroll(t, s, "d-1", "line-b")
	ds, err := s.ListDevices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, d := range ds {
		order = append(order, d.Line+"/"+d.DeviceID)
	}
	if fmt.Sprint(order) != "[line-a/d-3 line-b/d-1 line-b/d-2]" {
		t.Fatalf("list order = %v, want by line then id", order)
	}

	first, second := t0.Add(time.Hour), t0.Add(2*time.Hour)
	if err := s.RevokeDevice(ctx, "d-1", first); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeDevice(ctx, "d-1", second); err != nil {
		t.Fatalf("second revoke: %v", err)
	}
	if d, _ := s.GetDevice(ctx, "d-1"); !d.Revoked() || !d.RevokedAt.Equal(first) {
		t.Errorf("revoked at %v, want the first revocation %v", d.RevokedAt, first)
	}
	if d, _ := s.GetDevice(ctx, "d-2"); d.Revoked() {
		t.Errorf("d-2 revoked by revoking d-1")
	}
	if err := s.RevokeDevice(ctx, "nope", first); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("revoke unknown = %v, want ErrNotFound", err)
	}

	// A heartbeat sets every reported field; a plain touch moves LastSeen only.
	hb := metadata.DeviceStatus{Queued: 7, QueuedBytes: 7000, OldestQueued: t0.Add(time.Minute), AgentVersion: "0.3.0", ModelVersion: "m-2", At: t0.Add(3 * time.Minute)}
	if err := s.TouchDevice(ctx, "d-2", hb); err != nil {
		t.Fatal(err)
	}
	d, _ := s.GetDevice(ctx, "d-2")
	if d.Queued != 7 || d.QueuedBytes != 7000 || !d.OldestQueued.Equal(hb.OldestQueued) || d.AgentVersion != "0.3.0" || d.ModelVersion != "m-2" || !d.LastSeen.Equal(hb.At) {
		t.Fatalf("after heartbeat = %+v", d)
	}
	if err := s.TouchDevice(ctx, "d-2", metadata.DeviceStatus{At: t0.Add(4 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	d, _ = s.GetDevice(ctx, "d-2")
	if !d.LastSeen.Equal(t0.Add(4*time.Minute)) || d.Queued != 7 || d.AgentVersion != "0.3.0" {
		t.Fatalf("after plain touch = %+v, want LastSeen moved and the heartbeat kept", d)
	}
	// An emptied queue is reported as zeros and stored as such.
	if err := s.TouchDevice(ctx, "d-2", metadata.DeviceStatus{AgentVersion: "0.3.0", At: t0.Add(5 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if d, _ = s.GetDevice(ctx, "d-2"); d.Queued != 0 || d.QueuedBytes != 0 || !d.OldestQueued.IsZero() {
		t.Fatalf("after empty-queue heartbeat = %+v", d)
	}
	if err := s.TouchDevice(ctx, "nope", hb); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("touch unknown = %v, want ErrNotFound", err)
	}
}

func testUploads(t *testing.T, s metadata.Store) {
	u := metadata.Upload{DeviceID: "d-1", SHA256: sha("a"), FileID: "f-1", CreatedAt: t0}
	if err := s.PutUpload(ctx, u); err != nil {
		t.Fatal(err)
	}
	// A retried finish is a no-op that keeps the first file.
	if err := s.PutUpload(ctx, metadata.Upload{DeviceID: "d-1", SHA256: sha("a"), FileID: "f-2", CreatedAt: t0.Add(time.Hour)}); err != nil {
		t.Fatalf("repeat upload: %v", err)
	}
	got, err := s.GetUpload(ctx, "d-1", sha("a"))
	if err != nil || got.FileID != "f-1" || !got.CreatedAt.Equal(t0) {
		t.Fatalf("get upload = %+v, %v", got, err)
	}
	if _, err := s.GetUpload(ctx, "d-2", sha("a")); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("upload of another device = %v, want ErrNotFound", err)
	}
	if _, err := s.GetUpload(ctx, "d-1", sha("b")); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("unknown upload = %v, want ErrNotFound", err)
	}
	if err := s.PutUpload(ctx, metadata.Upload{DeviceID: "d-1", SHA256: sha("c")}); !errors.Is(err, metadata.ErrInvalidArgument) {
		t.Errorf("upload without file id = %v, want ErrInvalidArgument", err)
	}
}

func testRecordCommit(t *testing.T, s metadata.Store) {
	putMaster(t, s, master("P-1", ""))
	r := rec{id: "r-1", device: "d-1", line: "line-a", product: "P-1", lot: "L1", at: t0, verdict: vOK, images: []string{"a", "b"}}
	for _, name := range r.images {
		upload(t, s, r.device, name)
	}
	p := r.proto()
	committed := t0.Add(time.Hour)
	created, err := s.CommitRecord(ctx, p, committed)
	if err != nil || !created {
		t.Fatalf("commit = %v, %v", created, err)
	}
	got, err := s.GetRecord(ctx, "r-1")
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got.Record, p) || !got.CommittedAt.Equal(committed) || got.PipelineState != metadata.PipelineNone ||
		len(got.Overrides) != 0 || !proto.Equal(got.Effective, p.Verdict) {
		t.Fatalf("get record = %+v", got)
	}
	if fmt.Sprint(got.Images) != fmt.Sprint([]metadata.RecordImage{{SHA256: sha("a"), FileID: "file-a"}, {SHA256: sha("b"), FileID: "file-b"}}) {
		t.Fatalf("images = %v", got.Images)
	}

	// A retried commit of the same record is a no-op.
	created, err = s.CommitRecord(ctx, r.proto(), committed.Add(time.Hour))
	if err != nil || created {
		t.Fatalf("repeat commit = %v, %v; want created=false", created, err)
	}
	// A different record under the same id is refused; the stored one stands.
	other := r.proto()
	other.Verdict.Result = vNG
	if _, err := s.CommitRecord(ctx, other, committed); !errors.Is(err, metadata.ErrConflict) {
		t.Fatalf("conflicting commit = %v, want ErrConflict", err)
	}
	again, err := s.GetRecord(ctx, "r-1")
	if err != nil || !proto.Equal(again.Record, p) || !again.CommittedAt.Equal(committed) {
		t.Fatalf("stored record changed: %+v, %v", again, err)
	}
	if _, err := s.GetRecord(ctx, "nope"); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("get unknown = %v, want ErrNotFound", err)
	}
	if _, err := s.CommitRecord(ctx, &ifcv1.InspectionRecord{DeviceId: "d"}, committed); !errors.Is(err, metadata.ErrInvalidArgument) {
		t.Errorf("record without id = %v, want ErrInvalidArgument", err)
	}
}

func testRecordRejects(t *testing.T, s metadata.Store) {
	putMaster(t, s, master("P-1", ""))
	upload(t, s, "d-1", "a")
	upload(t, s, "d-2", "b") // another device's upload does not count

	r := rec{id: "r-1", device: "d-1", line: "line-a", product: "P-1", at: t0, verdict: vOK, images: []string{"a", "b"}}
	_, err := s.CommitRecord(ctx, r.proto(), t0)
	if !errors.Is(err, metadata.ErrMissingImage) || !strings.Contains(err.Error(), sha("b")) {
		t.Fatalf("commit with missing image = %v, want ErrMissingImage naming %s", err, sha("b"))
	}
	u := rec{id: "r-2", device: "d-1", line: "line-a", product: "P-404", at: t0, verdict: vOK, images: []string{"a"}}
	if _, err := s.CommitRecord(ctx, u.proto(), t0); !errors.Is(err, metadata.ErrUnknownProduct) {
		t.Fatalf("commit of unknown product = %v, want ErrUnknownProduct", err)
	}
	if got, _, err := s.SearchRecords(ctx, metadata.RecordFilter{}); err != nil || len(got) != 0 {
		t.Fatalf("refused commits left records: %v, %v", recordIDs(got), err)
	}
	if _, err := s.GetRecord(ctx, "r-1"); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("refused record readable: %v", err)
	}
	// Once the image arrives the same record commits.
	upload(t, s, "d-1", "b")
	if created, err := s.CommitRecord(ctx, r.proto(), t0); err != nil || !created {
		t.Fatalf("commit after upload = %v, %v", created, err)
	}
}

func override(id, record string, origin ifcv1.VerdictOrigin, result ifcv1.VerdictResult, at time.Time) *ifcv1.VerdictOverride {
	return &ifcv1.VerdictOverride{
		OverrideId: id, RecordId: record, Actor: "qa", Reason: "review " + id,
		Verdict: &ifcv1.Verdict{Result: result, DefectType: "SCR", DecidedAt: timestamppb.New(at)},
		At:      timestamppb.New(at), Origin: origin,
	}
}

func testOverrides(t *testing.T, s metadata.Store) {
	const (
		edge  = ifcv1.VerdictOrigin_VERDICT_ORIGIN_EDGE
		cloud = ifcv1.VerdictOrigin_VERDICT_ORIGIN_CLOUD
	)
	putMaster(t, s, master("P-1", ""))
	commit(t, s, rec{id: "r-1", device: "d-1", line: "l", product: "P-1", at: t0, verdict: vOK})
	commit(t, s, rec{id: "r-2", device: "d-1", line: "l", product: "P-1", at: t0.Add(time.Second), verdict: vOK})

	// Edge NG, then a cloud OK, then a later edge NG: the cloud decision
	// stands; all three stay in the history, oldest first.
	o1 := override("o-1", "r-1", edge, vNG, t0.Add(1*time.Minute))
	o2 := override("o-2", "r-1", cloud, vOK, t0.Add(2*time.Minute))
	o3 := override("o-3", "r-1", edge, vNG, t0.Add(3*time.Minute))
	for _, o := range []*ifcv1.VerdictOverride{o1, o2, o3} {
		if created, err := s.AddOverride(ctx, o); err != nil || !created {
			t.Fatalf("add %s = %v, %v", o.OverrideId, created, err)
		}
	}
	got, err := s.GetRecord(ctx, "r-1")
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got.Effective, o2.Verdict) {
		t.Errorf("effective = %v, want the cloud override %v", got.Effective, o2.Verdict)
	}
	if len(got.Overrides) != 3 || !proto.Equal(got.Overrides[0], o1) || !proto.Equal(got.Overrides[1], o2) || !proto.Equal(got.Overrides[2], o3) {
		t.Errorf("history = %v, want o-1, o-2, o-3", got.Overrides)
	}
	if got.Record.Verdict.Result != vOK {
		t.Errorf("the record itself was rewritten: %v", got.Record.Verdict)
	}

	if created, err := s.AddOverride(ctx, override("o-1", "r-1", edge, vNG, t0.Add(1*time.Minute))); err != nil || created {
		t.Errorf("repeat override = %v, %v; want created=false", created, err)
	}
	if _, err := s.AddOverride(ctx, override("o-1", "r-1", edge, vOK, t0.Add(1*time.Minute))); !errors.Is(err, metadata.ErrConflict) {
		t.Errorf("different override under a used id = %v, want ErrConflict", err)
	}
	if _, err := s.AddOverride(ctx, override("o-9", "nope", edge, vOK, t0)); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("override of unknown record = %v, want ErrNotFound", err)
	}
	if _, err := s.AddOverride(ctx, &ifcv1.VerdictOverride{RecordId: "r-1"}); !errors.Is(err, metadata.ErrInvalidArgument) {
		t.Errorf("override without id = %v, want ErrInvalidArgument", err)
	}
	if got, _ := s.GetRecord(ctx, "r-1"); len(got.Overrides) != 3 {
		t.Errorf("refused overrides were stored: %d in history", len(got.Overrides))
	}

	// Search by verdict matches the effective verdict: r-2 turns NG by an
	// edge override, r-1 is OK by the cloud's.
	if _, err := s.AddOverride(ctx, override("o-4", "r-2", edge, vNG, t0.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		v    ifcv1.VerdictResult
		want string
	}{{vNG, "[r-2]"}, {vOK, "[r-1]"}} {
		got, _, err := s.SearchRecords(ctx, metadata.RecordFilter{Verdict: tc.v})
		if err != nil || fmt.Sprint(recordIDs(got)) != tc.want {
			t.Errorf("search verdict %v = %v, %v; want %s", tc.v, recordIDs(got), err, tc.want)
		}
	}
	page, _, err := s.SearchRecords(ctx, metadata.RecordFilter{Verdict: vNG})
	if err != nil || len(page) != 1 || len(page[0].Overrides) != 1 || page[0].Effective.GetResult() != vNG {
		t.Errorf("searched record lacks overrides or effective verdict: %+v, %v", page, err)
	}
}

func testRecordSearch(t *testing.T, s metadata.Store) {
	putMaster(t, s, master("P-1", ""))
	putMaster(t, s, master("P-2", ""))
	all := []rec{
		{id: "r-0", device: "d-1", line: "line-a", product: "P-1", lot: "L1", at: t0, verdict: vOK, images: []string{"i0"}},
		{id: "r-1", device: "d-1", line: "line-a", product: "P-2", lot: "L1", at: t0.Add(1 * time.Hour), verdict: vNG},
		{id: "r-2", device: "d-2", line: "line-b", product: "P-1", lot: "L2", at: t0.Add(2 * time.Hour), verdict: vOK},
		{id: "r-3", device: "d-2", line: "line-b", product: "P-2", lot: "L2", at: t0.Add(3 * time.Hour), verdict: vNG},
		{id: "r-4", device: "d-1", line: "line-a", product: "P-1", lot: "L3", at: t0.Add(4 * time.Hour), verdict: vOK},
	}
	for _, r := range all {
		commit(t, s, r)
	}
	for _, tc := range []struct {
		name string
		f    metadata.RecordFilter
		want []string
	}{
		{"all newest first", metadata.RecordFilter{}, []string{"r-4", "r-3", "r-2", "r-1", "r-0"}},
		{"line", metadata.RecordFilter{Line: "line-b"}, []string{"r-3", "r-2"}},
		{"device", metadata.RecordFilter{DeviceID: "d-1"}, []string{"r-4", "r-1", "r-0"}},
		{"product", metadata.RecordFilter{ProductCode: "P-2"}, []string{"r-3", "r-1"}},
		{"lot", metadata.RecordFilter{Lot: "L2"}, []string{"r-3", "r-2"}},
		{"verdict", metadata.RecordFilter{Verdict: vNG}, []string{"r-3", "r-1"}},
		{"since inclusive", metadata.RecordFilter{Since: t0.Add(3 * time.Hour)}, []string{"r-4", "r-3"}},
		{"until exclusive", metadata.RecordFilter{Until: t0.Add(2 * time.Hour)}, []string{"r-1", "r-0"}},
		{"combined", metadata.RecordFilter{Line: "line-a", ProductCode: "P-1", Verdict: vOK, Since: t0.Add(time.Minute)}, []string{"r-4"}},
		{"nothing", metadata.RecordFilter{Lot: "L9"}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, tok, err := s.SearchRecords(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if tok != "" {
				t.Errorf("token %q on the last page", tok)
			}
			if fmt.Sprint(recordIDs(got)) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v, want %v", recordIDs(got), tc.want)
			}
		})
	}
	got, _, err := s.SearchRecords(ctx, metadata.RecordFilter{Lot: "L1", ProductCode: "P-1"})
	if err != nil || len(got) != 1 || fmt.Sprint(got[0].Images) != fmt.Sprint([]metadata.RecordImage{{SHA256: sha("i0"), FileID: "file-i0"}}) {
		t.Fatalf("search result lacks its images: %+v, %v", got, err)
	}
	for _, tok := range []string{"garbage!", metadata.EncodePageToken(metadata.Cursor{})[:3]} {
		if _, _, err := s.SearchRecords(ctx, metadata.RecordFilter{PageToken: tok}); !errors.Is(err, metadata.ErrInvalidArgument) {
			t.Errorf("token %q: %v, want ErrInvalidArgument", tok, err)
		}
	}
}

// testRecordPagination pages through 25 records, three per capture time,
// at 10 a page, committing newer records between pages: every old record
// is seen once, in order.
func testRecordPagination(t *testing.T, s metadata.Store) {
	putMaster(t, s, master("P-1", ""))
	const n = 25
	var want []string
	for i := range n {
		id := fmt.Sprintf("r-%03d", i)
		commit(t, s, rec{id: id, device: "d-1", line: "l", product: "P-1", at: t0.Add(time.Duration(i/3) * time.Second), verdict: vOK})
		want = append([]string{id}, want...)
	}
	var (
		got   []string
		tok   string
		pages int
	)
	for {
		page, next, err := s.SearchRecords(ctx, metadata.RecordFilter{ProductCode: "P-1", Limit: 10, PageToken: tok})
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		if len(page) > 10 {
			t.Fatalf("page of %d with limit 10", len(page))
		}
		got = append(got, recordIDs(page)...)
		pages++
		commit(t, s, rec{id: fmt.Sprintf("late-%d", pages), device: "d-1", line: "l", product: "P-1", at: t0.Add(time.Hour), verdict: vOK})
		if next == "" {
			break
		}
		tok = next
		if pages > n {
			t.Fatal("pagination does not terminate")
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("paged ids\n got %v\nwant %v", got, want)
	}
	if pages != 3 {
		t.Errorf("%d pages for %d records at 10 a page, want 3", pages, n)
	}
}

func testMasters(t *testing.T, s metadata.Store) {
	if ms, err := s.ListMasters(ctx); err != nil || len(ms) != 0 {
		t.Fatalf("empty list = %v, %v", ms, err)
	}
	in := master("P-2", "")
	in.Version = 999 // ignored
	a := putMaster(t, s, in)
	b := putMaster(t, s, master("P-1", "pipe-1"))
	a2 := putMaster(t, s, master("P-2", "pipe-2"))
	if !(a.Version > 0 && b.Version > a.Version && a2.Version > b.Version) {
		t.Fatalf("versions %d, %d, %d do not increase", a.Version, b.Version, a2.Version)
	}
	if a.UpdatedAt == nil || in.Version != 999 {
		t.Fatalf("put master: updated_at %v, caller's message changed to version %d", a.UpdatedAt, in.Version)
	}
	got, err := s.GetMaster(ctx, "P-2")
	if err != nil || !proto.Equal(got, a2) {
		t.Fatalf("get = %v, %v; want %v", got, err, a2)
	}
	ms, err := s.ListMasters(ctx)
	if err != nil || len(ms) != 2 || !proto.Equal(ms[0], b) || !proto.Equal(ms[1], a2) {
		t.Fatalf("list = %v, %v", ms, err)
	}
	if _, err := s.GetMaster(ctx, "P-404"); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("get unknown = %v, want ErrNotFound", err)
	}
	for name, m := range map[string]*ifcv1.InspectionMaster{
		"nil":        nil,
		"no code":    {Product: &ifcv1.Product{Name: "x"}},
		"no name":    {Product: &ifcv1.Product{Code: "x"}},
		"no product": {},
	} {
		if _, err := s.PutMaster(ctx, m); !errors.Is(err, metadata.ErrInvalidArgument) {
			t.Errorf("put master (%s) = %v, want ErrInvalidArgument", name, err)
		}
	}
}

func changes(t *testing.T, s metadata.Store, line string, cursor int64, limit int) metadata.MasterChanges {
	t.Helper()
	c, err := s.MasterChangesSince(ctx, line, cursor, limit)
	if err != nil {
		t.Fatalf("changes for %s since %d: %v", line, cursor, err)
	}
	return c
}

func codes(ms []*ifcv1.InspectionMaster) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.GetProduct().GetCode()
	}
	return out
}

func testMasterChanges(t *testing.T, s metadata.Store) {
	p1 := putMaster(t, s, master("P-1", ""))
	putMaster(t, s, master("P-2", ""))
	p3 := putMaster(t, s, master("P-3", ""))

	// Paging by cursor with More.
	c := changes(t, s, "line-a", 0, 2)
	if fmt.Sprint(codes(c.Masters)) != "[P-1 P-2]" || !c.More || c.NextCursor != c.Masters[1].Version {
		t.Fatalf("first page = %v more=%v next=%d", codes(c.Masters), c.More, c.NextCursor)
	}
	c = changes(t, s, "line-a", c.NextCursor, 2)
	if fmt.Sprint(codes(c.Masters)) != "[P-3]" || c.More || c.NextCursor != p3.Version {
		t.Fatalf("second page = %v more=%v next=%d", codes(c.Masters), c.More, c.NextCursor)
	}
	cursorA, cursorB := c.NextCursor, c.NextCursor
	if c := changes(t, s, "line-a", cursorA, 0); len(c.Masters) != 0 || c.More || c.NextCursor != cursorA {
		t.Fatalf("up to date = %v more=%v next=%d, want nothing and the same cursor", codes(c.Masters), c.More, c.NextCursor)
	}

	// A rollout on line A changes what line A pulls, not line B.
	if err := s.PutRollout(ctx, metadata.Rollout{Line: "line-a", ProductCode: "P-1", ModelName: "better", ModelVersion: "7", Threshold: 0.25, CreatedBy: "qa"}); err != nil {
		t.Fatal(err)
	}
	c = changes(t, s, "line-a", cursorA, 0)
	if len(c.Masters) != 1 {
		t.Fatalf("line A after rollout = %v", codes(c.Masters))
	}
	m := c.Masters[0]
	if m.Product.Code != "P-1" || m.PrefilterModelName != "better" || m.PrefilterModelVersion != "7" || m.PrefilterThreshold != 0.25 ||
		m.Version <= p3.Version || c.NextCursor != m.Version {
		t.Fatalf("line A pulled %v (next %d)", m, c.NextCursor)
	}
	want := proto.CloneOf(p1)
	want.PrefilterModelName, want.PrefilterModelVersion, want.PrefilterThreshold, want.Version = "better", "7", 0.25, m.Version
	if !proto.Equal(m, want) {
		t.Fatalf("line A pulled %v, want the master with the rollout applied %v", m, want)
	}
	if c := changes(t, s, "line-b", cursorB, 0); len(c.Masters) != 0 {
		t.Fatalf("line B saw line A's rollout: %v", codes(c.Masters))
	}
	if c := changes(t, s, "line-b", 0, 0); len(c.Masters) != 3 || !proto.Equal(c.Masters[0], p1) {
		t.Fatalf("line B full pull = %v", c.Masters)
	}
	if got, _ := s.GetMaster(ctx, "P-1"); !proto.Equal(got, p1) {
		t.Fatalf("rollout rewrote the master: %v", got)
	}
	cursorA = c.NextCursor

	// A newer master keeps line A's rollout applied.
	p1b := putMaster(t, s, master("P-1", "pipe"))
	c = changes(t, s, "line-a", cursorA, 0)
	if len(c.Masters) != 1 || c.Masters[0].Version != p1b.Version || c.Masters[0].PrefilterModelName != "better" || c.Masters[0].PipelineId != "pipe" {
		t.Fatalf("line A after new master = %v", c.Masters)
	}
	if err := s.PutRollout(ctx, metadata.Rollout{Line: "line-a", ProductCode: "P-404", ModelName: "m"}); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("rollout of unknown product = %v, want ErrNotFound", err)
	}
}

func testRecordPipeline(t *testing.T, s metadata.Store) {
	putMaster(t, s, master("P-pipe", "pipe-1"))
	putMaster(t, s, master("P-none", ""))
	commit(t, s, rec{id: "r-1", device: "d", line: "l", product: "P-pipe", at: t0, verdict: vOK})
	commit(t, s, rec{id: "r-2", device: "d", line: "l", product: "P-none", at: t0, verdict: vOK})
	commit(t, s, rec{id: "r-3", device: "d", line: "l", product: "P-pipe", at: t0, verdict: vOK})
	if r, _ := s.GetRecord(ctx, "r-2"); r.PipelineState != metadata.PipelineNone {
		t.Errorf("record of a product without pipeline is %q, want none", r.PipelineState)
	}
	pending, err := s.PendingPipelineRecords(ctx, 10)
	if err != nil || fmt.Sprint(recordIDs(pending)) != "[r-1 r-3]" || pending[0].PipelineState != metadata.PipelinePending {
		t.Fatalf("pending = %v, %v", recordIDs(pending), err)
	}
	if p, _ := s.PendingPipelineRecords(ctx, 1); len(p) != 1 {
		t.Errorf("limit 1 gave %d records", len(p))
	}
	if err := s.SetRecordPipeline(ctx, "r-1", metadata.PipelineSubmitted, "exec-1", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRecordPipeline(ctx, "r-3", metadata.PipelineFailed, "", "pipeline pipe-1 was deleted"); err != nil {
		t.Fatal(err)
	}
	if p, err := s.PendingPipelineRecords(ctx, 10); err != nil || len(p) != 0 {
		t.Fatalf("pending after submit = %v, %v", recordIDs(p), err)
	}
	r1, _ := s.GetRecord(ctx, "r-1")
	r3, _ := s.GetRecord(ctx, "r-3")
	if r1.PipelineState != metadata.PipelineSubmitted || r1.ExecutionID != "exec-1" || r3.PipelineState != metadata.PipelineFailed || r3.PipelineError == "" {
		t.Fatalf("after set: r-1 %q %q, r-3 %q %q", r1.PipelineState, r1.ExecutionID, r3.PipelineState, r3.PipelineError)
	}
	if err := s.SetRecordPipeline(ctx, "r-1", "done", "", ""); !errors.Is(err, metadata.ErrInvalidArgument) {
		t.Errorf("unknown state = %v, want ErrInvalidArgument", err)
	}
	if err := s.SetRecordPipeline(ctx, "nope", metadata.PipelineSubmitted, "e", ""); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("unknown record = %v, want ErrNotFound", err)
	}
}

// testRecordConcurrentCommit commits the same record from 8 goroutines at
// once: exactly one creates it, the others see it already stored.
func testRecordConcurrentCommit(t *testing.T, s metadata.Store) {
	putMaster(t, s, master("P-1", "pipe"))
	r := rec{id: "r-race", device: "d-1", line: "l", product: "P-1", at: t0, verdict: vOK, images: []string{"a", "b"}}
	for _, name := range r.images {
		upload(t, s, r.device, name)
	}
	const workers = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
	)
	for range workers {
		wg.Go(func() {
			c, err := s.CommitRecord(ctx, r.proto(), t0)
			if err != nil {
				t.Errorf("concurrent commit: %v", err)
				return
			}
			if c {
				mu.Lock()
				created++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if created != 1 {
		t.Fatalf("%d commits reported created, want exactly 1", created)
	}
	got, err := s.GetRecord(ctx, "r-race")
	if err != nil || len(got.Images) != 2 {
		t.Fatalf("stored record = %+v, %v", got, err)
	}
	if p, _ := s.PendingPipelineRecords(ctx, 10); len(p) != 1 {
		t.Fatalf("%d pending records, want 1", len(p))
	}
}
