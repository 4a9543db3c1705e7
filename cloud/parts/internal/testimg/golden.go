package testimg

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"
)

// update rewrites golden files instead of comparing: go test ./cloud/parts/... -update
var update = flag.Bool("update", false, "rewrite golden PNGs under testdata/golden")

// Golden compares got with testdata/golden/<name>.png, allowing each 8-bit sample to differ
// by at most 2 (OpenCV's SIMD paths differ slightly across CPUs). With -update it writes
// the file instead.
func Golden(t *testing.T, name string, got gocv.Mat) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".png")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, PNG(got), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create it): %v", err)
	}
	want, err := gocv.IMDecode(data, gocv.IMReadUnchanged)
	if err != nil || want.Empty() {
		t.Fatalf("decode golden %s: %v", path, err)
	}
	defer want.Close()
	if got.Cols() != want.Cols() || got.Rows() != want.Rows() || got.Channels() != want.Channels() {
		t.Fatalf("%s: got %dx%dx%d, golden %dx%dx%d", name, got.Cols(), got.Rows(), got.Channels(),
			want.Cols(), want.Rows(), want.Channels())
	}
	diff := gocv.NewMat()
	defer diff.Close()
	gocv.AbsDiff(got, want, &diff)
	flat := diff.Reshape(1, 0)
	defer flat.Close()
	_, maxVal, _, at := gocv.MinMaxLoc(flat)
	if maxVal > 2 {
		t.Errorf("%s: differs from golden by %v at %v (run with -update if the change is intended)", name, maxVal, at)
	}
}
