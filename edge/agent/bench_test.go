package agent_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imageflowcanvas/ifc/edge/inspect"
)

// procStatus reads VmRSS, VmHWM and RssAnon (kB) of pid.
func procStatus(pid int) (rss, hwm, anon int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		case "RssAnon":
			anon = n
		}
	}
	return rss, hwm, anon, sc.Err()
}

// BenchmarkAgentSteadyState runs a real agent process (synthetic camera
// 1280×720 at 30 fps, live pre-filter at 2 fps, embedded model) and drives
// b.N capture → verdict cycles over HTTP. It reports the end-to-end capture
// latency as the inspector sees it (including the wait for the next camera
// frame), the save latency, and the agent's resident memory afterwards.
//
//	go test -run '^$' -bench AgentSteadyState -benchtime 300x ./edge/agent
func BenchmarkAgentSteadyState(b *testing.B) {
	dir := b.TempDir()
	ch := startChild(b, dir, "synthetic:?width=1280&height=720&fps=30", childLiveEnv+"=2")
	defer ch.kill()
	c := newClient(b, ch.addr)
	var sess inspect.SessionJSON
	c.must("POST", "/api/v1/sessions", inspect.SessionRequest{ProductCode: "DEMO-PART", Inspector: "bench"}, 201, &sess)
	rss0, _, _, _ := procStatus(ch.cmd.Process.Pid)
	var capture, save []time.Duration
	var still, pf []float64
	for b.Loop() {
		start := time.Now()
		var capt inspect.CaptureJSON
		c.must("POST", "/api/v1/sessions/"+sess.SessionID+"/captures", nil, 201, &capt)
		capture = append(capture, time.Since(start))
		still = append(still, capt.Timings.StillMS)
		pf = append(pf, capt.Timings.PrefilterMS)
		start = time.Now()
		body, _ := json.Marshal(inspect.VerdictRequest{Result: "OK"})
		code, resp, err := c.do("POST", "/api/v1/captures/"+capt.CaptureID+"/verdict", "application/json", body)
		if err != nil || code != 201 {
			b.Fatalf("verdict: %d %s %v", code, resp, err)
		}
		save = append(save, time.Since(start))
	}
	b.StopTimer()
	time.Sleep(2 * time.Second) // let the live loop and GC settle
	rss, hwm, anon, err := procStatus(ch.cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	qmap, err := mappedRSS(ch.cmd.Process.Pid, "queue.db")
	if err != nil {
		b.Fatal(err)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	sort.Float64s(still)
	sort.Float64s(pf)
	b.ReportMetric(ms(percentile(capture, 0.5)), "capture-p50-ms")
	b.ReportMetric(ms(percentile(capture, 0.95)), "capture-p95-ms")
	b.ReportMetric(still[len(still)/2], "still-wait-p50-ms")
	b.ReportMetric(pf[len(pf)/2], "prefilter-p50-ms")
	b.ReportMetric(ms(percentile(save, 0.5)), "save-p50-ms")
	b.ReportMetric(ms(percentile(save, 0.95)), "save-p95-ms")
	b.ReportMetric(float64(rss0)/1024, "rss-start-MB")
	b.ReportMetric(float64(rss)/1024, "rss-MB")
	b.ReportMetric(float64(hwm)/1024, "rss-peak-MB")
	b.ReportMetric(float64(anon)/1024, "rss-anon-MB")
	b.ReportMetric(float64(qmap)/1024, "rss-queue-mmap-MB")
}

// mappedRSS sums the resident kB of pid's mappings of files whose path ends with suffix.
func mappedRSS(pid int, suffix string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var total int64
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = len(fields) >= 6 && strings.HasSuffix(fields[len(fields)-1], suffix)
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(line, "Rss:"), "kB")), 10, 64)
			total += n
		}
	}
	return total, sc.Err()
}

func percentile(d []time.Duration, p float64) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[min(len(d)-1, int(p*float64(len(d))))]
}
