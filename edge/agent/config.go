package agent

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/imageflowcanvas/ifc/edge/queue"
	"github.com/imageflowcanvas/ifc/internal/confload"
	"github.com/imageflowcanvas/ifc/sync/device"
	"github.com/imageflowcanvas/ifc/sync/sender"
)

// EnvPrefix prefixes the environment variables that overlay the YAML file
// (IFC_EDGE_HTTP_ADDR for http_addr).
const EnvPrefix = "IFC_EDGE_"

// Config configures an edge agent. Defaults come from DefaultConfig; a YAML
// file and IFC_EDGE_* environment variables overlay them (Load); the
// command's flags overlay those.
type Config struct {
	DeviceID    string `yaml:"device_id"`    // this edge's id (default: the host name)
	Line        string `yaml:"line"`         // production line the box stands on
	HTTPAddr    string `yaml:"http_addr"`    // local API, metrics and WHEP (default 127.0.0.1:8081)
	AllowRemote bool   `yaml:"allow_remote"` // permit a non-loopback http_addr (the local API has no authentication)
	// AllowedOrigins are the web origins (CORS and WebSocket) allowed to call
	// the local API from a browser or webview, e.g. "tauri://localhost".
	AllowedOrigins []string `yaml:"allowed_origins"`
	// CORSOrigins are the web origins the local API (/api/v1/*) and WHEP
	// (/whep, /whep/*) answer CORS for, preflight included, beside
	// AllowedOrigins; default the Tauri desktop webview's
	// (tauri://localhost, http://tauri.localhost). Empty list: none.
	CORSOrigins []string `yaml:"cors_origins"`
	DataDir     string   `yaml:"data_dir"` // queue file and masters.yaml
	Camera      string   `yaml:"camera"`   // capture spec: synthetic:, v4l2:/dev/video0, folder:/path
	// PrefilterDir is a pre-filter bundle directory; empty means the bundle embedded in the binary.
	PrefilterDir string `yaml:"prefilter_dir"`
	// LivePrefilterFPS runs the pre-filter on live frames at this rate and
	// publishes overlays to WHEP viewers (0 = only on captured stills).
	LivePrefilterFPS float64 `yaml:"live_prefilter_fps"`
	// DiskSoftLimitBytes: above it synced OK images are evicted (0 = the hard limit).
	DiskSoftLimitBytes int64 `yaml:"disk_soft_limit_bytes"`
	// DiskHardLimitBytes: above it new captures are refused (0 = no budget).
	DiskHardLimitBytes int64 `yaml:"disk_hard_limit_bytes"`
	// MaxImageBytes bounds one captured or uploaded image.
	MaxImageBytes int64 `yaml:"max_image_bytes"`
	// MastersFile seeds the master cache at start (default <data_dir>/masters.yaml when present).
	MastersFile string `yaml:"masters_file"`
	// StillTimeout bounds the wait for a still from the camera.
	StillTimeout time.Duration `yaml:"still_timeout"`
	// ShutdownTimeout bounds the graceful shutdown of the HTTP server.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	LogLevel        string        `yaml:"log_level"` // debug|info|warn|error

	// CloudAddr is host:port of the cloud API's gRPC sync endpoint; empty
	// disables sync (the agent works offline only).
	CloudAddr string `yaml:"cloud_addr"`
	// CredentialsFile holds the device credentials, mode 0600 (default <data_dir>/device.json).
	CredentialsFile string `yaml:"credentials_file"`
	// EnrollmentToken is exchanged once for credentials at start when none
	// exist (env IFC_EDGE_ENROLLMENT_TOKEN); ignored once enrolled.
	EnrollmentToken string `yaml:"enrollment_token"`
	// SyncChunkBytes is the image upload chunk size.
	SyncChunkBytes int `yaml:"sync_chunk_bytes"`
	// SyncBandwidthBytesPerSec limits image upload bandwidth (0 = unlimited).
	SyncBandwidthBytesPerSec int64 `yaml:"sync_bandwidth_bytes_per_sec"`
	// SyncBackoffMin and SyncBackoffMax bound the retry backoff after a failed sync round.
	SyncBackoffMin time.Duration `yaml:"sync_backoff_min"`
	SyncBackoffMax time.Duration `yaml:"sync_backoff_max"`
	// SyncPullInterval is how often masters, pipelines and models are pulled.
	SyncPullInterval time.Duration `yaml:"sync_pull_interval"`
	// SyncIdleInterval is how often an idle sender looks for new records.
	SyncIdleInterval time.Duration `yaml:"sync_idle_interval"`
	// ModelDir keeps pre-filter bundles pulled from the cloud (default <data_dir>/models).
	ModelDir string `yaml:"model_dir"`
}

// DefaultConfig returns the defaults in code.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		DeviceID:           host,
		HTTPAddr:           "127.0.0.1:8081",
		CORSOrigins:        []string{"tauri://localhost", "http://tauri.localhost"},
		DataDir:            defaultDataDir(),
		Camera:             "synthetic:",
		DiskHardLimitBytes: 8 << 30,
		DiskSoftLimitBytes: 6 << 30,
		MaxImageBytes:      queue.DefaultMaxImageBytes,
		StillTimeout:       3 * time.Second,
		ShutdownTimeout:    10 * time.Second,
		LogLevel:           "info",
		SyncChunkBytes:     sender.DefaultChunkBytes,
		SyncBackoffMin:     500 * time.Millisecond,
		SyncBackoffMax:     time.Minute,
		SyncPullInterval:   30 * time.Second,
		SyncIdleInterval:   2 * time.Second,
	}
}

func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "ifc", "edge")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "ifc", "edge")
	}
	return "ifc-edge-data"
}

// Load overlays the YAML file at path (none when empty) and then the
// IFC_EDGE_* environment onto the defaults.
func Load(path string) (Config, error) {
	cfg := DefaultConfig()
	if err := confload.Load(path, EnvPrefix, &cfg); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// QueuePath is the bbolt file inside the data directory.
func (c *Config) QueuePath() string { return filepath.Join(c.DataDir, "queue.db") }

// CredentialsPath is credentials_file, or device.json in the data directory.
func (c *Config) CredentialsPath() string {
	if c.CredentialsFile != "" {
		return c.CredentialsFile
	}
	return filepath.Join(c.DataDir, "device.json")
}

// ModelsPath is model_dir, or models/ in the data directory.
func (c *Config) ModelsPath() string {
	if c.ModelDir != "" {
		return c.ModelDir
	}
	return filepath.Join(c.DataDir, "models")
}

// Validate checks the configuration, naming every bad field.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	switch {
	case c.DeviceID == "":
		bad("device_id", "must be set")
	case len(c.DeviceID) > queue.MaxFieldLen || !utf8.ValidString(c.DeviceID) || strings.ContainsAny(c.DeviceID, " \t\r\n/"):
		bad("device_id", "%q: want at most %d bytes of UTF-8 without spaces or slashes", c.DeviceID, queue.MaxFieldLen)
	}
	if len(c.Line) > queue.MaxFieldLen || !utf8.ValidString(c.Line) {
		bad("line", "want at most %d bytes of UTF-8", queue.MaxFieldLen)
	}
	if host, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		bad("http_addr", "%v", err)
	} else if !isLoopback(host) && !c.AllowRemote {
		bad("http_addr", "%q is not a loopback address; the local API has no authentication, so binding it to the network needs allow_remote: true (see docs/edge.md)", c.HTTPAddr)
	}
	for _, o := range c.AllowedOrigins {
		if u, err := url.Parse(o); o != "*" && (err != nil || u.Scheme == "" || u.Host == "" || u.Path != "") {
			bad("allowed_origins", "%q: want scheme://host[:port] such as tauri://localhost", o)
		}
	}
	for _, o := range c.CORSOrigins {
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
			bad("cors_origins", "%q: want scheme://host[:port] such as tauri://localhost (no \"*\": the API has no authentication)", o)
		}
	}
	if c.DataDir == "" {
		bad("data_dir", "must be set")
	}
	if c.Camera == "" {
		bad("camera", "must be set (synthetic:, v4l2:/dev/videoN or folder:/path)")
	} else if u, err := url.Parse(c.Camera); err != nil || u.Scheme == "" {
		bad("camera", "%q: want scheme:spec such as synthetic:, v4l2:/dev/video0 or folder:/path", c.Camera)
	}
	if c.PrefilterDir != "" {
		if st, err := os.Stat(c.PrefilterDir); err != nil || !st.IsDir() {
			bad("prefilter_dir", "%q is not a directory (leave empty for the embedded bundle)", c.PrefilterDir)
		}
	}
	if c.LivePrefilterFPS < 0 || c.LivePrefilterFPS > 30 {
		bad("live_prefilter_fps", "%v is outside 0..30", c.LivePrefilterFPS)
	}
	if c.DiskHardLimitBytes < 0 {
		bad("disk_hard_limit_bytes", "%d is negative", c.DiskHardLimitBytes)
	}
	if c.DiskSoftLimitBytes < 0 {
		bad("disk_soft_limit_bytes", "%d is negative", c.DiskSoftLimitBytes)
	} else if c.DiskHardLimitBytes > 0 && c.DiskSoftLimitBytes > c.DiskHardLimitBytes {
		bad("disk_soft_limit_bytes", "%d is above disk_hard_limit_bytes %d", c.DiskSoftLimitBytes, c.DiskHardLimitBytes)
	}
	if c.MaxImageBytes < 1024 || c.MaxImageBytes > 1<<30 {
		bad("max_image_bytes", "%d is outside 1 KiB..1 GiB", c.MaxImageBytes)
	} else if c.DiskHardLimitBytes > 0 && c.MaxImageBytes > c.DiskHardLimitBytes {
		bad("max_image_bytes", "%d is above disk_hard_limit_bytes %d", c.MaxImageBytes, c.DiskHardLimitBytes)
	}
	if c.MastersFile != "" {
		if _, err := os.Stat(c.MastersFile); err != nil {
			bad("masters_file", "%v", err)
		}
	}
	if c.StillTimeout < 100*time.Millisecond || c.StillTimeout > time.Minute {
		bad("still_timeout", "%s is outside 100ms..1m", c.StillTimeout)
	}
	if c.ShutdownTimeout < 100*time.Millisecond || c.ShutdownTimeout > 5*time.Minute {
		bad("shutdown_timeout", "%s is outside 100ms..5m", c.ShutdownTimeout)
	}
	c.validateSync(bad)
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level", "%q: want debug, info, warn or error", c.LogLevel)
	}
	return errors.Join(errs...)
}

// isLoopback reports whether host (from http_addr) only listens on loopback.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validateSync checks the sync fields (all but cloud_addr matter only when it is set).
func (c *Config) validateSync(bad func(field, format string, args ...any)) {
	if c.CloudAddr != "" {
		if host, port, err := net.SplitHostPort(c.CloudAddr); err != nil || host == "" || port == "" || strings.Contains(c.CloudAddr, "/") {
			bad("cloud_addr", "%q: want host:port of the cloud sync endpoint (gRPC), e.g. cloud.example.com:9090", c.CloudAddr)
		}
		if err := device.ValidID(c.DeviceID); err != nil {
			bad("device_id", "%v; with cloud_addr set it is the device's cloud identity", err)
		}
	}
	if len(c.EnrollmentToken) > 512 || strings.ContainsAny(c.EnrollmentToken, " \t\r\n") {
		bad("enrollment_token", "want the token exactly as the cloud issued it (%s...), without spaces", device.TokenPrefix)
	}
	if c.SyncChunkBytes < sender.MinChunkBytes || c.SyncChunkBytes > sender.MaxChunkBytes {
		bad("sync_chunk_bytes", "%d is outside %d..%d", c.SyncChunkBytes, sender.MinChunkBytes, sender.MaxChunkBytes)
	}
	if c.SyncBandwidthBytesPerSec < 0 {
		bad("sync_bandwidth_bytes_per_sec", "%d is negative (0 = unlimited)", c.SyncBandwidthBytesPerSec)
	} else if c.SyncBandwidthBytesPerSec > 0 && c.SyncBandwidthBytesPerSec < int64(c.SyncChunkBytes) {
		bad("sync_bandwidth_bytes_per_sec", "%d is below one chunk (sync_chunk_bytes %d) per second", c.SyncBandwidthBytesPerSec, c.SyncChunkBytes)
	}
	if c.SyncBackoffMin < 10*time.Millisecond || c.SyncBackoffMin > time.Hour {
		bad("sync_backoff_min", "%s is outside 10ms..1h", c.SyncBackoffMin)
	}
	if c.SyncBackoffMax < c.SyncBackoffMin || c.SyncBackoffMax > 24*time.Hour {
		bad("sync_backoff_max", "%s is outside sync_backoff_min (%s)..24h", c.SyncBackoffMax, c.SyncBackoffMin)
	}
	if c.SyncPullInterval < time.Second || c.SyncPullInterval > 24*time.Hour {
		bad("sync_pull_interval", "%s is outside 1s..24h", c.SyncPullInterval)
	}
	if c.SyncIdleInterval < 10*time.Millisecond || c.SyncIdleInterval > time.Hour {
		bad("sync_idle_interval", "%s is outside 10ms..1h", c.SyncIdleInterval)
	}
}

// Origins returns the web origins allowed to call the local API and WHEP
// from a browser or webview: cors_origins, then allowed_origins.
func (c *Config) Origins() []string {
	var out []string
	for _, o := range append(append([]string(nil), c.CORSOrigins...), c.AllowedOrigins...) {
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}
