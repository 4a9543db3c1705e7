package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/imageflowcanvas/ifc/models/bundle"
	"github.com/imageflowcanvas/ifc/models/eval"
	"github.com/imageflowcanvas/ifc/models/infer"
)

// runModelEval implements `ifc model eval <bundle-dir> [--seed N] [--n N] [--jpeg Q] [--threads T]`:
// load and verify the bundle (sha256 + golden check), generate a fresh synthetic test set
// with the generator options the training used, run it through the Go/ONNX Runtime path and
// print the metrics as JSON on stdout.
func runModelEval(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("model eval", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	seed := fs.Int64("seed", -1, "synth stream seed of the test set (default: the manifest's test_seed, else 99)")
	n := fs.Int("n", 0, "number of test images (default: the manifest's test_images, else 1000)")
	jpegQ := fs.Int("jpeg", -1, "JPEG round-trip quality 1..100, 0 for raw pixels (default: as the training data)")
	threads := fs.Int("threads", 1, "ONNX Runtime intra-op threads")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: ifc model eval <bundle-dir> [--seed N] [--n N] [--jpeg Q] [--threads T]")
		fs.PrintDefaults()
	}
	// Accept the directory before or after the flags.
	var dir string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		dir, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if dir == "" && fs.NArg() > 0 {
		dir = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return err
		}
	}
	if dir == "" || fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("model eval: want exactly one bundle directory")
	}

	b, err := bundle.LoadDir(dir)
	if err != nil {
		return err
	}
	cfg, err := eval.ConfigFromManifest(b.Manifest)
	if err != nil {
		return err
	}
	if *seed >= 0 {
		cfg.Seed = uint64(*seed)
	}
	if *n > 0 {
		cfg.N = *n
	}
	if *jpegQ >= 0 {
		cfg.JPEGQuality = *jpegQ
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg.Logger = logger
	rep, err := eval.Bundle(ctx, b, cfg, infer.Options{IntraOpThreads: *threads, Logger: logger})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
