// Package confload fills a typed configuration struct: defaults set in code
// by the caller, then a YAML file (unknown keys refused), then environment
// variables named PREFIX + the upper-cased yaml key (IFC_HTTP_ADDR for
// `http_addr`). The struct's own Validate method has the last word.
package confload

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// maxFileSize bounds a configuration file.
const maxFileSize = 1 << 20

// Load overlays the YAML file at path (skipped when path is empty) and then
// the environment onto dst, which must be a pointer to a struct.
func Load(path, envPrefix string, dst any) error {
	if path != "" {
		if err := LoadFile(path, dst); err != nil {
			return err
		}
	}
	return LoadEnv(envPrefix, os.LookupEnv, dst)
}

// LoadFile decodes a YAML file onto dst, refusing unknown keys.
func LoadFile(path string, dst any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return fmt.Errorf("config %s: larger than %d bytes", path, maxFileSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	// An empty file decodes to io.EOF: it changes nothing.
	if err := dec.Decode(dst); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("parse config %s: %w", path, err)
	}
	return nil
}

// LookupFunc finds an environment variable (os.LookupEnv in production).
type LookupFunc func(string) (string, bool)

// LoadEnv overlays environment variables onto the struct dst points to.
// Nested structs extend the prefix with their own yaml key.
func LoadEnv(prefix string, lookup LookupFunc, dst any) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("confload: destination must be a pointer to a struct, got %T", dst)
	}
	return loadEnvStruct(prefix, lookup, v.Elem())
}

func loadEnvStruct(prefix string, lookup LookupFunc, v reflect.Value) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		key := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if key == "-" || key == "" {
			continue
		}
		name := prefix + strings.ToUpper(key)
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct {
			if err := loadEnvStruct(name+"_", lookup, fv); err != nil {
				return err
			}
			continue
		}
		raw, ok := lookup(name)
		if !ok {
			continue
		}
		if err := setValue(fv, raw); err != nil {
			return fmt.Errorf("environment %s=%q: %w", name, raw, err)
		}
	}
	return nil
}

func setValue(v reflect.Value, raw string) error {
	if v.Type() == reflect.TypeOf(time.Duration(0)) {
		d, err := time.ParseDuration(raw)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, v.Type().Bits())
		if err != nil {
			return err
		}
		v.SetInt(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return err
		}
		v.SetFloat(f)
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("unsupported list type %s", v.Type())
		}
		var items []string
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		v.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("unsupported type %s", v.Type())
	}
	return nil
}
