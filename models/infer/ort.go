package infer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// LibraryEnv names the environment variable that points at libonnxruntime.so.
const LibraryEnv = "IFC_ORT_LIB"

// ortVersion is the ONNX Runtime release deploy/dev/setup installs
// (ORT_VERSION there; onnxruntime_go v1.27 needs the 1.2x/1.3x C API).
const ortVersion = "1.30.0"

// ErrNoRuntime means the ONNX Runtime shared library was not found.
var ErrNoRuntime = errors.New("onnxruntime shared library not found")

// LibraryPath finds libonnxruntime: $IFC_ORT_LIB if set (it must exist), else the copy
// deploy/ extracts under $HOME/.cache/ifc/ort, else a few standard system locations.
func LibraryPath() (string, error) {
	if p := os.Getenv(LibraryEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%w: %s=%s: %v", ErrNoRuntime, LibraryEnv, p, err)
		}
		return p, nil
	}
	var candidates []string
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates,
			filepath.Join(home, ".cache/ifc/ort", ortVersion, "package/bin/napi-v6/linux/x64/libonnxruntime.so.1"))
	}
	candidates = append(candidates,
		"/usr/local/lib/libonnxruntime.so",
		"/usr/local/lib/libonnxruntime.so.1",
		"/usr/lib/libonnxruntime.so",
		"/usr/lib/x86_64-linux-gnu/libonnxruntime.so",
		"/usr/lib/x86_64-linux-gnu/libonnxruntime.so.1",
		"/opt/onnxruntime/lib/libonnxruntime.so",
	)
	for _, p := range candidates {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: set %s or install it (deploy/ fetches it from the onnxruntime-node package); looked in %v",
		ErrNoRuntime, LibraryEnv, candidates)
}

var (
	initOnce sync.Once
	errInit  error
)

// Init initialises the process-wide ONNX Runtime environment once; later calls return the
// first result. The environment lives until the process exits: sessions come and go
// (model swaps), the environment does not. If another package already initialised the
// environment, Init uses it.
func Init() error {
	initOnce.Do(func() {
		if ort.IsInitialized() {
			return
		}
		path, err := LibraryPath()
		if err != nil {
			errInit = err
			return
		}
		ort.SetSharedLibraryPath(path)
		if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
			errInit = fmt.Errorf("initialise onnxruntime from %s: %w", path, err)
		}
	})
	return errInit
}
