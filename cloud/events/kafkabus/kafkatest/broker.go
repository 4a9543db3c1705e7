// Package kafkatest runs a private Apache Kafka broker for one test, from
// the jars deploy/dev/kafka caches, so a test can stop and restart it
// without disturbing the shared broker other tests use.
package kafkatest

import (
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
)

// Broker is a Kafka broker of one test's own (KRaft, broker+controller in
// one JVM, auto topic creation on), in a temporary directory on two free
// loopback ports.
type Broker struct {
	t                  testing.TB
	libs, dir, logPath string
	port, controller   int
	cmd                *exec.Cmd
	exited             chan struct{}
}

// kafkaLibs finds the broker jars: $IFC_KAFKA_LIBS, else the newest
// complete $IFC_CACHE/kafka/<version>/libs. Missing jars follow the same
// rule as a missing broker URL.
func kafkaLibs(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("IFC_KAFKA_LIBS"); d != "" {
		return d
	}
	cache := os.Getenv("IFC_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "ifc")
	}
	marks, _ := filepath.Glob(filepath.Join(cache, "kafka", "*", ".complete"))
	sort.Strings(marks)
	if len(marks) > 0 {
		return filepath.Join(filepath.Dir(marks[len(marks)-1]), "libs")
	}
	msg := "no Kafka jars under " + cache + "/kafka; run `deploy/dev/kafka install`"
	if os.Getenv("IFC_REQUIRE_BACKENDS") == "1" {
		t.Fatal(msg + " (IFC_REQUIRE_BACKENDS=1)")
	}
	t.Skip(msg)
	return ""
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start formats storage in a temporary directory, starts the broker and
// waits until it accepts connections; it is stopped at the test's end.
// Without cached jars the test skips, or fails with IFC_REQUIRE_BACKENDS=1.
func Start(t testing.TB) *Broker {
	t.Helper()
	if _, err := exec.LookPath("java"); err != nil {
		t.Fatalf("java is needed for the private broker: %v", err)
	}
	b := &Broker{t: t, libs: kafkaLibs(t), dir: t.TempDir(), port: freePort(t), controller: freePort(t)}
	b.logPath = filepath.Join(b.dir, "kafka.log")
	props := fmt.Sprintf(`process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:%[2]d
listeners=PLAINTEXT://127.0.0.1:%[1]d,CONTROLLER://127.0.0.1:%[2]d
advertised.listeners=PLAINTEXT://127.0.0.1:%[1]d
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=%[3]s
num.partitions=3
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
`, b.port, b.controller, filepath.Join(b.dir, "data"))
	if err := os.WriteFile(b.path("server.properties"), []byte(props), 0o644); err != nil {
		t.Fatal(err)
	}
	log4j := "Configuration:\n  Appenders:\n    Console:\n      name: OUT\n      PatternLayout:\n        pattern: \"[%d] %p %m (%c)%n\"\n" +
		"  Loggers:\n    Root:\n      level: INFO\n      AppenderRef:\n        - ref: OUT\n"
	if err := os.WriteFile(b.path("log4j2.yaml"), []byte(log4j), 0o644); err != nil {
		t.Fatal(err)
	}
	// A Kafka cluster id is 16 random bytes in unpadded URL-safe base64;
	// one starting with '-' would be read as an option by StorageTool.
	cluster := "-"
	for strings.HasPrefix(cluster, "-") {
		id := uuid.New()
		cluster = base64.RawURLEncoding.EncodeToString(id[:])
	}
	out, err := b.java("kafka.tools.StorageTool", "format", "-t", cluster, "-c", b.path("server.properties")).CombinedOutput()
	if err != nil {
		t.Fatalf("format storage: %v\n%s", err, tail(string(out)))
	}
	b.start()
	t.Cleanup(b.Stop)
	return b
}

func (b *Broker) path(name string) string { return filepath.Join(b.dir, name) }

func (b *Broker) java(args ...string) *exec.Cmd {
	base := []string{"-Xms64m", "-Xmx256m", "-cp", b.libs + "/*", "-Dlog4j2.configurationFile=" + b.path("log4j2.yaml")}
	return exec.Command("java", append(base, args...)...)
}

// URL returns the broker's kafka:// URL.
func (b *Broker) URL() string { return fmt.Sprintf("kafka://127.0.0.1:%d", b.port) }

// Restart starts the broker again after Stop, on the same ports and data.
func (b *Broker) Restart() { b.t.Helper(); b.start() }

// start runs the broker and waits until it logs that it started and its
// port accepts connections.
func (b *Broker) start() {
	b.t.Helper()
	logf, err := os.OpenFile(b.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		b.t.Fatal(err)
	}
	offset, _ := logf.Seek(0, 2)
	b.cmd = b.java("kafka.Kafka", b.path("server.properties"))
	b.cmd.Stdout, b.cmd.Stderr = logf, logf
	if err := b.cmd.Start(); err != nil {
		logf.Close()
		b.t.Fatalf("start broker: %v", err)
	}
	b.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		_ = cmd.Wait()
		logf.Close()
		close(exited)
	}(b.cmd, b.exited)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case <-b.exited:
			b.t.Fatalf("broker exited during start:\n%s", b.logTail())
		default:
		}
		data, _ := os.ReadFile(b.logPath)
		if int64(len(data)) > offset && strings.Contains(string(data[offset:]), "Kafka Server started") {
			if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", b.port), time.Second); err == nil {
				c.Close()
				return
			}
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("broker not ready after 2m:\n%s", b.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop shuts the broker down (SIGTERM, then SIGKILL after 30 s) and
// waits for the process to exit. It is idempotent.
func (b *Broker) Stop() {
	if b.cmd == nil {
		return
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.exited:
	case <-time.After(30 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.exited
	}
	b.cmd = nil
}

func (b *Broker) logTail() string {
	data, _ := os.ReadFile(b.logPath)
	return tail(string(data))
}

func tail(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}
