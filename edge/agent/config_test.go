package agent_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imageflowcanvas/ifc/edge/agent"
)

func TestDefaultConfigValid(t *testing.T) {
	cfg := agent.DefaultConfig()
	if cfg.HTTPAddr != "127.0.0.1:8081" || cfg.Camera != "synthetic:" || cfg.PrefilterDir != "" {
		t.Fatalf("defaults %+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestLoadYAMLThenEnv(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "edge.yaml")
	if err := os.WriteFile(path, []byte("device_id: box-7\nline: L2\nhttp_addr: 127.0.0.1:9999\ncamera: \"folder:/srv/replay\"\nlive_prefilter_fps: 2\nstill_timeout: 5s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("IFC_EDGE_HTTP_ADDR", "127.0.0.1:7777")
	t.Setenv("IFC_EDGE_DISK_HARD_LIMIT_BYTES", "1000000")
	t.Setenv("IFC_EDGE_DISK_SOFT_LIMIT_BYTES", "500000")
	t.Setenv("IFC_EDGE_MAX_IMAGE_BYTES", "400000")
	t.Setenv("IFC_EDGE_ALLOWED_ORIGINS", "tauri://localhost, http://tauri.localhost")
	cfg, err := agent.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DeviceID != "box-7" || cfg.Line != "L2" || cfg.HTTPAddr != "127.0.0.1:7777" || cfg.Camera != "folder:/srv/replay" ||
		cfg.LivePrefilterFPS != 2 || cfg.StillTimeout != 5*time.Second || cfg.DiskHardLimitBytes != 1000000 ||
		len(cfg.AllowedOrigins) != 2 || cfg.AllowedOrigins[1] != "http://tauri.localhost" {
		t.Fatalf("loaded %+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("device_idd: typo\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.Load(path); err == nil || !strings.Contains(err.Error(), "device_idd") {
		t.Fatalf("unknown key: %v", err)
	}
}

func TestLoadSyncConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "edge.yaml")
	yaml := "device_id: box-7\ndata_dir: " + dir + "\ncloud_addr: cloud.example.com:9090\nsync_chunk_bytes: 65536\n" +
		"sync_bandwidth_bytes_per_sec: 1000000\nsync_backoff_min: 1s\nsync_backoff_max: 2m\nsync_pull_interval: 1m\nsync_idle_interval: 5s\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("IFC_EDGE_ENROLLMENT_TOKEN", "ifcenr_secret")
	t.Setenv("IFC_EDGE_MODEL_DIR", "/srv/models")
	cfg, err := agent.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CloudAddr != "cloud.example.com:9090" || cfg.EnrollmentToken != "ifcenr_secret" || cfg.SyncChunkBytes != 65536 ||
		cfg.SyncBandwidthBytesPerSec != 1000000 || cfg.SyncBackoffMin != time.Second || cfg.SyncBackoffMax != 2*time.Minute ||
		cfg.SyncPullInterval != time.Minute || cfg.SyncIdleInterval != 5*time.Second || cfg.ModelsPath() != "/srv/models" {
		t.Fatalf("loaded %+v", cfg)
	}
	if got := cfg.CredentialsPath(); got != filepath.Join(dir, "device.json") {
		t.Errorf("default credentials file %q", got)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		field string
		edit  func(*agent.Config)
	}{
		{"device_id", func(c *agent.Config) { c.DeviceID = "" }},
		{"device_id", func(c *agent.Config) { c.DeviceID = "a b" }},
		{"http_addr", func(c *agent.Config) { c.HTTPAddr = "nonsense" }},
		{"http_addr", func(c *agent.Config) { c.HTTPAddr = "0.0.0.0:8081" }},
		{"http_addr", func(c *agent.Config) { c.HTTPAddr = "192.168.1.10:8081" }},
		{"data_dir", func(c *agent.Config) { c.DataDir = "" }},
		{"camera", func(c *agent.Config) { c.Camera = "" }},
		{"camera", func(c *agent.Config) { c.Camera = "/dev/video0" }},
		{"prefilter_dir", func(c *agent.Config) { c.PrefilterDir = "/does/not/exist" }},
		{"live_prefilter_fps", func(c *agent.Config) { c.LivePrefilterFPS = -1 }},
		{"disk_hard_limit_bytes", func(c *agent.Config) { c.DiskHardLimitBytes = -5 }},
		{"disk_soft_limit_bytes", func(c *agent.Config) { c.DiskSoftLimitBytes = c.DiskHardLimitBytes + 1 }},
		{"max_image_bytes", func(c *agent.Config) { c.MaxImageBytes = 10 }},
		{"masters_file", func(c *agent.Config) { c.MastersFile = "/no/masters.yaml" }},
		{"still_timeout", func(c *agent.Config) { c.StillTimeout = 0 }},
		{"shutdown_timeout", func(c *agent.Config) { c.ShutdownTimeout = time.Hour }},
		{"log_level", func(c *agent.Config) { c.LogLevel = "loud" }},
		{"allowed_origins", func(c *agent.Config) { c.AllowedOrigins = []string{"not an origin"} }},
		{"cloud_addr", func(c *agent.Config) { c.CloudAddr = "https://cloud.example.com" }},
		{"cloud_addr", func(c *agent.Config) { c.CloudAddr = ":9090" }},
		{"device_id", func(c *agent.Config) { c.CloudAddr, c.DeviceID = "cloud:9090", "box_é" }},
		{"enrollment_token", func(c *agent.Config) { c.EnrollmentToken = "ifcenr_abc def" }},
		{"sync_chunk_bytes", func(c *agent.Config) { c.SyncChunkBytes = 100 }},
		{"sync_chunk_bytes", func(c *agent.Config) { c.SyncChunkBytes = 64 << 20 }},
		{"sync_bandwidth_bytes_per_sec", func(c *agent.Config) { c.SyncBandwidthBytesPerSec = -1 }},
		{"sync_bandwidth_bytes_per_sec", func(c *agent.Config) { c.SyncBandwidthBytesPerSec = 1000 }},
		{"sync_backoff_min", func(c *agent.Config) { c.SyncBackoffMin = 0 }},
		{"sync_backoff_max", func(c *agent.Config) { c.SyncBackoffMax = c.SyncBackoffMin / 2 }},
		{"sync_pull_interval", func(c *agent.Config) { c.SyncPullInterval = time.Millisecond }},
		{"sync_idle_interval", func(c *agent.Config) { c.SyncIdleInterval = 0 }},
	} {
		cfg := agent.DefaultConfig()
		tc.edit(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tc.field+":") {
			t.Errorf("%s: got %v", tc.field, err)
		}
	}
	// Non-loopback binding is allowed only with allow_remote.
	cfg := agent.DefaultConfig()
	cfg.HTTPAddr, cfg.AllowRemote = "0.0.0.0:8081", true
	if err := cfg.Validate(); err != nil {
		t.Fatalf("allow_remote: %v", err)
	}
}

// TestDeployFiles keeps deploy/edge in step with the code.
func TestDeployFiles(t *testing.T) {
	shipped, err := os.ReadFile("../../deploy/edge/masters.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(shipped) != string(agent.DemoMasters) {
		t.Error("deploy/edge/masters.yaml differs from edge/agent/demo_masters.yaml; keep them identical")
	}
	ms, err := agent.ParseMasters(shipped)
	if err != nil || len(ms) == 0 {
		t.Fatalf("masters: %v", err)
	}
	cfg, err := agent.Load("../../deploy/edge/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = t.TempDir() // /var/lib/ifc-edge in production
	if err := cfg.Validate(); err != nil {
		t.Fatalf("deploy/edge/config.yaml: %v", err)
	}
}

func TestCORSOriginsConfig(t *testing.T) {
	cfg := agent.DefaultConfig()
	if got := cfg.Origins(); len(got) != 2 || got[0] != "tauri://localhost" || got[1] != "http://tauri.localhost" {
		t.Fatalf("default origins %v", got)
	}
	cfg.AllowedOrigins = []string{"http://localhost:1420", "tauri://localhost"}
	if got := cfg.Origins(); len(got) != 3 || got[2] != "http://localhost:1420" {
		t.Errorf("merged origins %v", got)
	}
	for _, bad := range []string{"*", "tauri://", "http://x/y", "localhost"} {
		c := agent.DefaultConfig()
		c.DataDir = t.TempDir()
		c.CORSOrigins = []string{bad}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "cors_origins") {
			t.Errorf("cors_origins %q: %v", bad, err)
		}
	}
}
