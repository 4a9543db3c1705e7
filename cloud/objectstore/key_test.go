package objectstore_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/imageflowcanvas/ifc/cloud/objectstore"
	"github.com/imageflowcanvas/ifc/cloud/objectstore/storetest"
)

func TestValidateKey(t *testing.T) {
	for _, k := range []string{"a", "files/ab/abcdef0123", "x.jpg", "a_b-c=d", "A/B/C", strings.Repeat("z", objectstore.MaxKeyLen)} {
		if err := objectstore.ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%q) = %v, want nil", k, err)
		}
	}
	for _, k := range storetest.InvalidKeys {
		if err := objectstore.ValidateKey(k); !errors.Is(err, objectstore.ErrInvalidKey) {
			t.Errorf("ValidateKey(%.40q) = %v, want ErrInvalidKey", k, err)
		}
	}
}

func FuzzValidateKey(f *testing.F) {
	for _, k := range storetest.InvalidKeys {
		f.Add(k)
	}
	f.Add("files/ab/abcdef")
	f.Fuzz(func(t *testing.T, key string) {
		if objectstore.ValidateKey(key) != nil {
			return
		}
		if strings.HasPrefix(key, "/") || containsDotSegment(key) || strings.ContainsAny(key, "\\\x00\n") {
			t.Fatalf("accepted dangerous key %q", key)
		}
	})
}

func containsDotSegment(key string) bool {
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "." || seg == ".." || strings.HasPrefix(seg, ".") {
			return true
		}
	}
	return false
}
