// Package grafana holds no code: deploy/grafana/ifc-dashboard.json is the
// Grafana dashboard over the Prometheus metrics the ifc processes expose,
// and this package's test checks that every query in it names only metrics
// the code really registers (found by scanning the source for
// prometheus.*Opts literals), so a renamed metric cannot leave a dead panel.
package grafana
