// Package queue is the edge agent's durable store: inspection records and
// their images, the outbox the sync loop drains, the offline cache of
// inspection masters and the sync downlink cursors, all in one bbolt file.
//
// # Durability
//
// Save commits a record, all of its image bytes, its outbox entry, its
// history entry and the budget counters in ONE bbolt read-write
// transaction. bbolt writes the dirty pages, fsyncs, then writes and fsyncs
// the meta page (NoSync is never set in production), so when Save returns
// nil the record survives a power cut or a SIGKILL, and when it has not
// returned nothing half-written can be observed after a restart: either the
// whole record with its images is there, or none of it. The inspector app
// says "saved" only after Save returns. The crash test in this package
// SIGKILLs a writer at random points and checks exactly this, plus bbolt's
// own consistency check (Queue.Check).
//
// Validation (UUIDv7 record_id, required fields, verdict enum, sha256 and
// size of every image) happens before the transaction, so an invalid input
// gets an error wrapping ErrInvalid and changes nothing.
//
// # Idempotency
//
// record_id is the idempotency key end to end. Saving a record_id that is
// already stored with the same content is a no-op success (a retried UI
// submit after an unknown outcome); with different content it fails with
// ErrConflict and the stored record is left as it was. A record is
// append-only: verdict changes are separate VerdictOverride events.
// MarkSynced is idempotent too, so the sync loop may repeat it after a crash.
//
// # Verdict overrides
//
// An inspector's correction of a saved verdict is a VerdictOverride event
// (origin EDGE), never a rewrite of the record. SaveOverride stores it with
// its per-record index (record id + at + override id) and its override
// outbox entry (at + override id, so PendingOverrides yields oldest first)
// in one fsynced transaction, after checking the record exists.
// override_id is its idempotency key exactly like record_id: the same
// override again is a no-op, different content is ErrConflict.
// MarkOverrideSynced moves it from the outbox to the synced set and is
// idempotent. Overrides are a few hundred bytes each, are not counted in
// the disk budget and are never evicted.
//
// # Keys
//
// Records and their state are keyed by the 16 raw bytes of the UUIDv7.
// The outbox key is priority byte (0 = NG, 1 = OK) + captured_at (8 bytes,
// big-endian, sign bit flipped so that byte order equals time order) +
// record id, so a forward cursor yields sync order: NG before OK, then
// oldest first. History is keyed by captured_at + id and read backwards.
// Images are keyed by sha256 + record id: each record owns its image copies,
// so evicting one record's images never affects another record that happens
// to hold the same bytes, and no reference counts are needed.
//
// # Disk budget and eviction
//
// The budget (Options.SoftLimitBytes, Options.HardLimitBytes) counts the
// stored image bytes plus a fixed RecordOverheadBytes (2 KiB) per record.
// The overhead estimate covers the encoded record (typically 300–600
// bytes), its state, outbox, history and eviction index entries, and B+tree
// page slack; it is not the file size, which bbolt never shrinks (freed
// pages are reused by later writes).
//
// When a Save would take the budget above the soft limit, the images of
// synced OK records are evicted, oldest captured_at first, in the same
// transaction, until the new record fits under the soft limit. The record
// itself stays (history keeps working, Status reports Evicted). Images of
// unsynced records and all NG images are never evicted. If even evicting
// every candidate would leave the budget above the hard limit, Save refuses
// with a *DiskFullError (errors.Is ErrDiskFull) that tells the inspector
// what is happening, and the transaction is rolled back: nothing is evicted
// and nothing is lost silently. CanCapture answers the same question without
// writing, so the capture step can refuse before the inspector works on a
// part. Records themselves are never deleted by this package.
package queue
