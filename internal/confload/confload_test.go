package confload

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type inner struct {
	URL string `yaml:"url"`
}

type testConfig struct {
	Addr    string        `yaml:"addr"`
	Workers int           `yaml:"workers"`
	Debug   bool          `yaml:"debug"`
	Timeout time.Duration `yaml:"timeout"`
	Parts   []string      `yaml:"parts"`
	Store   inner         `yaml:"store"`
	secret  string
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFileThenEnvOverlay(t *testing.T) {
	c := testConfig{Addr: ":1", Workers: 2}
	p := writeFile(t, "addr: \":8080\"\nworkers: 4\nstore:\n  url: file:///a\n")
	if err := LoadFile(p, &c); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"X_WORKERS": "8", "X_TIMEOUT": "3s", "X_PARTS": "resize, filter,", "X_STORE_URL": "s3://b", "X_DEBUG": "true"}
	if err := LoadEnv("X_", func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &c); err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.Workers != 8 || c.Timeout != 3*time.Second || !c.Debug || c.Store.URL != "s3://b" {
		t.Fatalf("unexpected config %+v", c)
	}
	if strings.Join(c.Parts, "|") != "resize|filter" {
		t.Fatalf("parts = %q", c.Parts)
	}
}

func TestUnknownKeyRefused(t *testing.T) {
	var c testConfig
	err := LoadFile(writeFile(t, "adr: x\n"), &c)
	if err == nil || !strings.Contains(err.Error(), "adr") {
		t.Fatalf("want error naming the unknown key, got %v", err)
	}
}

func TestEmptyFileKeepsDefaults(t *testing.T) {
	c := testConfig{Addr: ":1"}
	if err := LoadFile(writeFile(t, ""), &c); err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":1" {
		t.Fatalf("defaults lost: %+v", c)
	}
}

func TestBadEnvValueNamesVariable(t *testing.T) {
	var c testConfig
	err := LoadEnv("X_", func(k string) (string, bool) { return "many", k == "X_WORKERS" }, &c)
	if err == nil || !strings.Contains(err.Error(), "X_WORKERS") {
		t.Fatalf("want error naming X_WORKERS, got %v", err)
	}
}

func TestMalformedYAMLRefused(t *testing.T) {
	var c testConfig
	if err := LoadFile(writeFile(t, "addr: [unclosed\n"), &c); err == nil {
		t.Fatal("malformed YAML accepted")
	}
}
