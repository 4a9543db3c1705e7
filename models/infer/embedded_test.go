package infer_test

import (
	"testing"

	"github.com/imageflowcanvas/ifc/models/bundle"
	"github.com/imageflowcanvas/ifc/models/detector"
	"github.com/imageflowcanvas/ifc/models/infer"
	"github.com/imageflowcanvas/ifc/models/prefilter"
)

// TestEmbeddedBundles loads the bundles the binaries carry (the embed.FS of
// models/prefilter and models/detector) and runs the full verification on them, so a file
// missing from an embed list or a stale embed fails here.
func TestEmbeddedBundles(t *testing.T) {
	pb, err := bundle.LoadFS(prefilter.FS)
	if err != nil {
		t.Fatal(err)
	}
	c, err := infer.NewClassifier(pb, infer.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	db, err := bundle.LoadFS(detector.FS)
	if err != nil {
		t.Fatal(err)
	}
	d, err := infer.NewDetector(db, infer.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
}
