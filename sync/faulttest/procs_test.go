package faulttest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"
)

// moduleRoot walks up from the working directory to the directory holding go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// buildBinary builds cmd/ifc once into dir.
func buildBinary(t *testing.T, dir string, logf func(string, ...any)) string {
	t.Helper()
	bin := filepath.Join(dir, "ifc")
	root := moduleRoot(t)
	start := time.Now()
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/ifc")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/ifc in %s: %v\n%s", root, err, out)
	}
	logf("built %s in %s", bin, time.Since(start).Round(time.Millisecond))
	return bin
}

// proc is one long-running child process (cloud, edge or proxy) that the
// harness kills and restarts; each incarnation logs to its own file.
type proc struct {
	name   string
	args   []string
	env    []string
	logDir string
	logf   func(string, ...any)

	mu       sync.Mutex
	n        int // incarnation, from 1
	cmd      *exec.Cmd
	done     chan struct{}
	stopping bool
	exitErr  error
	logPath  string
	crashes  []string // unexpected exits
}

// start starts a new incarnation; the previous one must have exited.
func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	p.logPath = filepath.Join(p.logDir, fmt.Sprintf("%s-%d.log", p.name, p.n))
	f, err := os.Create(p.logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = f, f
	// The child dies with the test process, so a killed run leaves nothing running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.cmd, p.done, p.stopping = cmd, make(chan struct{}), false
	done, n := p.done, p.n
	go func() {
		err := cmd.Wait()
		f.Close()
		p.mu.Lock()
		p.exitErr = err
		if !p.stopping {
			msg := fmt.Sprintf("%s #%d exited on its own: %v (log %s)", p.name, n, err, p.logPath)
			p.crashes = append(p.crashes, msg)
			p.logf("UNEXPECTED: %s", msg)
		}
		p.mu.Unlock()
		close(done)
	}()
	p.logf("started %s #%d (pid %d): %v", p.name, p.n, cmd.Process.Pid, p.args)
	return nil
}

// running reports whether the current incarnation is alive.
func (p *proc) running() bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// stop signals the current incarnation and waits for it; after grace it is
// killed. It is a no-op when nothing runs.
func (p *proc) stop(sig syscall.Signal, grace time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.stopping = true
	n := p.n
	p.mu.Unlock()
	if cmd == nil || done == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	start := time.Now()
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(grace):
		p.logf("%s #%d did not exit %s after %v; killing it", p.name, n, grace, sig)
		_ = cmd.Process.Kill()
		<-done
	}
	p.mu.Lock()
	err := p.exitErr
	p.mu.Unlock()
	p.logf("stopped %s #%d with %v in %s (%v)", p.name, n, sig, time.Since(start).Round(time.Millisecond), err)
}

// incarnation is the number of the current (or last) incarnation.
func (p *proc) incarnation() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// unexpected lists exits nobody asked for.
func (p *proc) unexpected() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.crashes...)
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// printLogTails logs the tails of the last two incarnations of every process.
func printLogTails(t *testing.T, logDir string, lines int) {
	paths, _ := filepath.Glob(filepath.Join(logDir, "*.log"))
	byName := map[string][]string{}
	for _, p := range paths {
		base := filepath.Base(p)
		name := base[:bytes.LastIndexByte([]byte(base), '-')]
		byName[name] = append(byName[name], p)
	}
	for name, ps := range byName {
		sort.Slice(ps, func(i, j int) bool { return modTime(ps[i]).Before(modTime(ps[j])) })
		if len(ps) > 2 {
			ps = ps[len(ps)-2:]
		}
		for _, p := range ps {
			t.Logf("---- %s: last %d lines of %s ----\n%s", name, lines, p, tail(p, lines))
		}
	}
}

func modTime(p string) time.Time {
	st, err := os.Stat(p)
	if err != nil {
		return time.Time{}
	}
	return st.ModTime()
}
