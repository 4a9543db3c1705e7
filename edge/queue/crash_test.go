package queue_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/imageflowcanvas/ifc/edge/queue"
	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
)

// Crash child protocol: the test re-executes its own binary with these
// variables set; TestMain then runs crashChild instead of the tests.
const (
	crashChildEnv = "IFC_QUEUE_CRASH_CHILD"
	crashPathEnv  = "IFC_QUEUE_CRASH_PATH"
	crashSeedEnv  = "IFC_QUEUE_CRASH_SEED"
	crashKillsEnv = "IFC_QUEUE_KILLS"
)

var killsFlag = flag.Int("kills", 0, "SIGKILLs in TestCrashSafety (0 = $IFC_QUEUE_KILLS or 30)")

// recordHash identifies a record's content as given to Save (created_at cleared).
func recordHash(r *ifcv1.InspectionRecord) string {
	c := proto.CloneOf(r)
	c.CreatedAt = nil
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// crashOptions are shared by the child and the verifying parent: a small
// soft limit so eviction runs under the kills too.
func crashOptions() queue.Options {
	return queue.Options{
		DeviceID:       testDevice,
		SoftLimitBytes: 2 << 20,
		HardLimitBytes: 1 << 30,
		Logger:         quietLogger(),
	}
}

// crashChild saves records from two goroutines until it is killed, printing
// "saved <record_id> <hash>" only after Save returned nil,
// "synced <record_id>" after MarkSynced returned nil, and likewise
// "override <override_id> <record_id>" and "ovsynced <override_id>".
func crashChild() int {
	seed, _ := strconv.ParseUint(os.Getenv(crashSeedEnv), 10, 64)
	q, err := queue.Open(os.Getenv(crashPathEnv), crashOptions())
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		return 2
	}
	fmt.Println("ready")
	ctx := context.Background()
	fail := make(chan error, 2)
	for w := range 2 {
		go func() {
			g := newGen(seed*4 + uint64(w))
			for i := 0; ; i++ {
				res := ok
				if g.rng.IntN(4) == 0 {
					res = ng
				}
				sizes := make([]int, 1+g.rng.IntN(2))
				for j := range sizes {
					sizes[j] = 1000 + g.rng.IntN(64<<10)
				}
				captured := t0.Add(time.Duration(g.rng.IntN(1_000_000)) * time.Second)
				r, im := g.record(res, captured, sizes...)
				if err := q.Save(ctx, r, im); err != nil {
					fail <- err
					return
				}
				// One write syscall per line: atomic on a pipe, never interleaved.
				fmt.Printf("saved %s %s\n", r.RecordId, recordHash(r))
				if i%3 == 0 {
					if err := q.MarkSynced(ctx, r.RecordId, time.Now()); err != nil {
						fail <- err
						return
					}
					fmt.Printf("synced %s\n", r.RecordId)
				}
				if i%4 == 1 {
					o := g.override(r, time.Now())
					if err := q.SaveOverride(ctx, o); err != nil {
						fail <- err
						return
					}
					fmt.Printf("override %s %s\n", o.OverrideId, r.RecordId)
					if i%8 == 1 {
						if err := q.MarkOverrideSynced(ctx, o.OverrideId, time.Now()); err != nil {
							fail <- err
							return
						}
						fmt.Printf("ovsynced %s\n", o.OverrideId)
					}
				}
			}
		}()
	}
	select {
	case err := <-fail:
		fmt.Fprintln(os.Stderr, "child:", err)
		return 3
	case <-time.After(60 * time.Second): // the parent should have killed us long ago
		fmt.Fprintln(os.Stderr, "child: not killed")
		return 4
	}
}

func crashKills(t *testing.T) int {
	if *killsFlag > 0 {
		return *killsFlag
	}
	if v := os.Getenv(crashKillsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("%s=%q is not a positive count", crashKillsEnv, v)
		}
		return n
	}
	if testing.Short() {
		return 10
	}
	return 30
}

// TestCrashSafety SIGKILLs a writer process at random points and checks
// after every kill that each record it reported saved is present and
// intact, each record it reported synced is synced, and the file passes
// bbolt's and the queue's consistency checks. Run many more kills with
// -kills=N or IFC_QUEUE_KILLS=N.
func TestCrashSafety(t *testing.T) {
	kills := crashKills(t)
	path := filepath.Join(t.TempDir(), "crash.db")
	seed := uint64(20261127)
	rng := rand.New(rand.NewPCG(seed, 1))
	saved := map[string]string{} // record id -> hash
	synced := map[string]bool{}
	overrides := map[string]string{} // override id -> record id
	var midRun, lines int
	start := time.Now()
	for k := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(),
			crashChildEnv+"=1", crashPathEnv+"="+path, crashSeedEnv+"="+strconv.Itoa(k))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var (
			wg       sync.WaitGroup
			got      []string
			scanErr  error
			readyAt  = make(chan struct{})
			sawReady bool
		)
		wg.Go(func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if sc.Text() == "ready" && !sawReady {
					sawReady = true
					close(readyAt)
					continue
				}
				got = append(got, sc.Text())
			}
			scanErr = sc.Err()
		})
		// Kill at a random point: mostly while saving, sometimes during Open.
		delay := time.Duration(rng.IntN(250)) * time.Millisecond
		if rng.IntN(6) == 0 {
			time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
		} else {
			select {
			case <-readyAt:
			case <-time.After(10 * time.Second):
				t.Fatalf("kill %d: child not ready: %s", k, stderr.String())
			}
			time.Sleep(delay)
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatalf("kill %d: %v", k, err)
		}
		wg.Wait()
		werr := cmd.Wait()
		var exitErr *exec.ExitError
		if !errors.As(werr, &exitErr) || exitErr.ExitCode() != -1 {
			t.Fatalf("kill %d: child ended with %v before the kill: %s", k, werr, stderr.String())
		}
		if scanErr != nil {
			t.Fatalf("kill %d: read child output: %v", k, scanErr)
		}
		if len(got) > 0 {
			midRun++
		}
		for _, line := range got {
			f := strings.Fields(line)
			switch {
			case len(f) == 3 && f[0] == "saved":
				saved[f[1]] = f[2]
			case len(f) == 2 && f[0] == "synced":
				synced[f[1]] = true
			case len(f) == 3 && f[0] == "override":
				overrides[f[1]] = f[2]
			case len(f) == 2 && f[0] == "ovsynced":
				synced[f[1]] = true // override ids never collide with record ids
			default:
				t.Fatalf("kill %d: unexpected child line %q", k, line)
			}
			lines++
		}
		verifyAfterCrash(t, path, k, saved, synced)
		verifyOverridesAfterCrash(t, path, k, overrides, synced)
	}
	t.Logf("crash safety: %d SIGKILLs (%d while saving), %d records and %d overrides reported saved, %d synced, all intact; %s",
		kills, midRun, len(saved), len(overrides), len(synced), time.Since(start).Round(time.Millisecond))
	if len(saved) == 0 || len(overrides) == 0 {
		t.Errorf("no child ever saved a record and an override; the test proved nothing")
	}
}

func verifyAfterCrash(t *testing.T, path string, k int, saved map[string]string, synced map[string]bool) {
	t.Helper()
	ctx := context.Background()
	q, err := queue.Open(path, crashOptions())
	if err != nil {
		t.Fatalf("kill %d: reopen: %v", k, err)
	}
	defer q.Close()
	if err := q.Check(ctx); err != nil {
		t.Fatalf("kill %d: %v", k, err)
	}
	for id, hash := range saved {
		rec, err := q.Get(ctx, id)
		if err != nil {
			t.Fatalf("kill %d: saved record %s: %v", k, id, err)
		}
		if got := recordHash(rec); got != hash {
			t.Fatalf("kill %d: record %s content hash %s, child saved %s", k, id, got, hash)
		}
		st, err := q.Status(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if synced[id] && !st.Synced {
			t.Fatalf("kill %d: record %s was reported synced but is not", k, id)
		}
		for i, ref := range rec.GetImages() {
			img, err := q.Image(ctx, ref.GetSha256()) // re-verifies the sha256
			switch {
			case err == nil && int64(len(img)) == ref.GetSize():
			case errors.Is(err, queue.ErrNotFound) && st.Evicted && st.Synced &&
				rec.GetVerdict().GetResult() == ok:
			default:
				t.Fatalf("kill %d: record %s image %d: %d bytes, %v (status %+v)", k, id, i, len(img), err, st)
			}
		}
	}
}

// verifyOverridesAfterCrash checks that every override the child reported
// saved is stored under its record, and every one reported synced has left
// the override outbox.
func verifyOverridesAfterCrash(t *testing.T, path string, k int, overrides map[string]string, synced map[string]bool) {
	t.Helper()
	ctx := context.Background()
	q, err := queue.Open(path, crashOptions())
	if err != nil {
		t.Fatalf("kill %d: reopen: %v", k, err)
	}
	defer q.Close()
	pending, err := q.PendingOverrides(ctx, queue.MaxPendingLimit)
	if err != nil {
		t.Fatalf("kill %d: %v", k, err)
	}
	isPending := map[string]bool{}
	for _, o := range pending {
		isPending[o.GetOverrideId()] = true
	}
	for id, rid := range overrides {
		os, err := q.Overrides(ctx, rid)
		if err != nil {
			t.Fatalf("kill %d: overrides of %s: %v", k, rid, err)
		}
		if len(os) != 1 || os[0].GetOverrideId() != id {
			t.Fatalf("kill %d: record %s has overrides %v, want %s", k, rid, os, id)
		}
		if synced[id] && isPending[id] {
			t.Fatalf("kill %d: override %s was reported synced but is pending", k, id)
		}
	}
}
