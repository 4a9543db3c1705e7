package ifcv1_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedCodeIsCurrent regenerates the Go code of every .proto file
// under proto/ (ifc/v1 and kserve) with the pinned toolchain
// (deploy/dev/setup installs it) and fails when the committed files
// differ: run `make proto` and commit.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	buf, err := exec.LookPath("buf")
	if err != nil {
		t.Fatalf("buf not on PATH (run deploy/dev/setup and eval its --env): %v", err)
	}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmd := exec.Command(buf, "generate", "-o", out)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("buf generate: %v\n%s", err, b)
	}
	// One generation checks every package under proto/ (ifc/v1, kserve).
	n := 0
	err = filepath.WalkDir(filepath.Join(out, "proto"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".go" {
			return err
		}
		n++
		rel, _ := filepath.Rel(out, path)
		want, _ := os.ReadFile(path)
		have, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Errorf("%s is generated but not committed: run make proto", rel)
			return nil
		}
		if !bytes.Equal(want, have) {
			t.Errorf("%s is stale: run make proto and commit", rel)
		}
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("buf generated nothing (%v)", err)
	}
}
