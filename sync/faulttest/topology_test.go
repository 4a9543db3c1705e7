package faulttest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// nsPrefix starts the name of every namespace the harness creates; the
// creating test process's pid follows, so stale ones are recognisable.
const nsPrefix = "ifc-f-"

// Fixed ports inside the namespaces (each run has its own namespaces).
const (
	cloudHTTPPort    = 8080
	cloudGRPCPort    = 9090
	edgeHTTPPort     = 8081
	proxyPort        = 19090
	proxyControlPort = 19091
)

// topology says where everything listens and how the data link is cut.
//
// netns mode:
//
//	root ns (test) ──ctl veth 10.78.n.1/.2── ifc-f-cloud-PID : cloud :8080 REST, :9090 gRPC
//	root ns (test) ──ctl veth 10.78.n.5/.6── ifc-f-edge-PID  : edge :8081, proxy 127.0.0.1:19090, proxy ctl :19091
//	ifc-f-cloud-PID 10.77.n.1 ══data veth══ 10.77.n.2 ifc-f-edge-PID   (cut and shaped)
//
// loopback mode: everything on 127.0.0.1, the proxy (in the test process)
// stands in for the link.
type topology struct {
	netns            bool
	cloudNS, edgeNS  string // "" on loopback
	vethCloud        string // data veth, cloud end (in cloudNS)
	vethEdge         string // data veth, edge end (in edgeNS)
	cloudHTTPListen  string // cloud --http-addr
	cloudGRPCListen  string // cloud --grpc-addr
	cloudHTTP        string // cloud REST as reached from the test
	cloudGRPC        string // cloud gRPC as reached from the proxy
	edgeHTTPListen   string // edge http_addr
	edgeHTTP         string // edge local API as reached from the test
	proxyListen      string // where the edge dials the cloud (cloud_addr)
	proxyControl     string // proxy control API as reached from the test
	proxyControlBind string // proxy control listen address
}

// sh runs a command and returns its error with the combined output.
func sh(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// removeStaleNamespaces deletes namespaces left by a killed earlier run
// (their creating pid is gone); namespaces of a live run are left alone.
func removeStaleNamespaces(logf func(string, ...any)) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		if !strings.HasPrefix(name, nsPrefix) {
			continue
		}
		pid, err := strconv.Atoi(name[strings.LastIndex(name, "-")+1:])
		if err == nil && pid != os.Getpid() {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
				continue // its run is still alive
			}
		}
		logf("removing stale namespace %s", name)
		_ = sh("ip", "netns", "del", name)
	}
}

// newTopology builds the namespaces and veths, or falls back to loopback
// when that is not permitted. Cleanup deletes them even after a failure.
func newTopology(t *testing.T, logf func(string, ...any)) *topology {
	t.Helper()
	pid := os.Getpid()
	n := pid%250 + 1
	tp := &topology{
		netns:     true,
		cloudNS:   fmt.Sprintf("%scloud-%d", nsPrefix, pid),
		edgeNS:    fmt.Sprintf("%sedge-%d", nsPrefix, pid),
		vethCloud: fmt.Sprintf("fd%dc", pid),
		vethEdge:  fmt.Sprintf("fd%de", pid),
	}
	removeStaleNamespaces(logf)
	if os.Getenv("IFC_FAULTS_LOOPBACK") == "1" {
		logf("IFC_FAULTS_LOOPBACK=1: running on loopback; the fault proxy's blackhole stands in for the link cut and the link is not rate-shaped")
		tp.netns = false
		return loopbackTopology(t)
	}
	t.Cleanup(func() {
		for _, ns := range []string{tp.cloudNS, tp.edgeNS} {
			if err := sh("ip", "netns", "del", ns); err != nil && tp.netns {
				t.Logf("cleanup: %v", err)
			}
		}
	})
	data := func(end int) string { return fmt.Sprintf("10.77.%d.%d", n, end) }
	ctl := func(end int) string { return fmt.Sprintf("10.78.%d.%d", n, end) }
	steps := [][]string{
		{"ip", "netns", "add", tp.cloudNS},
		{"ip", "netns", "add", tp.edgeNS},
		{"ip", "-n", tp.cloudNS, "link", "set", "lo", "up"},
		{"ip", "-n", tp.edgeNS, "link", "set", "lo", "up"},
		// The data link: the one that is cut and shaped.
		{"ip", "link", "add", tp.vethCloud, "netns", tp.cloudNS, "type", "veth", "peer", "name", tp.vethEdge, "netns", tp.edgeNS},
		{"ip", "-n", tp.cloudNS, "addr", "add", data(1) + "/24", "dev", tp.vethCloud},
		{"ip", "-n", tp.edgeNS, "addr", "add", data(2) + "/24", "dev", tp.vethEdge},
		{"ip", "-n", tp.cloudNS, "link", "set", tp.vethCloud, "up"},
		{"ip", "-n", tp.edgeNS, "link", "set", tp.vethEdge, "up"},
	}
	// Control links from the root namespace, never cut.
	for i, ns := range []string{tp.cloudNS, tp.edgeNS} {
		root, inner := fmt.Sprintf("fc%d%d", pid, 2*i), fmt.Sprintf("fc%d%d", pid, 2*i+1)
		steps = append(steps,
			[]string{"ip", "link", "add", root, "type", "veth", "peer", "name", inner, "netns", ns},
			[]string{"ip", "addr", "add", ctl(4*i+1) + "/30", "dev", root},
			[]string{"ip", "-n", ns, "addr", "add", ctl(4*i+2) + "/30", "dev", inner},
			[]string{"ip", "link", "set", root, "up"},
			[]string{"ip", "-n", ns, "link", "set", inner, "up"},
		)
	}
	for _, s := range steps {
		if err := sh(s...); err != nil {
			logf("NETWORK NAMESPACES NOT AVAILABLE (%v): falling back to loopback; the fault proxy's blackhole stands in for the link cut and the link is not rate-shaped", err)
			tp.netns = false
			for _, ns := range []string{tp.cloudNS, tp.edgeNS} {
				_ = sh("ip", "netns", "del", ns)
			}
			return loopbackTopology(t)
		}
	}
	hp := func(h string, p int) string { return net.JoinHostPort(h, strconv.Itoa(p)) }
	tp.cloudHTTPListen, tp.cloudGRPCListen = hp("0.0.0.0", cloudHTTPPort), hp("0.0.0.0", cloudGRPCPort)
	tp.cloudHTTP, tp.cloudGRPC = hp(ctl(2), cloudHTTPPort), hp(data(1), cloudGRPCPort)
	tp.edgeHTTPListen, tp.edgeHTTP = hp("0.0.0.0", edgeHTTPPort), hp(ctl(6), edgeHTTPPort)
	tp.proxyListen = hp("127.0.0.1", proxyPort)
	tp.proxyControlBind, tp.proxyControl = hp(ctl(6), proxyControlPort), hp(ctl(6), proxyControlPort)
	logf("topology: netns %s (cloud REST %s, gRPC %s) and %s (edge %s, proxy %s → %s, proxy control %s); data veth %s/%s",
		tp.cloudNS, tp.cloudHTTP, tp.cloudGRPC, tp.edgeNS, tp.edgeHTTP, tp.proxyListen, tp.cloudGRPC, tp.proxyControl, tp.vethCloud, tp.vethEdge)
	return tp
}

// loopbackTopology puts everything on 127.0.0.1 with free ports.
func loopbackTopology(t *testing.T) *topology {
	t.Helper()
	free := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	tp := &topology{}
	tp.cloudHTTPListen = free()
	tp.cloudGRPCListen = free()
	tp.edgeHTTPListen = free()
	tp.proxyListen = free()
	tp.proxyControlBind = free()
	tp.cloudHTTP, tp.cloudGRPC, tp.edgeHTTP, tp.proxyControl = tp.cloudHTTPListen, tp.cloudGRPCListen, tp.edgeHTTPListen, tp.proxyControlBind
	return tp
}

// inNS prefixes a command so it runs in namespace ns (as is on loopback).
func (tp *topology) inNS(ns string, args ...string) []string {
	if !tp.netns {
		return args
	}
	return append([]string{"ip", "netns", "exec", ns}, args...)
}

// setLink sets both ends of the data veth up or down.
func (tp *topology) setLink(up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	if err := sh("ip", "-n", tp.edgeNS, "link", "set", tp.vethEdge, state); err != nil {
		return err
	}
	return sh("ip", "-n", tp.cloudNS, "link", "set", tp.vethCloud, state)
}

// shape limits both ends of the data veth to rate (tc syntax, e.g. 16mbit)
// with a token bucket; an empty rate removes the shaping.
func (tp *topology) shape(rate string) error {
	for _, end := range [][2]string{{tp.edgeNS, tp.vethEdge}, {tp.cloudNS, tp.vethCloud}} {
		var err error
		if rate == "" {
			err = sh("ip", "netns", "exec", end[0], "tc", "qdisc", "del", "dev", end[1], "root")
		} else {
			err = sh("ip", "netns", "exec", end[0], "tc", "qdisc", "replace", "dev", end[1], "root", "tbf", "rate", rate, "burst", "64kb", "latency", "200ms")
		}
		if err != nil {
			return err
		}
	}
	return nil
}
