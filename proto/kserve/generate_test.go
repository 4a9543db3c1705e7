package kserve_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedCodeIsCurrent regenerates the Go code from the .proto files
// with the pinned toolchain (deploy/dev/setup installs it) and fails when
// the committed files differ: run `make proto` and commit.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	buf, err := exec.LookPath("buf")
	if err != nil {
		t.Fatalf("buf not on PATH (run deploy/dev/setup and eval its --env): %v", err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmd := exec.Command(buf, "generate", "-o", out)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("buf generate: %v\n%s", err, b)
	}
	generated, err := filepath.Glob(filepath.Join(out, "proto/kserve/*.go"))
	if err != nil || len(generated) == 0 {
		t.Fatalf("buf generated nothing (%v)", err)
	}
	for _, g := range generated {
		want, _ := os.ReadFile(g)
		have, err := os.ReadFile(filepath.Base(g))
		if err != nil {
			t.Errorf("%s is generated but not committed: run make proto", filepath.Base(g))
			continue
		}
		if !bytes.Equal(want, have) {
			t.Errorf("%s is stale: run make proto and commit", filepath.Base(g))
		}
	}
}
