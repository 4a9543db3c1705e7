package main

import (
	"bufio"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestRunWritesImagesAndLabels(t *testing.T) {
	dir := t.TempDir()
	c := config{out: dir, split: "val", format: "png", seed: -1, n: 6, size: 96, workers: 3, defectRate: 1, start: 10}
	if err := run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "labels.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	i := 0
	for sc.Scan() {
		var l label
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		if l.Index != 10+i || l.Seed != 2 || l.Split != "val" || len(l.Defects) == 0 {
			t.Fatalf("line %d: %+v", i, l)
		}
		img, err := os.Open(filepath.Join(dir, l.File))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(img)
		img.Close()
		if err != nil || cfg.Width != 96 || cfg.Height != 96 {
			t.Fatalf("%s: %v %+v", l.File, err, cfg)
		}
		i++
	}
	if i != 6 {
		t.Fatalf("%d labels, want 6", i)
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for name, c := range map[string]config{
		"no out":        {split: "train", format: "jpg", seed: -1, n: 1, size: 96, workers: 1},
		"unknown split": {out: t.TempDir(), split: "holdout", format: "jpg", seed: -1, n: 1, size: 96, workers: 1},
		"bad format":    {out: t.TempDir(), split: "train", format: "gif", seed: -1, n: 1, size: 96, workers: 1},
		"tiny image":    {out: t.TempDir(), split: "train", format: "jpg", seed: -1, n: 1, size: 8, workers: 1},
		"no images":     {out: t.TempDir(), split: "train", format: "jpg", seed: -1, n: 0, size: 96, workers: 1},
	} {
		if err := run(context.Background(), c); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
