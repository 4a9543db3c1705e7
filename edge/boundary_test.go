// Package edge_test holds linters-as-tests for the edge tier as a whole.
package edge_test

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const cloudPrefix = "github.com/imageflowcanvas/ifc/cloud"

func isCloud(path string) bool {
	return path == cloudPrefix || strings.HasPrefix(path, cloudPrefix+"/")
}

// TestEdgeNeverImportsCloud: the edge must keep working with no network and
// ship without the cloud tier, so no edge package may import cloud/ —
// neither directly (checked on the source, tests included) nor through
// another package (checked on the dependency graph from `go list`).
func TestEdgeNeverImportsCloud(t *testing.T) {
	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		files++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if isCloud(p) {
				t.Errorf("%s imports %s: the edge must never import cloud/ (share code through sync/ or proto/)", fset.Position(imp.Pos()), p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 10 {
		t.Fatalf("only %d Go files found under edge/; is the test running in the right directory?", files)
	}

	go_, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found; the source check above still ran")
	}
	cmd := exec.Command(go_, "list", "-e", "-deps", "-test", "-json=ImportPath,Imports,DepsErrors", "./...")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(out)
	seen := 0
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		seen++
		if isCloud(p.ImportPath) {
			t.Errorf("%s is in the dependency graph of edge/...", p.ImportPath)
		}
		for _, imp := range p.Imports {
			if isCloud(imp) {
				t.Errorf("%s imports %s (reached from edge/...)", p.ImportPath, imp)
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	if seen == 0 {
		t.Fatal("go list returned no packages")
	}
}
