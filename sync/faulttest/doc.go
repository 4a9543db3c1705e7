// Package faulttest is the end-to-end fault harness for sync: it runs the
// cloud and an edge agent as separate processes (the ifc binary) in two
// network namespaces joined by a veth pair, cuts and shapes that link, kills
// and restarts both ends while an inspector driver keeps saving inspections,
// and then proves every acknowledged record reached the cloud exactly once
// with a byte-identical image. Delay and stalls come from sync/faultproxy
// (the kernel lacks netem). Without permission for namespaces it falls back
// to loopback with the proxy alone, and says so. See docs/faults.md.
package faulttest
