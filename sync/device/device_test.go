package device

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHeaderRoundTrip(t *testing.T) {
	secret, hash, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"edge-01", "line3.box-2", "0193a5c2-7b1e-7c3d-9e8f-0a1b2c3d4e5f"} {
		gotID, gotSecret, err := ParseHeader(Header(id, secret))
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if gotID != id || gotSecret != secret {
			t.Fatalf("parsed (%q, %q), want (%q, %q)", gotID, gotSecret, id, secret)
		}
		if !HashEqual(gotSecret, hash) {
			t.Fatal("secret does not match its own hash")
		}
	}
	if HashEqual(secret+"x", hash) {
		t.Fatal("a different secret matched the hash")
	}
}

func TestParseHeaderRejects(t *testing.T) {
	for name, v := range map[string]string{
		"empty":          "",
		"bearer":         "Bearer abc.def",
		"no secret":      "Device edge-01.",
		"no separator":   "Device edge-01",
		"path trick":     "Device ../etc.secret",
		"slash in id":    "Device a/b.secret",
		"space in id":    "Device a b.secret",
		"id too long":    "Device " + strings.Repeat("a", 65) + ".secret",
		"secret too big": "Device edge." + strings.Repeat("s", 200),
	} {
		if _, _, err := ParseHeader(v); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: ParseHeader(%q) = %v, want ErrMalformed", name, v, err)
		}
	}
}

func TestTokensAreUniqueAndPrefixed(t *testing.T) {
	a, ha, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b, hb, _ := NewToken()
	if a == b || ha == hb {
		t.Fatal("two tokens are equal")
	}
	if !strings.HasPrefix(a, TokenPrefix) || Hash(a) != ha {
		t.Fatalf("token %q / hash %q inconsistent", a, ha)
	}
}

func TestCredentialsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "device.json")
	c := Credentials{DeviceID: "edge-01", Line: "L1", Secret: "s3cret", CloudURL: "cloud:9090"}
	if err := Save(path, c); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	if dst, _ := os.Stat(filepath.Dir(path)); dst.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v, want 0700", dst.Mode().Perm())
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != c {
		t.Fatalf("loaded %+v, want %+v", got, c)
	}

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "too open") {
		t.Fatalf("world-readable credentials loaded: %v", err)
	}
	if err := Save(path, Credentials{DeviceID: "bad/id", Secret: "x"}); err == nil {
		t.Fatal("saved credentials with an invalid device id")
	}
	if got, _ := os.ReadFile(path); !strings.Contains(string(got), "s3cret") {
		t.Fatal("a refused Save changed the existing file")
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil {
		t.Fatal("malformed credentials loaded")
	}
}
