package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/imageflowcanvas/ifc/cloud/tracing"
)

// Mode selects which components a process runs.
type Mode string

// The process shapes of the cloud tier.
const (
	ModeAllInOne Mode = "all-in-one" // API + conductor + every part service + embedded NATS
	ModeAPI      Mode = "api"        // API + conductor; part services reached over gRPC
	ModeWorker   Mode = "worker"     // part services only
)

// Services are the part services a worker can host.
var Services = []string{"resize", "filter", "detect"}

// Config configures a cloud-tier process. Defaults come from DefaultConfig;
// a YAML file and IFC_* environment variables overlay them (see
// internal/confload); flags overlay those.
type Config struct {
	DataDir       string        `yaml:"data_dir"`
	HTTPAddr      string        `yaml:"http_addr"`
	GRPCAddr      string        `yaml:"grpc_addr"`
	MetadataURL   string        `yaml:"metadata_url"`   // default sqlite://<data_dir>/ifc.db
	ObjectsURL    string        `yaml:"objects_url"`    // default file://<data_dir>/objects
	EventsURL     string        `yaml:"events_url"`     // "embedded" (default), nats://host:port or kafka://host:port
	Parts         []string      `yaml:"parts"`          // worker: services to host
	PartEndpoints []string      `yaml:"part_endpoints"` // api: service=host:port for each service
	MaxConcurrent int           `yaml:"max_concurrent"` // admission limit on running executions
	NodeTimeout   time.Duration `yaml:"node_timeout"`
	// ExecutionTimeout bounds an execution whose part service stayed
	// unreachable past node_timeout and went to the fallback queue: it is
	// retried until created_at plus this, then failed (default 10m).
	ExecutionTimeout time.Duration `yaml:"execution_timeout"`
	// PersistIntermediates stores every node's image, not only the sinks'
	// (default true: the audit trail shows each step).
	PersistIntermediates bool          `yaml:"persist_intermediates"`
	MaxUploadBytes       int64         `yaml:"max_upload_bytes"`
	AdminPassword        string        `yaml:"admin_password"` // first start only; generated and printed when empty
	TokenTTL             time.Duration `yaml:"token_ttl"`
	TokenKeyFile         string        `yaml:"token_key_file"` // HS256 key shared by API replicas; default <data_dir>/token.key, created at first start
	// DetectBackend runs the detect part: "onnx:" (the embedded detector in
	// process, default), "onnx:///path/to/bundle" or "triton://host:port/model".
	DetectBackend string `yaml:"detect_backend"`
	// SyncStagingDir holds partial image uploads from edges (default <data_dir>/sync-staging).
	SyncStagingDir string `yaml:"sync_staging_dir"`
	// ModelDir holds model bundles served to edges as <name>/<version>/ (default <data_dir>/models);
	// the pre-filter embedded in the binary is always served too.
	ModelDir string `yaml:"model_dir"`
	LogLevel string `yaml:"log_level"` // debug|info|warn|error
	// TracingEndpoint is the OTLP/gRPC collector (host:port) that receives
	// OpenTelemetry spans; empty (default) turns tracing off.
	TracingEndpoint string `yaml:"tracing_endpoint"`
	// MetricsAddr is a worker's HTTP listener for /metrics and /healthz
	// (`--http-addr` on a worker); empty (default) serves none.
	MetricsAddr string `yaml:"metrics_addr"`
	// MetricsTopic receives one record per finished execution when events
	// go through Kafka (default ifc.metrics).
	MetricsTopic string `yaml:"metrics_topic"`
	// Archive runs the archive consumer (group ifc-archive) in this API
	// process: progress and metrics topics into objects_url under
	// archive/. Needs kafka:// events.
	Archive         bool          `yaml:"archive"`
	ArchiveMaxBytes int           `yaml:"archive_max_bytes"` // uncompressed bytes per object; default 1 MiB
	ArchiveMaxAge   time.Duration `yaml:"archive_max_age"`   // span of one object; default 30s
	// UIEdgeURL is where the web UI links to the local edge agent's UI
	// (http(s) URL); empty: no link, except that the all-in-one links its
	// own edge agent.
	UIEdgeURL string `yaml:"ui_edge_url"`
	// Shifts are the factory's shifts for record search and statistics
	// (docs/ui.md "Shifts"); default A 06:00, B 14:00, C 22:00.
	Shifts []ShiftConfig `yaml:"shifts"`
	// ShiftTimezone is the IANA zone of the shift times and of statistics
	// days and hours; empty: the server's local zone.
	ShiftTimezone string `yaml:"shift_timezone"`
}

// DefaultConfig returns the embedded defaults.
func DefaultConfig() Config {
	return Config{
		DataDir:              defaultDataDir(),
		HTTPAddr:             "127.0.0.1:8080",
		GRPCAddr:             "127.0.0.1:9090",
		EventsURL:            "embedded",
		Parts:                append([]string(nil), Services...),
		MaxConcurrent:        128,
		NodeTimeout:          10 * time.Second,
		ExecutionTimeout:     10 * time.Minute,
		PersistIntermediates: true,
		MaxUploadBytes:       32 << 20,
		TokenTTL:             15 * time.Minute,
		LogLevel:             "info",
		Shifts:               defaultShifts(),
		MetricsTopic:         DefaultMetricsTopic,
		ArchiveMaxBytes:      1 << 20,
		ArchiveMaxAge:        30 * time.Second,
	}
}

func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "ifc")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "ifc")
	}
	return "ifc-data"
}

// Resolve fills URLs derived from the data directory.
func (c *Config) Resolve() {
	if abs, err := filepath.Abs(c.DataDir); err == nil {
		c.DataDir = abs
	}
	if c.MetadataURL == "" {
		c.MetadataURL = "sqlite://" + filepath.Join(c.DataDir, "ifc.db")
	}
	if c.TokenKeyFile == "" {
		c.TokenKeyFile = filepath.Join(c.DataDir, "token.key")
	}
	if c.ObjectsURL == "" {
		c.ObjectsURL = "file://" + filepath.Join(c.DataDir, "objects")
	}
	if c.SyncStagingDir == "" {
		c.SyncStagingDir = filepath.Join(c.DataDir, "sync-staging")
	}
	if c.ModelDir == "" {
		c.ModelDir = filepath.Join(c.DataDir, "models")
	}
}

// Validate checks the configuration for mode, naming the bad field.
func (c *Config) Validate(mode Mode) error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if mode != ModeWorker {
		if c.DataDir == "" {
			bad("data_dir", "must be set")
		}
		if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
			bad("http_addr", "%v", err)
		}
		if c.MaxConcurrent < 1 || c.MaxConcurrent > 10000 {
			bad("max_concurrent", "%d is outside 1..10000", c.MaxConcurrent)
		}
		if c.NodeTimeout < 10*time.Millisecond || c.NodeTimeout > 10*time.Minute {
			bad("node_timeout", "%s is outside 10ms..10m", c.NodeTimeout)
		}
		if c.ExecutionTimeout < c.NodeTimeout || c.ExecutionTimeout > 24*time.Hour {
			bad("execution_timeout", "%s is outside node_timeout..24h", c.ExecutionTimeout)
		}
		if c.MaxUploadBytes < 1024 || c.MaxUploadBytes > 1<<30 {
			bad("max_upload_bytes", "%d is outside 1 KiB..1 GiB", c.MaxUploadBytes)
		}
		if c.TokenTTL < time.Minute || c.TokenTTL > 24*time.Hour {
			bad("token_ttl", "%s is outside 1m..24h", c.TokenTTL)
		}
		if c.EventsURL != "embedded" && !strings.HasPrefix(c.EventsURL, "nats://") && !strings.HasPrefix(c.EventsURL, "kafka://") {
			bad("events_url", "%q: want \"embedded\", nats://host:port or kafka://host:port", c.EventsURL)
		}
		if c.Archive && !strings.HasPrefix(c.EventsURL, "kafka://") {
			bad("archive", "needs kafka:// events_url (the archive consumes Kafka topics)")
		}
		if c.ArchiveMaxBytes < 1024 || c.ArchiveMaxBytes > 256<<20 {
			bad("archive_max_bytes", "%d is outside 1 KiB..256 MiB", c.ArchiveMaxBytes)
		}
		if c.ArchiveMaxAge < time.Second || c.ArchiveMaxAge > time.Hour {
			bad("archive_max_age", "%s is outside 1s..1h", c.ArchiveMaxAge)
		}
		if c.MetricsTopic == "" {
			bad("metrics_topic", "must be set")
		}
	}
	if mode != ModeWorker {
		errs = append(errs, c.validateUI()...) // ui.go
	}
	if _, _, err := net.SplitHostPort(c.GRPCAddr); err != nil {
		bad("grpc_addr", "%v", err)
	}
	if mode == ModeWorker {
		if c.MetricsAddr != "" {
			if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
				bad("metrics_addr", "%v", err)
			}
		}
		if len(c.Parts) == 0 {
			bad("parts", "a worker must host at least one service")
		}
		for _, p := range c.Parts {
			if !isService(p) {
				bad("parts", "unknown service %q (known: %s)", p, strings.Join(Services, ", "))
			}
		}
	}
	if mode == ModeAPI {
		if _, err := c.Endpoints(); err != nil {
			bad("part_endpoints", "%v", err)
		}
	}
	if err := tracing.ValidateEndpoint(c.TracingEndpoint); err != nil {
		bad("tracing_endpoint", "%v", err)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level", "%q: want debug, info, warn or error", c.LogLevel)
	}
	return errors.Join(errs...)
}

// Endpoints parses PartEndpoints into service → address, requiring every service.
func (c *Config) Endpoints() (map[string]string, error) {
	m := make(map[string]string, len(c.PartEndpoints))
	for _, e := range c.PartEndpoints {
		svc, addr, ok := strings.Cut(e, "=")
		if !ok || !isService(svc) {
			return nil, fmt.Errorf("%q: want service=host:port with service one of %s", e, strings.Join(Services, ", "))
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("%q: %w", e, err)
		}
		m[svc] = addr
	}
	for _, s := range Services {
		if _, ok := m[s]; !ok {
			return nil, fmt.Errorf("no endpoint for service %q", s)
		}
	}
	return m, nil
}

func isService(s string) bool {
	for _, k := range Services {
		if s == k {
			return true
		}
	}
	return false
}
