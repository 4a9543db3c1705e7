// Package registry holds implementations keyed by URL scheme, for the things
// users pick in config by URL (object stores, metadata stores, event buses,
// camera sources). Each domain package keeps its own Register/Open/Schemes
// API and delegates the bookkeeping here.
package registry

import (
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"sync"
)

// Registry maps lower-case schemes to values of T (usually an opener func).
// The zero value is not usable; call New.
type Registry[T any] struct {
	name string // prefix of panic messages, e.g. "metadata"

	mu sync.RWMutex
	m  map[string]T
}

// New returns an empty registry whose panics name it as name.
func New[T any](name string) *Registry[T] {
	return &Registry[T]{name: name, m: map[string]T{}}
}

// Register adds v under scheme (case-insensitive). It panics on an empty
// scheme, a nil v or a scheme registered twice, as database/sql does for
// drivers: all are programming errors in an init function.
func (r *Registry[T]) Register(scheme string, v T) {
	scheme = strings.ToLower(scheme)
	if scheme == "" || isNil(v) {
		panic(r.name + ": Register with empty scheme or nil opener")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.m[scheme]; dup {
		panic(r.name + ": Register called twice for scheme " + scheme)
	}
	r.m[scheme] = v
}

// isNil reports whether v is nil or a nil func, pointer, map, slice, channel or interface.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Func, reflect.Pointer, reflect.Map, reflect.Slice, reflect.Chan, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// Get returns the value registered for scheme (case-insensitive).
func (r *Registry[T]) Get(scheme string) (T, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v, ok := r.m[strings.ToLower(scheme)]
	return v, ok
}

// Lookup parses rawURL and returns it with the value registered for its
// scheme. Its errors read "parse url: ..." and "no implementation
// registered for scheme ..."; callers prefix what they were opening.
func (r *Registry[T]) Lookup(rawURL string) (*url.URL, T, error) {
	var zero T
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, zero, fmt.Errorf("parse url: %w", err)
	}
	v, ok := r.Get(u.Scheme)
	if !ok {
		return nil, zero, fmt.Errorf("no implementation registered for scheme %q (known: %s)", u.Scheme, strings.Join(r.Schemes(), ", "))
	}
	return u, v, nil
}

// Schemes lists the registered schemes, sorted.
func (r *Registry[T]) Schemes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.m))
	for s := range r.m {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Open opens the resource named by rawURL with the opener registered for
// its scheme. what names the resource in errors ("open <what>: ...", and
// "open <what> <url>: ..." with credentials redacted when the opener fails).
func Open[O ~func(*url.URL) (S, error), S any](r *Registry[O], what, rawURL string) (S, error) {
	var zero S
	u, open, err := r.Lookup(rawURL)
	if err != nil {
		return zero, fmt.Errorf("open %s: %w", what, err)
	}
	s, err := open(u)
	if err != nil {
		return zero, fmt.Errorf("open %s %s: %w", what, u.Redacted(), err)
	}
	return s, nil
}
