package pipeline

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestStandard(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "examples", "standard.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(doc, standardYAML) {
		t.Fatal("cloud/pipeline/standard.yaml differs from docs/examples/standard.yaml; copy one over the other")
	}
	def := Standard()
	if def.GetName() != "standard" || len(def.GetNodes()) != 3 || len(def.GetEdges()) != 2 {
		t.Fatalf("Standard() = %v", def)
	}
	def.Name = "changed"
	if Standard().GetName() != "standard" {
		t.Fatal("Standard returned a shared definition")
	}
}
