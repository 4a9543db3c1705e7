// Package bundle loads and verifies model bundles: manifest.json, the ONNX file and its
// golden images, as specified in docs/model-bundle.md.
//
// Loading (LoadDir, LoadFS) parses and validates the manifest and checks the sha256 of the
// model. The golden check (CheckGolden) needs an inference engine; it is given one through
// the small Runner interface so this package stays free of cgo (models/infer implements it).
// A model must pass both before it is used or swapped in.
package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"io/fs"
	"math"
	"os"
)

// Sentinel errors callers branch on; returned errors wrap them.
var (
	// ErrChecksum means model.onnx does not match the manifest's sha256.
	ErrChecksum = errors.New("model checksum mismatch")
	// ErrGolden means the model, run through the Go path, does not reproduce a golden result.
	ErrGolden = errors.New("golden check failed")
)

// ManifestFile is the name of the manifest inside a bundle.
const ManifestFile = "manifest.json"

// Bundle is a loaded model bundle whose manifest is valid and whose model matches its sha256.
type Bundle struct {
	// Manifest is the validated manifest.
	Manifest *Manifest
	// Model holds the bytes of the ONNX file.
	Model []byte
	// Source describes where the bundle came from (a directory, or "fs").
	Source string

	fsys fs.FS
}

// LoadDir loads and verifies the bundle in directory dir.
func LoadDir(dir string) (*Bundle, error) {
	b, err := LoadFS(os.DirFS(dir))
	if err != nil {
		return nil, fmt.Errorf("load bundle %s: %w", dir, err)
	}
	b.Source = dir
	return b, nil
}

// LoadFS loads and verifies the bundle at the root of fsys (for example the embed.FS of
// models/prefilter). It checks the manifest and the model's sha256, not the golden images.
func LoadFS(fsys fs.FS) (*Bundle, error) {
	raw, err := readLimited(fsys, ManifestFile, MaxManifestBytes)
	if err != nil {
		return nil, err
	}
	m, err := ParseManifest(raw)
	if err != nil {
		return nil, err
	}
	model, err := readLimited(fsys, m.File, MaxModelBytes)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(model)
	if got := hex.EncodeToString(sum[:]); got != m.SHA256 {
		return nil, fmt.Errorf("%w: %s has sha256 %s, manifest says %s", ErrChecksum, m.File, got, m.SHA256)
	}
	return &Bundle{Manifest: m, Model: model, Source: "fs", fsys: fsys}, nil
}

// readLimited reads a whole file of at most limit bytes from fsys.
func readLimited(fsys fs.FS, name string, limit int64) ([]byte, error) {
	if !ValidFileName(name) {
		return nil, fmt.Errorf("read %q: not a plain file name inside the bundle", name)
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s: not a regular file", name)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("read %s: %d bytes exceeds the %d byte limit", name, st.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("read %s: exceeds the %d byte limit", name, limit)
	}
	return data, nil
}

// ReadFile reads a file of the bundle by its plain name (bounded by the model size limit).
func (b *Bundle) ReadFile(name string) ([]byte, error) {
	return readLimited(b.fsys, name, MaxModelBytes)
}

// GoldenImage decodes the PNG of golden entry i.
func (b *Bundle) GoldenImage(i int) (image.Image, error) {
	g, err := b.golden(i)
	if err != nil {
		return nil, err
	}
	data, err := readLimited(b.fsys, g.Image, MaxImageBytes)
	if err != nil {
		return nil, err
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", g.Image, err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > 16384 || cfg.Height > 16384 {
		return nil, fmt.Errorf("decode %s: size %dx%d outside [1, 16384]", g.Image, cfg.Width, cfg.Height)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", g.Image, err)
	}
	return img, nil
}

// GoldenInput reads the preprocessed input tensor PyTorch saw for golden entry i.
func (b *Bundle) GoldenInput(i int) ([]float32, error) {
	g, err := b.golden(i)
	if err != nil {
		return nil, err
	}
	return b.readTensor(g.Input, b.Manifest.Input.Elements())
}

// GoldenOutput reads the raw output tensor name PyTorch produced for golden entry i.
// ok is false when the manifest has no file for that output.
func (b *Bundle) GoldenOutput(i int, name string) (data []float32, ok bool, err error) {
	g, err := b.golden(i)
	if err != nil {
		return nil, false, err
	}
	file, ok := g.Outputs[name]
	if !ok {
		return nil, false, nil
	}
	spec, _ := b.Manifest.Output(name)
	data, err = b.readTensor(file, spec.Elements())
	return data, true, err
}

func (b *Bundle) golden(i int) (Golden, error) {
	if i < 0 || i >= len(b.Manifest.Golden) {
		return Golden{}, fmt.Errorf("golden index %d out of range [0, %d)", i, len(b.Manifest.Golden))
	}
	return b.Manifest.Golden[i], nil
}

func (b *Bundle) readTensor(name string, elements int) ([]float32, error) {
	data, err := readLimited(b.fsys, name, int64(elements)*4)
	if err != nil {
		return nil, err
	}
	out, err := DecodeFloat32s(data, elements)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// DecodeFloat32s decodes raw little-endian float32 data holding exactly want elements.
func DecodeFloat32s(data []byte, want int) ([]float32, error) {
	if len(data) != want*4 {
		return nil, fmt.Errorf("has %d bytes, want %d (%d float32)", len(data), want*4, want)
	}
	out := make([]float32, want)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[i*4:]))
	}
	return out, nil
}

// EncodeFloat32s encodes values as raw little-endian float32 (the golden .bin format).
func EncodeFloat32s(values []float32) []byte {
	out := make([]byte, len(values)*4)
	for i, v := range values {
		binary.LittleEndian.PutUint32(out[i*4:], math.Float32bits(v))
	}
	return out
}
