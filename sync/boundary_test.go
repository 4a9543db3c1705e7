// Package sync_test holds linters-as-tests for the sync tier: each end of
// the protocol depends only on its own side, so the edge never reaches the
// cloud tier through sync/ and the cloud never reaches the edge.
package sync_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/imageflowcanvas/ifc/"

func TestSyncImportBoundaries(t *testing.T) {
	for _, tc := range []struct {
		pkgs      string
		forbidden []string
	}{
		{"./sender/...", []string{"cloud", "edge"}},
		{"./device/...", []string{"cloud", "edge"}},
		{"./receiver/...", []string{"edge"}},
	} {
		t.Run(tc.pkgs, func(t *testing.T) {
			deps := goListDeps(t, tc.pkgs)
			if len(deps) == 0 {
				t.Fatalf("go list %s returned no packages", tc.pkgs)
			}
			for _, d := range deps {
				for _, tier := range tc.forbidden {
					if d == module+tier || strings.HasPrefix(d, module+tier+"/") {
						t.Errorf("%s depends on %s: this end of sync must not import %s/", tc.pkgs, d, tier)
					}
				}
			}
		})
	}
}

// goListDeps returns the import paths in the dependency graph of pattern,
// tests included.
func goListDeps(t *testing.T, pattern string) []string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go command not found: %v", err)
	}
	cmd := exec.Command(goCmd, "list", "-e", "-deps", "-test", "-json=ImportPath", pattern)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var paths []string
	dec := json.NewDecoder(out)
	for {
		var p struct{ ImportPath string }
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p.ImportPath)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list %s: %v\n%s", pattern, err, stderr.String())
	}
	return paths
}
