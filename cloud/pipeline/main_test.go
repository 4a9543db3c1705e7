package pipeline

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestFormatByName(t *testing.T) {
	for name, want := range map[string]Format{"json": FormatJSON, "YAML": FormatYAML, "yml": FormatYAML, "": FormatAuto} {
		if got, ok := FormatByName(name); !ok || got != want {
			t.Errorf("FormatByName(%q) = %v, %v", name, got, ok)
		}
	}
	if _, ok := FormatByName("xml"); ok {
		t.Error("xml accepted")
	}
}
