package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"github.com/imageflowcanvas/ifc/cloud/archive"
	"github.com/imageflowcanvas/ifc/cloud/events/kafkabus"
	"github.com/imageflowcanvas/ifc/cloud/execmetrics"
)

// TestArchiveWiring runs the all-in-one on the real Kafka broker with
// archive: true: one execution's progress events and its metrics record
// (published by the conductor's tap) end up as archive objects in the
// object store.
func TestArchiveWiring(t *testing.T) {
	kURL := os.Getenv("IFC_TEST_KAFKA_URL")
	if kURL == "" {
		msg := "IFC_TEST_KAFKA_URL unset; start the broker with: eval \"$(deploy/dev/kafka start)\""
		if os.Getenv("IFC_REQUIRE_BACKENDS") == "1" {
			t.Fatal(msg + " (IFC_REQUIRE_BACKENDS=1)")
		}
		t.Skip(msg)
	}
	suffix := uuid.NewString()
	progressTopic, metricsTopic := "ifc.archive-wiring."+suffix, "ifc.archive-wiring-metrics."+suffix
	t.Cleanup(func() {
		kcfg, err := kafkabus.ParseURL(kURL)
		if err != nil {
			return
		}
		if conn, err := kafka.Dial("tcp", kcfg.Brokers[0]); err == nil {
			_ = conn.DeleteTopics(progressTopic, metricsTopic)
			conn.Close()
		}
	})
	h := startAllInOne(t, func(c *Config) {
		c.EventsURL = kURL + "?topic=" + progressTopic
		c.MetricsTopic = metricsTopic
		c.Archive = true
		c.ArchiveMaxAge = time.Second
	})
	img, _ := partImage(t, 1)
	fileID := h.upload("part.jpg", img)
	var ex executionJSON
	h.do("POST", "/api/v1/executions?wait=true", "application/json",
		fmt.Sprintf(`{"pipeline_id":%q,"inputs":[%q]}`, h.createStandardPipeline(), fileID), http.StatusOK, &ex)
	if ex.Status != "succeeded" {
		t.Fatalf("execution %s", ex.Status)
	}

	// The objects store is file:// under the data dir: read the archive there.
	root := filepath.Join(h.srv.cfg.DataDir, "objects")
	read := func(topic string) []archive.Line {
		var lines []archive.Line
		_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.Contains(filepath.ToSlash(path), "archive/"+topic+"/") {
				return nil
			}
			f, err := os.Open(path)
			if err != nil {
				return nil
			}
			defer f.Close()
			ls, err := archive.DecodeObject(f)
			if err == nil {
				lines = append(lines, ls...)
			}
			return nil
		})
		return lines
	}
	deadline := time.Now().Add(60 * time.Second)
	var progress, metrics []archive.Line
	for {
		progress, metrics = read(progressTopic), read(metricsTopic)
		if len(metrics) > 0 && len(progress) >= 12 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("archive after 60s: %d progress lines, %d metrics lines under %s", len(progress), len(metrics), root)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var last uint64
	for _, l := range progress {
		ev, err := l.ProgressEvent()
		if err != nil || ev.ExecutionId != ex.ExecutionID || ev.Seq != last+1 {
			t.Fatalf("archived progress line %+v (%v), want seq %d of %s", l, err, last+1, ex.ExecutionID)
		}
		last = ev.Seq
	}
	var rec execmetrics.Record
	if err := json.Unmarshal(metrics[0].Value, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.ExecutionID != ex.ExecutionID || rec.Status != "succeeded" || len(rec.Nodes) != 3 || rec.DurationMS <= 0 || metrics[0].Type != execmetrics.Type {
		t.Fatalf("archived metrics record %+v (type %q)", rec, metrics[0].Type)
	}
	t.Logf("archived %d progress events and the metrics record: %s", len(progress), metrics[0].Value)
}
