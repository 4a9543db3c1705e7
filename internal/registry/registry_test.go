package registry_test

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/imageflowcanvas/ifc/internal/registry"
)

type opener func(u *url.URL) (string, error)

func TestRegistry(t *testing.T) {
	r := registry.New[opener]("test")
	r.Register("B", func(u *url.URL) (string, error) { return "b:" + u.Host, nil })
	r.Register("a", func(u *url.URL) (string, error) { return "", errors.New("boom") })

	if got := r.Schemes(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("Schemes = %v", got)
	}
	if _, ok := r.Get("A"); !ok {
		t.Error("Get is not case-insensitive")
	}
	if s, err := registry.Open(r, "thing", "b://host"); err != nil || s != "b:host" {
		t.Errorf("Open b:// = %q, %v", s, err)
	}
	tests := []struct{ url, want string }{
		{"a://user:secret@host", "open thing a://user:xxxxx@host: boom"},
		{"c://host", `open thing: no implementation registered for scheme "c" (known: a, b)`},
		{"b://host\x7f/%zz", "open thing: parse url: "},
	}
	for _, tc := range tests {
		_, err := registry.Open(r, "thing", tc.url)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Open %q: error %v, want prefix %q", tc.url, err, tc.want)
		}
	}
}

func TestRegisterPanics(t *testing.T) {
	for name, f := range map[string]func(r *registry.Registry[opener]){
		"empty scheme": func(r *registry.Registry[opener]) { r.Register("", func(*url.URL) (string, error) { return "", nil }) },
		"nil opener":   func(r *registry.Registry[opener]) { r.Register("x", nil) },
		"twice": func(r *registry.Registry[opener]) {
			r.Register("x", func(*url.URL) (string, error) { return "", nil })
			r.Register("X", func(*url.URL) (string, error) { return "", nil })
		},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if p, _ := recover().(string); !strings.HasPrefix(p, "test: ") {
					t.Errorf("panic %q, want one prefixed with the registry name", p)
				}
			}()
			f(registry.New[opener]("test"))
		})
	}
}
