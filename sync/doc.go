// Package sync is the store-and-forward protocol between edge agents and
// the cloud; see docs/sync.md. Its subpackages are the two ends and what
// they share: device (identity and credentials), sender (edge end),
// receiver (cloud end), faultproxy and faulttest (the link-fault harness).
package sync
