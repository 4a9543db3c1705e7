// Command synthgen writes a split of synthetic part images and their labels.
//
//	synthgen --out DIR --split train --n 8000 --size 320 --defect-rate 0.5
//
// It writes DIR/000000.jpg ... and DIR/labels.jsonl, one JSON object per
// image in index order. labels.jsonl is written last (via a rename), so its
// presence means the split is complete.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/imageflowcanvas/ifc/models/synth"
)

// label is one line of labels.jsonl.
type label struct {
	File      string     `json:"file"`
	Split     string     `json:"split"`
	Seed      uint64     `json:"seed"`
	Index     int        `json:"index"`
	Width     int        `json:"width"`
	Height    int        `json:"height"`
	Surface   string     `json:"surface"`
	Generator string     `json:"generator"`
	Defects   []labelBox `json:"defects"`
}

// labelBox is a defect box in pixels, [x0, y0, x1, y1) with x1, y1 exclusive.
type labelBox struct {
	Class string `json:"class"`
	Box   [4]int `json:"box"`
}

type config struct {
	out, split, format string
	seed               int64
	n, size, workers   int
	width, height      int
	start              int
	defectRate         float64
}

func main() {
	var c config
	flag.StringVar(&c.out, "out", "", "output directory (created)")
	flag.StringVar(&c.split, "split", "train", "split name: train, val or test (any name with --seed)")
	flag.Int64Var(&c.seed, "seed", -1, "stream seed; -1 uses the split's seed (train 1, val 2, test 99)")
	flag.IntVar(&c.n, "n", 1000, "number of images")
	flag.IntVar(&c.size, "size", 320, "image width and height in pixels")
	flag.IntVar(&c.width, "width", 0, "image width, overriding --size")
	flag.IntVar(&c.height, "height", 0, "image height, overriding --size")
	flag.IntVar(&c.start, "start", 0, "first image index")
	flag.Float64Var(&c.defectRate, "defect-rate", 0.5, "probability that a part has defects")
	flag.IntVar(&c.workers, "workers", runtime.NumCPU(), "parallel workers")
	flag.StringVar(&c.format, "format", "jpg", "image format: jpg (quality 95) or png")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "synthgen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) error {
	if c.out == "" {
		return fmt.Errorf("--out is required")
	}
	var seed uint64
	if c.seed >= 0 {
		seed = uint64(c.seed) // any split name goes with an explicit seed
	} else {
		s, err := synth.SplitSeed(c.split)
		if err != nil {
			return err
		}
		seed = s
	}
	if c.n < 1 || c.workers < 1 || c.start < 0 {
		return fmt.Errorf("--n and --workers must be positive, --start not negative")
	}
	if c.format != "jpg" && c.format != "png" {
		return fmt.Errorf("--format %q: want jpg or png", c.format)
	}
	opt := synth.DefaultOptions()
	opt.Width, opt.Height, opt.DefectRate = c.size, c.size, c.defectRate
	if c.width > 0 {
		opt.Width = c.width
	}
	if c.height > 0 {
		opt.Height = c.height
	}
	if err := opt.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return err
	}

	labels := make([]label, c.n)
	jobs := make(chan int)
	errs := make(chan error, c.workers)
	var wg sync.WaitGroup
	for range c.workers {
		wg.Go(func() {
			for i := range jobs {
				l, err := write(c, seed, c.start+i, opt)
				if err != nil {
					errs <- err
					return
				}
				labels[i] = l
			}
		})
	}
	var loopErr error
feed:
	for i := range c.n {
		select {
		case jobs <- i:
		case loopErr = <-errs:
			break feed
		case <-ctx.Done():
			loopErr = ctx.Err()
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	close(errs)
	if loopErr == nil {
		loopErr = <-errs
	}
	if loopErr != nil {
		return loopErr
	}
	return writeLabels(filepath.Join(c.out, "labels.jsonl"), labels)
}

func write(c config, seed uint64, i int, opt synth.Options) (label, error) {
	s, err := synth.Generate(seed, i, opt)
	if err != nil {
		return label{}, err
	}
	name := fmt.Sprintf("%06d.%s", i, c.format)
	f, err := os.Create(filepath.Join(c.out, name))
	if err != nil {
		return label{}, err
	}
	w := bufio.NewWriter(f)
	if c.format == "png" {
		err = png.Encode(w, s.Image)
	} else {
		err = jpeg.Encode(w, s.Image, &jpeg.Options{Quality: 95})
	}
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return label{}, fmt.Errorf("write %s: %w", name, err)
	}
	l := label{File: name, Split: c.split, Seed: seed, Index: i, Width: opt.Width, Height: opt.Height,
		Surface: s.Surface, Generator: synth.Version, Defects: []labelBox{}}
	for _, d := range s.Defects {
		l.Defects = append(l.Defects, labelBox{Class: d.Class, Box: boxOf(d.Box)})
	}
	return l, nil
}

func boxOf(r image.Rectangle) [4]int { return [4]int{r.Min.X, r.Min.Y, r.Max.X, r.Max.Y} }

func writeLabels(path string, labels []label) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, l := range labels {
		if err := enc.Encode(l); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
