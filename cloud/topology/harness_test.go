package topology

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/segmentio/kafka-go"

	"github.com/imageflowcanvas/ifc/cloud/events/kafkabus"
	"github.com/imageflowcanvas/ifc/cloud/objectstore/s3store"
	"github.com/imageflowcanvas/ifc/models/synth"
)

const adminPassword = "topology test password"

// backends are the real servers' URLs from deploy/dev/backends start.
type backends struct {
	postgres, minio, kafka, triton string
}

// requireBackends reads the IFC_TEST_*_URL variables. A missing one skips
// the test, or fails it when IFC_REQUIRE_BACKENDS=1 (CI).
func requireBackends(t testing.TB) backends {
	t.Helper()
	b := backends{
		postgres: os.Getenv("IFC_TEST_POSTGRES_URL"),
		minio:    os.Getenv("IFC_TEST_MINIO_URL"),
		kafka:    os.Getenv("IFC_TEST_KAFKA_URL"),
		triton:   os.Getenv("IFC_TEST_TRITON_URL"),
	}
	var missing []string
	for _, v := range []struct{ name, url string }{{"IFC_TEST_POSTGRES_URL", b.postgres}, {"IFC_TEST_MINIO_URL", b.minio},
		{"IFC_TEST_KAFKA_URL", b.kafka}, {"IFC_TEST_TRITON_URL", b.triton}} {
		if v.url == "" {
			missing = append(missing, v.name)
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("%s unset; start the servers with: eval \"$(deploy/dev/backends start)\"", strings.Join(missing, ", "))
		if os.Getenv("IFC_REQUIRE_BACKENDS") == "1" {
			t.Fatal(msg + " (IFC_REQUIRE_BACKENDS=1)")
		}
		t.Skip(msg)
	}
	return b
}

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

// TestMain removes the binary built for the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// ifcBinary builds ./cmd/ifc once per run and returns its path.
func ifcBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == os.DevNull {
			buildErr = fmt.Errorf("find module root: go env GOMOD: %q %v", out, err)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(out)))
		if buildDir, buildErr = os.MkdirTemp("", "ifc-topology-"); buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "ifc")
		cmd := exec.Command("go", "build", "-o", buildBin, "./cmd/ifc")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/ifc: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// freePort returns a loopback address nothing listens on right now.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// proc is one child process of the topology.
type proc struct {
	name    string
	args    []string
	env     []string
	logPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd exits
}

func (p *proc) start(t testing.TB, bin string) {
	t.Helper()
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(logf, "=== start %s %s\n", bin, strings.Join(p.args, " "))
	cmd := exec.Command(bin, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(logf, "=== exit: %v\n", err)
		logf.Close()
		close(done)
	}()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
}

// stop sends sig and waits for the exit, killing the process when it has
// not exited within grace.
func (p *proc) stop(sig syscall.Signal, grace time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// logTail returns the last n lines of the process's log.
func (p *proc) logTail(n int) string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// topology is the distributed cloud tier: a resize+filter worker, a detect
// worker on Triton and API replicas A and B, sharing one schema, bucket
// and event topic.
type topology struct {
	t   testing.TB
	dir string
	bin string

	metadataURL, objectsURL, eventsURL string
	schema, bucket                     string
	pg                                 *sql.DB
	minio                              *minio.Client

	imageOps, detect, apiA, apiB *proc
	imageOpsAddr, detectAddr     string
	a, b                         *client
}

var runID = fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())

// options vary a topology; zero values are the topology.
type options struct {
	eventsURL     string   // "" means Kafka with a fresh topic
	detectBackend string   // "" means Triton (IFC_TEST_TRITON_URL)
	env           []string // extra IFC_* settings for every process
}

// startTopology starts the four processes against the real servers with
// fresh names.
func startTopology(t testing.TB, be backends, opts options) *topology {
	t.Helper()
	tp := &topology{t: t, dir: t.TempDir(), bin: ifcBinary(t)}
	tp.metadataURL = tp.freshSchema(be.postgres)
	tp.objectsURL = tp.freshBucket(be.minio)
	eventsURL := opts.eventsURL
	if eventsURL == "" {
		sep := "?"
		if strings.Contains(be.kafka, "?") {
			sep = "&"
		}
		topic := "ifc.topology." + runID + "-" + fmt.Sprint(time.Now().UnixNano())
		eventsURL = be.kafka + sep + "topic=" + topic
		tp.deleteTopicAtEnd(be.kafka, topic)
	}
	tp.eventsURL = eventsURL

	keyFile := filepath.Join(tp.dir, "token.key")
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	shared := []string{
		"IFC_METADATA_URL=" + tp.metadataURL,
		"IFC_OBJECTS_URL=" + tp.objectsURL,
		"IFC_EVENTS_URL=" + tp.eventsURL,
		"IFC_TOKEN_KEY_FILE=" + keyFile,
		"IFC_ADMIN_PASSWORD=" + adminPassword,
		"IFC_DETECT_BACKEND=" + cmp.Or(opts.detectBackend, be.triton),
		"IFC_LOG_LEVEL=info",
	}
	shared = append(shared, opts.env...)
	newProc := func(name string, args ...string) *proc {
		env := append([]string{"IFC_DATA_DIR=" + filepath.Join(tp.dir, name)}, shared...)
		return &proc{name: name, args: args, env: env, logPath: filepath.Join(tp.dir, name+".log")}
	}
	tp.imageOpsAddr, tp.detectAddr = freePort(t), freePort(t)
	tp.imageOps = newProc("worker-resize-filter", "cloud", "worker", "--parts", "resize,filter", "--grpc-addr", tp.imageOpsAddr)
	tp.detect = newProc("worker-detect", "cloud", "worker", "--parts", "detect", "--grpc-addr", tp.detectAddr)
	endpoints := fmt.Sprintf("resize=%s,filter=%s,detect=%s", tp.imageOpsAddr, tp.imageOpsAddr, tp.detectAddr)
	httpA, httpB := freePort(t), freePort(t)
	tp.apiA = newProc("api-a", "cloud", "api", "--part-endpoints", endpoints, "--http-addr", httpA, "--grpc-addr", freePort(t))
	tp.apiB = newProc("api-b", "cloud", "api", "--part-endpoints", endpoints, "--http-addr", httpB, "--grpc-addr", freePort(t))

	all := []*proc{tp.imageOps, tp.detect, tp.apiA, tp.apiB}
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, p := range all {
			wg.Add(1)
			go func() { defer wg.Done(); p.stop(syscall.SIGTERM, 10*time.Second) }()
		}
		wg.Wait()
		if t.Failed() {
			for _, p := range all {
				t.Logf("--- %s log (%s), last lines:\n%s", p.name, p.logPath, p.logTail(40))
			}
		}
	})

	tp.imageOps.start(t, tp.bin)
	tp.detect.start(t, tp.bin)
	// A first: both replicas would otherwise race to create the admin user
	// and to migrate the fresh schema.
	tp.apiA.start(t, tp.bin)
	tp.waitTCP(tp.imageOps, tp.imageOpsAddr)
	tp.waitTCP(tp.detect, tp.detectAddr)
	tp.a = &client{t: t, name: "A", base: "http://" + httpA}
	tp.waitReady(tp.apiA, tp.a)
	tp.apiB.start(t, tp.bin)
	tp.b = &client{t: t, name: "B", base: "http://" + httpB}
	tp.waitReady(tp.apiB, tp.b)

	// One login on A; the token works on B because the replicas share the key.
	tp.a.token = tp.a.login()
	tp.b.token = tp.a.token
	return tp
}

const startTimeout = 40 * time.Second

// waitTCP polls until p accepts connections on addr.
func (tp *topology) waitTCP(p *proc, addr string) {
	tp.t.Helper()
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		if p.exited() {
			tp.t.Fatalf("%s exited during start:\n%s", p.name, p.logTail(30))
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	tp.t.Fatalf("%s never accepted connections on %s:\n%s", p.name, addr, p.logTail(30))
}

// waitReady polls /readyz (stores reachable, event subscription live).
func (tp *topology) waitReady(p *proc, c *client) {
	tp.t.Helper()
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		if p.exited() {
			tp.t.Fatalf("%s exited during start:\n%s", p.name, p.logTail(30))
		}
		resp, err := http.Get(c.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	tp.t.Fatalf("%s never became ready:\n%s", p.name, p.logTail(30))
}

// freshSchema creates a schema of this run, dropped at the end, and returns
// the server URL with search_path pointing at it.
func (tp *topology) freshSchema(base string) string {
	t := tp.t
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	tp.pg = db
	name := "ifctopo_" + strings.ReplaceAll(runID, "-", "_") + fmt.Sprintf("_%d", time.Now().UnixNano()%1e9)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+name); err != nil {
		db.Close()
		t.Fatalf("create schema %s: %v", name, err)
	}
	// Registered before the processes' cleanup, so it runs after they stop.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
		db.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	tp.schema = name
	return u.String()
}

// freshBucket returns the MinIO URL with a bucket of this run (the store
// creates it), removed with its contents at the end.
func (tp *topology) freshBucket(base string) string {
	t := tp.t
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/ifc-topo-" + fmt.Sprint(time.Now().UnixNano())
	cfg, err := s3store.ParseURL(u)
	if err != nil {
		t.Fatalf("IFC_TEST_MINIO_URL: %v", err)
	}
	tp.bucket = cfg.Bucket
	tp.minio, err = minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.Secure,
		Region: cfg.Region,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if ok, _ := tp.minio.BucketExists(ctx, tp.bucket); !ok {
			return
		}
		if err := tp.minio.RemoveBucketWithOptions(ctx, tp.bucket, minio.RemoveBucketOptions{ForceDelete: true}); err != nil {
			t.Errorf("remove bucket %s: %v", tp.bucket, err)
		}
	})
	return u.String()
}

// deleteTopicAtEnd removes the run's Kafka topic after the processes stop
// (the API creates it). A failure is logged, not fatal: the broker's data
// is wiped by the next deploy/dev/kafka start anyway.
func (tp *topology) deleteTopicAtEnd(kafkaURL, topic string) {
	cfg, err := kafkabus.ParseURL(kafkaURL)
	if err != nil {
		tp.t.Fatalf("IFC_TEST_KAFKA_URL: %v", err)
	}
	tp.t.Cleanup(func() {
		conn, err := kafka.Dial("tcp", cfg.Brokers[0])
		if err != nil {
			tp.t.Logf("delete topic %s: %v", topic, err)
			return
		}
		defer conn.Close()
		if err := conn.DeleteTopics(topic); err != nil {
			tp.t.Logf("delete topic %s: %v", topic, err)
		}
	})
}

// client drives one API replica over REST and WebSocket.
type client struct {
	t     testing.TB
	name  string
	base  string
	token string
}

func (c *client) login() string {
	c.t.Helper()
	var out struct {
		Token string `json:"token"`
	}
	c.do("POST", "/api/v1/auth/login", "application/json",
		fmt.Sprintf(`{"username":"admin","password":%q}`, adminPassword), http.StatusOK, &out)
	if out.Token == "" {
		c.t.Fatal("login returned no token")
	}
	return out.Token
}

// call sends a request and returns the status and body.
func (c *client) call(method, path, contentType string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("replica %s: %s %s: %w", c.name, method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// do is call that fails the test unless the status is want, decoding JSON into out.
func (c *client) do(method, path, contentType string, body any, want int, out any) []byte {
	c.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	}
	code, data, err := c.call(method, path, contentType, raw)
	if err != nil {
		c.t.Fatal(err)
	}
	if code != want {
		c.t.Fatalf("replica %s: %s %s: status %d, want %d: %s", c.name, method, path, code, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("replica %s: %s %s: decode %q: %v", c.name, method, path, data, err)
		}
	}
	return data
}

// upload posts a JPEG and returns its file id.
func (c *client) upload(data []byte) string {
	c.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "part.jpg")
	fw.Write(data)
	mw.Close()
	var out struct {
		FileID string `json:"file_id"`
	}
	c.do("POST", "/api/v1/files", mw.FormDataContentType(), body.Bytes(), http.StatusCreated, &out)
	if out.FileID == "" {
		c.t.Fatal("upload returned no file_id")
	}
	return out.FileID
}

// createStandardPipeline stores docs/examples/standard.yaml.
func (c *client) createStandardPipeline() string {
	c.t.Helper()
	def, err := os.ReadFile(filepath.Join("..", "..", "docs", "examples", "standard.yaml"))
	if err != nil {
		c.t.Fatal(err)
	}
	var p struct {
		ID string `json:"id"`
	}
	c.do("POST", "/api/v1/pipelines", "application/yaml", def, http.StatusCreated, &p)
	if p.ID == "" {
		c.t.Fatal("create pipeline returned no id")
	}
	return p.ID
}

// submit queues an execution and returns its id.
func (c *client) submit(pipelineID, fileID string) string {
	c.t.Helper()
	var ex executionJSON
	c.do("POST", "/api/v1/executions", "application/json",
		fmt.Sprintf(`{"pipeline_id":%q,"inputs":[%q]}`, pipelineID, fileID), http.StatusAccepted, &ex)
	if ex.ExecutionID == "" {
		c.t.Fatal("no execution_id")
	}
	return ex.ExecutionID
}

// runWait runs an execution with ?wait=true and returns it.
func (c *client) runWait(pipelineID, fileID string) (executionJSON, error) {
	code, data, err := c.call("POST", "/api/v1/executions?wait=true", "application/json",
		[]byte(fmt.Sprintf(`{"pipeline_id":%q,"inputs":[%q]}`, pipelineID, fileID)))
	if err != nil {
		return executionJSON{}, err
	}
	if code != http.StatusOK {
		return executionJSON{}, fmt.Errorf("replica %s: run: status %d: %s", c.name, code, data)
	}
	var ex executionJSON
	if err := json.Unmarshal(data, &ex); err != nil {
		return executionJSON{}, fmt.Errorf("decode execution: %w", err)
	}
	return ex, nil
}

// dialWS opens the replica's WebSocket.
func (c *client) dialWS(ctx context.Context) *websocket.Conn {
	c.t.Helper()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(c.base, "http")+"/api/v1/ws?token="+c.token, nil)
	if err != nil {
		c.t.Fatalf("replica %s: dial websocket: %v", c.name, err)
	}
	ws.SetReadLimit(8 << 20)
	c.t.Cleanup(func() { ws.CloseNow() })
	return ws
}

func subscribe(ctx context.Context, ws *websocket.Conn, executionID string) error {
	return wsjson.Write(ctx, ws, map[string]string{"type": "subscribe", "execution_id": executionID})
}

type detectionJSON struct {
	Label string  `json:"label"`
	Score float32 `json:"score"`
	Box   struct{ X, Y, W, H float32 }
}

type nodeJSON struct {
	NodeID  string `json:"node_id"`
	Status  string `json:"status"`
	Error   string `json:"error"`
	Outputs *struct {
		FileID     string          `json:"file_id"`
		Detections []detectionJSON `json:"detections"`
	} `json:"outputs"`
}

type executionJSON struct {
	ExecutionID string     `json:"execution_id"`
	Status      string     `json:"status"`
	Nodes       []nodeJSON `json:"nodes"`
	Error       string     `json:"error"`
}

func (e executionJSON) node(id string) nodeJSON {
	for _, n := range e.Nodes {
		if n.NodeID == id {
			return n
		}
	}
	return nodeJSON{}
}

// wsMessage is any server → client WebSocket message (cloud/api/doc.go).
type wsMessage struct {
	Type            string    `json:"type"`
	ExecutionID     string    `json:"execution_id"`
	NodeID          string    `json:"node_id"`
	State           string    `json:"state"`
	ExecutionStatus string    `json:"execution_status"`
	Seq             uint64    `json:"seq"`
	TS              time.Time `json:"ts"`
	Error           string    `json:"error"`
	Message         string    `json:"message"`
}

// terminal reports whether m is an execution's final progress event.
func (m wsMessage) terminal() bool {
	return m.Type == "progress" && m.NodeID == "" && isTerminal(m.ExecutionStatus)
}

func isTerminal(status string) bool {
	switch status {
	case "succeeded", "failed", "cancelled", "canceled":
		return true
	}
	return false
}

var errWS = errors.New("websocket error message")

// readWS reads the next message, turning an error message into errWS.
func readWS(ctx context.Context, ws *websocket.Conn) (wsMessage, error) {
	var m wsMessage
	if err := wsjson.Read(ctx, ws, &m); err != nil {
		return m, err
	}
	if m.Type == "error" {
		return m, fmt.Errorf("%w: %s (execution %s)", errWS, m.Message, m.ExecutionID)
	}
	return m, nil
}

// partImage renders a 1920×1080 JPEG of a part with at least one defect.
func partImage(t testing.TB, index int) ([]byte, []synth.Defect) {
	t.Helper()
	for i := index; ; i++ {
		s, err := synth.Generate(4242, i, synth.Options{Width: 1920, Height: 1080, DefectRate: 1, MaxDefects: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Defects) == 0 {
			continue
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, s.Image, &jpeg.Options{Quality: 90}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes(), s.Defects
	}
}
