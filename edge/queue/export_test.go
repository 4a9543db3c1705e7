package queue

import (
	"crypto/sha256"
	"encoding/hex"

	bolt "go.etcd.io/bbolt"
)

// NoSync returns o with fsync disabled; only for filling benchmark fixtures.
func NoSync(o Options) Options {
	o.noSync = true
	return o
}

// Digest hashes every bucket, key and value, so tests can assert that a
// failed call changed nothing.
func Digest(q *Queue) (string, error) {
	h := sha256.New()
	err := q.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			h.Write([]byte{0})
			h.Write(name)
			return b.ForEach(func(k, v []byte) error {
				h.Write([]byte{1})
				h.Write(k)
				h.Write([]byte{2})
				h.Write(v)
				return nil
			})
		})
	})
	return hex.EncodeToString(h.Sum(nil)), err
}
