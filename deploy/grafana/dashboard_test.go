package grafana_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const repoRoot = "../.."

// registeredMetrics scans the non-test Go source of the repository for
// prometheus.{Counter,Gauge,Histogram,Summary}Opts literals and returns the
// series names they produce (histograms and summaries add _bucket, _sum and
// _count).
func registeredMetrics(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	skip := map[string]bool{".git": true, "node_modules": true, "testdata": true, "vendor": true}
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if skip[d.Name()] || (strings.HasPrefix(d.Name(), ".") && path != repoRoot) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil || !bytes.Contains(src, []byte("prometheus.")) {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, src, parser.SkipObjectResolution)
		if err != nil {
			return fmt.Errorf("parse %s: %w", path, err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			sel, ok := lit.Type.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			pkg, ok := sel.X.(*ast.Ident)
			if !ok || pkg.Name != "prometheus" || !strings.HasSuffix(sel.Sel.Name, "Opts") {
				return true
			}
			fields := map[string]string{}
			for _, e := range lit.Elts {
				kv, ok := e.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				key, _ := kv.Key.(*ast.Ident)
				val, _ := kv.Value.(*ast.BasicLit)
				if key != nil && val != nil && val.Kind == token.STRING {
					fields[key.Name], _ = strconv.Unquote(val.Value)
				}
			}
			if fields["Name"] == "" {
				return true
			}
			var parts []string
			for _, p := range []string{fields["Namespace"], fields["Subsystem"], fields["Name"]} {
				if p != "" {
					parts = append(parts, p)
				}
			}
			name := strings.Join(parts, "_")
			names[name] = true
			if sel.Sel.Name == "HistogramOpts" || sel.Sel.Name == "SummaryOpts" {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					names[name+s] = true
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

var (
	stringLit   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	matchers    = regexp.MustCompile(`\{[^{}]*\}`)
	ranges      = regexp.MustCompile(`\[[^\[\]]*\]`)
	labelLists  = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	identifier  = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promKeyword = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true,
		"group_right": true, "bool": true, "offset": true, "and": true, "or": true, "unless": true,
		"inf": true, "nan": true, "atan2": true}
)

// metricNames returns the metric names a PromQL expression selects: every
// identifier outside strings, label matchers, ranges and label lists that
// is not a function call or a keyword.
func metricNames(expr string) ([]string, error) {
	if strings.Count(expr, "(") != strings.Count(expr, ")") || strings.Count(expr, "{") != strings.Count(expr, "}") {
		return nil, fmt.Errorf("unbalanced brackets in %q", expr)
	}
	e := stringLit.ReplaceAllString(expr, `""`)
	e = matchers.ReplaceAllString(e, " ")
	e = ranges.ReplaceAllString(e, " ")
	e = labelLists.ReplaceAllString(e, " ")
	e = strings.ReplaceAll(e, "$__", "__") // Grafana variables are not metrics
	var names []string
	for _, loc := range identifier.FindAllStringIndex(e, -1) {
		id := e[loc[0]:loc[1]]
		if loc[0] > 0 && (e[loc[0]-1] == '$' || e[loc[0]-1] == '.' || (e[loc[0]-1] >= '0' && e[loc[0]-1] <= '9')) {
			continue // a variable, or the exponent/fraction of a number
		}
		if promKeyword[strings.ToLower(id)] || strings.HasPrefix(id, "__") {
			continue
		}
		if rest := strings.TrimLeft(e[loc[1]:], " \t\n"); strings.HasPrefix(rest, "(") {
			continue // a function
		}
		names = append(names, id)
	}
	return names, nil
}

// panel is the part of a Grafana panel the test reads.
type panel struct {
	ID      int      `json:"id"`
	Type    string   `json:"type"`
	Title   string   `json:"title"`
	Targets []target `json:"targets"`
	Panels  []panel  `json:"panels"`
	GridPos *struct {
		H, W, X, Y int
	} `json:"gridPos"`
}

type target struct {
	RefID string `json:"refId"`
	Expr  string `json:"expr"`
}

type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// problems lists what is wrong with a dashboard given the known metrics.
func problems(raw []byte, known map[string]bool) []string {
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		return []string{fmt.Sprintf("decode dashboard: %v", err)}
	}
	var bad []string
	if d.UID == "" || d.Title == "" || d.SchemaVersion == 0 {
		bad = append(bad, "dashboard needs uid, title and schemaVersion")
	}
	checkExpr := func(where, expr string) {
		names, err := metricNames(expr)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", where, err))
		}
		if err == nil && len(names) == 0 {
			bad = append(bad, fmt.Sprintf("%s: %q selects no metric", where, expr))
		}
		for _, n := range names {
			if !known[n] {
				bad = append(bad, fmt.Sprintf("%s: metric %s is not registered anywhere in the code", where, n))
			}
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			var s string
			if err := json.Unmarshal(v.Query, &s); err != nil {
				bad = append(bad, fmt.Sprintf("variable %s: query is neither a string nor an object", v.Name))
				continue
			}
			q.Query = s
		}
		expr := strings.TrimSuffix(strings.TrimPrefix(q.Query, "label_values("), ")")
		if i := strings.LastIndex(expr, ","); i >= 0 {
			expr = expr[:i]
		}
		checkExpr("variable "+v.Name, expr)
	}
	ids := map[int]bool{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
			if ids[p.ID] {
				bad = append(bad, where+": duplicate id")
			}
			ids[p.ID] = true
			if p.GridPos == nil || p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 {
				bad = append(bad, where+": needs a gridPos inside the 24-column grid")
			}
			if p.Type != "row" && len(p.Targets) == 0 {
				bad = append(bad, where+": no queries")
			}
			for _, tg := range p.Targets {
				checkExpr(fmt.Sprintf("%s query %s", where, tg.RefID), tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return bad
}

func TestDashboardQueriesUseRealMetrics(t *testing.T) {
	known := registeredMetrics(t)
	for _, want := range []string{"ifc_api_http_requests_total", "ifc_edge_queue_depth", "ifc_api_http_request_duration_seconds_bucket"} {
		if !known[want] {
			t.Fatalf("the source scan missed %s; found %d names", want, len(known))
		}
	}
	raw, err := os.ReadFile("ifc-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems(raw, known) {
		t.Error(p)
	}
}

func TestMetricNames(t *testing.T) {
	cases := map[string][]string{
		`sum by (route) (rate(ifc_api_http_requests_total{job=~"$job",code=~"5.."}[$__rate_interval]))`: {"ifc_api_http_requests_total"},
		`histogram_quantile(0.99, sum by (le, route) (rate(x_bucket[5m])))`:                             {"x_bucket"},
		`a * on (instance, job) group_left (device_id, line) b`:                                         {"a", "b"},
		`sum(a) / sum(b > 0) or vector(1e3)`:                                                            {"a", "b"},
		`1 - sum(a offset 5m) unless b`:                                                                 {"a", "b"},
	}
	for expr, want := range cases {
		got, err := metricNames(expr)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("metricNames(%q) = %q, %v; want %q", expr, got, err, want)
		}
	}
	if _, err := metricNames(`sum(rate(a[5m])`); err == nil {
		t.Error("unbalanced expression accepted")
	}
}

// TestProblemsCatchBrokenDashboards breaks the real dashboard and expects
// the check to say so.
func TestProblemsCatchBrokenDashboards(t *testing.T) {
	known := registeredMetrics(t)
	raw, err := os.ReadFile("ifc-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, old, new, want string }{
		{"renamed metric", "ifc_api_executions_total", "ifc_conductor_executions_total", "ifc_conductor_executions_total is not registered"},
		{"histogram without suffix", "ifc_api_http_request_duration_seconds_bucket", "ifc_api_http_request_duration_bucket", "is not registered"},
		{"variable on a missing metric", "label_values(ifc_api_http_requests_total, job)", "label_values(ifc_api_requests, job)", "variable job"},
		{"unbalanced query", "sum by (outcome) (rate(ifc_edge_captures_total", "sum by (outcome) ((rate(ifc_edge_captures_total", "unbalanced"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !bytes.Contains(raw, []byte(tc.old)) {
				t.Fatalf("dashboard has no %q to break", tc.old)
			}
			broken := bytes.ReplaceAll(raw, []byte(tc.old), []byte(tc.new))
			got := problems(broken, known)
			if !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, tc.want) }) {
				t.Fatalf("problems %q, want one containing %q", got, tc.want)
			}
		})
	}
	var d map[string]any
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	d["panels"] = append(d["panels"].([]any), map[string]any{"id": 1, "type": "timeseries", "title": "dup", "gridPos": map[string]any{"h": 8, "w": 8, "x": 0, "y": 99}})
	broken, _ := json.Marshal(d)
	got := problems(broken, known)
	if !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, "duplicate id") }) ||
		!slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, "no queries") }) {
		t.Fatalf("problems %q, want duplicate id and no queries", got)
	}
}
