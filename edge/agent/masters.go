package agent

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/imageflowcanvas/ifc/edge/queue"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// DemoMasters is the built-in demo master for the synthetic camera, the same
// file as deploy/edge/masters.yaml (a test keeps the two identical).
//
//go:embed demo_masters.yaml
var DemoMasters []byte

// maxMastersFile bounds a masters.yaml.
const maxMastersFile = 4 << 20

// mastersFile is the YAML shape of masters.yaml.
type mastersFile struct {
	Masters []masterYAML `yaml:"masters"`
}

type masterYAML struct {
	Product struct {
		Code string `yaml:"code"`
		Name string `yaml:"name"`
	} `yaml:"product"`
	Version int64 `yaml:"version"`
	Items   []struct {
		ID          string `yaml:"id"`
		Name        string `yaml:"name"`
		Description string `yaml:"description"`
	} `yaml:"items"`
	DefectTypes []struct {
		Code string `yaml:"code"`
		Name string `yaml:"name"`
	} `yaml:"defect_types"`
	Prefilter struct {
		ModelName    string  `yaml:"model_name"`
		ModelVersion string  `yaml:"model_version"`
		Threshold    float32 `yaml:"threshold"`
	} `yaml:"prefilter"`
	Pipeline struct {
		ID      string `yaml:"id"`
		Version int32  `yaml:"version"`
	} `yaml:"pipeline"`
	UpdatedAt time.Time `yaml:"updated_at"`
}

// ParseMasters decodes a masters.yaml document (unknown keys refused).
func ParseMasters(data []byte) ([]*ifcv1.InspectionMaster, error) {
	if len(data) > maxMastersFile {
		return nil, fmt.Errorf("masters file is %d bytes, limit %d", len(data), maxMastersFile)
	}
	var f mastersFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parse masters: %w", err)
	}
	out := make([]*ifcv1.InspectionMaster, 0, len(f.Masters))
	for _, y := range f.Masters {
		m := &ifcv1.InspectionMaster{
			Product:               &ifcv1.Product{Code: y.Product.Code, Name: y.Product.Name},
			PrefilterModelName:    y.Prefilter.ModelName,
			PrefilterModelVersion: y.Prefilter.ModelVersion,
			PrefilterThreshold:    y.Prefilter.Threshold,
			PipelineId:            y.Pipeline.ID,
			PipelineVersion:       y.Pipeline.Version,
			Version:               y.Version,
		}
		if !y.UpdatedAt.IsZero() {
			m.UpdatedAt = timestamppb.New(y.UpdatedAt)
		}
		for _, it := range y.Items {
			m.Items = append(m.Items, &ifcv1.InspectionItem{Id: it.ID, Name: it.Name, Description: it.Description})
		}
		for _, d := range y.DefectTypes {
			m.DefectTypes = append(m.DefectTypes, &ifcv1.DefectType{Code: d.Code, Name: d.Name})
		}
		out = append(out, m)
	}
	return out, nil
}

// seedMasters puts the masters from the configured file, else from
// <data_dir>/masters.yaml, else — only when the cache is empty — the
// built-in demo master into the cache. PutMaster keeps the newest version,
// so masters pulled later from the cloud are never overwritten by an older
// file.
func seedMasters(ctx context.Context, q *queue.Queue, cfg Config, logf func(msg string, args ...any)) error {
	path := cfg.MastersFile
	if path == "" {
		cand := cfg.DataDir + "/masters.yaml"
		if _, err := os.Stat(cand); err == nil {
			path = cand
		}
	}
	var (
		data []byte
		src  = path
	)
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return fmt.Errorf("read masters %s: %w", path, err)
		}
	} else {
		have, err := q.Masters(ctx)
		if err != nil {
			return fmt.Errorf("read master cache: %w", err)
		}
		if len(have) > 0 {
			return nil
		}
		data, src = DemoMasters, "built-in demo"
	}
	ms, err := ParseMasters(data)
	if err != nil {
		return fmt.Errorf("masters %s: %w", src, err)
	}
	for _, m := range ms {
		err := q.PutMaster(ctx, m)
		switch {
		case errors.Is(err, queue.ErrConflict):
			logf("master not seeded: the cache holds the same version with other content", "source", src, "product", m.GetProduct().GetCode(), "version", m.GetVersion(), "err", err)
		case err != nil:
			return fmt.Errorf("masters %s: product %q: %w", src, m.GetProduct().GetCode(), err)
		}
	}
	logf("master cache seeded", "source", src, "masters", len(ms))
	return nil
}
