package sender

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// sendOverrides commits edge verdict overrides, oldest first, paging like
// sendRecords so refused overrides cannot hide the ones behind them.
func (s *Sender) sendOverrides(ctx context.Context) error {
	return s.drain(ctx, "override", func(ctx context.Context, limit int) ([]string, error) {
		ovs, err := s.o.Queue.PendingOverrides(ctx, limit)
		if err != nil {
			return nil, fmt.Errorf("queue pending overrides: %w", err)
		}
		s.overrides = map[string]*ifcv1.VerdictOverride{}
		ids := make([]string, len(ovs))
		for i, ov := range ovs {
			ids[i] = ov.GetOverrideId()
			s.overrides[ids[i]] = ov
		}
		return ids, nil
	}, s.sendOverride)
}

// sendOverride commits one edge override and marks it synced.
func (s *Sender) sendOverride(ctx context.Context, id string) error {
	ov := s.overrides[id]
	cctx, cancel := s.callCtx(ctx)
	resp, err := s.o.Client.CommitOverride(cctx, &ifcv1.CommitOverrideRequest{Override: ov})
	cancel()
	if err := s.called("commit override", err); err != nil {
		return err
	}
	if o := resp.GetOutcome(); o != ifcv1.CommitOutcome_COMMIT_OUTCOME_CREATED && o != ifcv1.CommitOutcome_COMMIT_OUTCOME_DUPLICATE {
		return fmt.Errorf("commit override: unexpected outcome %v", o)
	}
	if err := s.o.Queue.MarkOverrideSynced(ctx, id, s.o.Clock.Now()); err != nil {
		return roundError{fmt.Errorf("queue mark override %s synced: %w", id, err)}
	}
	return nil
}

// sendRecords drains the record outbox in the queue's order.
func (s *Sender) sendRecords(ctx context.Context) error {
	return s.drain(ctx, "record", func(ctx context.Context, limit int) ([]string, error) {
		page, err := s.o.Queue.Pending(ctx, limit)
		if err != nil {
			return nil, fmt.Errorf("queue pending: %w", err)
		}
		ids := make([]string, len(page))
		for i, p := range page {
			ids[i] = p.RecordID
		}
		return ids, nil
	}, s.sendRecord)
}

// drain sends the items list returns, in its order, until a page brings
// nothing new. An item the cloud refuses is held: it waits out its own
// backoff (so it is not re-sent every round) while the others go on, and
// the page asked for grows by the number held, so any number of held items
// cannot hide the ones behind them. A round error (link down, queue
// failure) ends the drain.
func (s *Sender) drain(ctx context.Context, kind string, list func(context.Context, int) ([]string, error), send func(context.Context, string) error) error {
	seen := map[string]bool{} // tried this round
	held := 0
	for {
		ids, err := list(ctx, pendingPage+held)
		if err != nil {
			return err
		}
		progressed := false
		for _, id := range ids {
			if seen[id] {
				continue
			}
			seen[id], progressed = true, true
			key := kind + ":" + id
			if s.waiting(key) {
				held++
				continue
			}
			if err := send(ctx, id); err != nil {
				if isRoundError(err) || ctx.Err() != nil {
					return err
				}
				held++
				s.refused(key)
				s.hold(kind+" held", fmt.Errorf("%s %s: %w", kind, id, err), kind+"_id", id)
				continue
			}
			delete(s.held, key)
		}
		if !progressed {
			return nil
		}
	}
}

// sendRecord uploads a record's images and commits it. A returned
// roundError ends the round; any other error holds just this record.
func (s *Sender) sendRecord(ctx context.Context, id string) error {
	rec, err := s.o.Queue.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("queue get: %w", err)
	}
	for _, img := range rec.GetImages() {
		if err := s.uploadImage(ctx, img); err != nil {
			return fmt.Errorf("image %s: %w", img.GetSha256(), err)
		}
	}
	cctx, cancel := s.callCtx(ctx)
	resp, err := s.o.Client.CommitRecord(cctx, &ifcv1.CommitRecordRequest{Record: rec})
	cancel()
	if err := s.called("commit record", err); err != nil {
		return err
	}
	outcome := resp.GetOutcome()
	if outcome != ifcv1.CommitOutcome_COMMIT_OUTCOME_CREATED && outcome != ifcv1.CommitOutcome_COMMIT_OUTCOME_DUPLICATE {
		return fmt.Errorf("commit record: unexpected outcome %v", outcome)
	}
	if err := s.o.Queue.MarkSynced(ctx, id, s.o.Clock.Now()); err != nil {
		// The cloud has it; the next round commits it again as DUPLICATE.
		return roundError{fmt.Errorf("queue mark %s synced: %w", id, err)}
	}
	for _, img := range rec.GetImages() {
		delete(s.highest, img.GetSha256())
	}
	s.update(func(st *State) { st.SentRecords++ })
	s.log.Debug("record synced", "record_id", id, "outcome", outcome)
	return s.refreshBacklog(ctx)
}

// uploadImage makes sure the cloud holds img, resuming at its offset.
func (s *Sender) uploadImage(ctx context.Context, img *ifcv1.ImageRef) error {
	var data []byte
	for attempt := 0; ; attempt++ {
		cctx, cancel := s.callCtx(ctx)
		off, err := s.o.Client.UploadOffset(cctx, &ifcv1.UploadOffsetRequest{Sha256: img.GetSha256(), Size: img.GetSize()})
		cancel()
		if err := s.called("upload offset", err); err != nil {
			return err
		}
		if off.GetComplete() {
			return nil
		}
		if data == nil {
			if data, err = s.localImage(ctx, img); err != nil {
				return err
			}
		}
		if off.GetOffset() < 0 || off.GetOffset() > int64(len(data)) {
			return fmt.Errorf("cloud reports offset %d of a %d-byte image", off.GetOffset(), len(data))
		}
		err = s.stream(ctx, img, data, off.GetOffset())
		if err == nil {
			return nil
		}
		if status.Code(err) == codes.DataLoss && attempt == 0 {
			s.log.Warn("cloud lost the image; sending it again", "sha256", img.GetSha256(), "err", err)
			continue
		}
		return err
	}
}

// localImage reads an image from the queue and checks it against its ref.
func (s *Sender) localImage(ctx context.Context, img *ifcv1.ImageRef) ([]byte, error) {
	data, err := s.o.Queue.Image(ctx, img.GetSha256())
	if err != nil {
		return nil, fmt.Errorf("queue image: %w", err)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != img.GetSha256() || int64(len(data)) != img.GetSize() {
		return nil, fmt.Errorf("local image corrupt: queue holds %d bytes with sha256 %s, record wants %d bytes with %s; not sent",
			len(data), got, img.GetSize(), img.GetSha256())
	}
	return data, nil
}

// stream sends data[off:] on one UploadImage stream. If no chunk makes
// progress within CallTimeout (4 × CallTimeout for the cloud's final
// verification) the stream is cancelled.
func (s *Sender) stream(ctx context.Context, img *ifcv1.ImageRef, data []byte, off int64) error {
	sctx, cancel := context.WithCancel(withCredential(ctx, s.o.Credentials))
	defer cancel()
	watchdog := time.AfterFunc(s.o.CallTimeout, cancel)
	defer watchdog.Stop()
	st, err := s.o.Client.UploadImage(sctx)
	if err := s.called("upload image", err); err != nil {
		return err
	}
	first := true
	for pos := off; pos < int64(len(data)) || first; {
		end := min(pos+int64(s.o.ChunkBytes), int64(len(data)))
		chunk := data[pos:end]
		if s.limiter != nil {
			if err := s.limiter.WaitN(sctx, len(chunk)); err != nil {
				return s.called("upload image", status.FromContextError(err).Err())
			}
			watchdog.Reset(s.o.CallTimeout) // waiting for the bandwidth limit is not a stall
		}
		sum := sha256.Sum256(chunk)
		req := &ifcv1.UploadImageRequest{Offset: pos, Data: chunk, DataSha256: hex.EncodeToString(sum[:])}
		if first {
			req.Image, first = img, false
		}
		if err := st.Send(req); err != nil {
			if err == io.EOF {
				break // the server ended the stream; CloseAndRecv says why
			}
			return s.called("upload image", err)
		}
		watchdog.Reset(s.o.CallTimeout)
		s.account(img.GetSha256(), pos, end)
		pos = end
	}
	// After the last byte the cloud fsyncs, hashes, decodes and stores the
	// image before it answers: a bigger budget than one chunk's.
	watchdog.Reset(4 * s.o.CallTimeout)
	resp, err := st.CloseAndRecv()
	if err := s.called("upload image", err); err != nil {
		return err
	}
	if !resp.GetComplete() {
		return fmt.Errorf("cloud holds %d of %d bytes after the upload", resp.GetOffset(), len(data))
	}
	return nil
}

// account counts bytes put on the wire for [from,to) of an image and how
// many of them were already sent before (a cut made us send them again).
func (s *Sender) account(sha string, from, to int64) {
	hi := s.highest[sha]
	resent := max(0, min(to, hi)-from)
	if to > hi {
		s.highest[sha] = to
	}
	s.update(func(st *State) {
		st.SentBytes += to - from
		st.ResentBytes += resent
	})
}

// heartbeat reports the backlog and versions.
func (s *Sender) heartbeat(ctx context.Context) error {
	st := s.State()
	req := &ifcv1.HeartbeatRequest{Queued: st.Queued, QueuedBytes: st.QueuedBytes, AgentVersion: s.o.AgentVersion, ModelVersion: st.ModelVersion}
	if !st.Oldest.IsZero() {
		req.OldestQueued = timestamppb.New(st.Oldest)
	}
	cctx, cancel := s.callCtx(ctx)
	_, err := s.o.Client.Heartbeat(cctx, req)
	cancel()
	if err := s.called("heartbeat", err); err != nil {
		if isRoundError(err) {
			return err
		}
		s.hold("heartbeat refused", err)
	}
	return nil
}
