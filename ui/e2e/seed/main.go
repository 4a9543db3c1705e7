// Command seed fills a running cloud with inspection records the way edge
// devices do — enrollment, image upload and CommitRecord over the real sync
// protocol — for the UI's end-to-end and performance tests (ui/e2e). It
// creates one master per seeded product (without a cloud pipeline, so no
// executions are started) and one device per line.
//
//	go run ./ui/e2e/seed -http http://127.0.0.1:8080 -grpc 127.0.0.1:9090 \
//	    -password ... -records 10000 -image models/prefilter/golden_0.png
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	ifcv1 "github.com/imageflowcanvas/ifc/proto/ifc/v1"
	"github.com/imageflowcanvas/ifc/sync/device"
)

var (
	products = []string{"SEED-BRACKET", "SEED-PCB", "SEED-HOUSING"}
	lines    = []string{"L1", "L2", "L3"}
	defects  = []string{"scratch", "dent", "crack", "stain", "missing"}
)

func main() {
	httpURL := flag.String("http", "http://127.0.0.1:8080", "cloud REST base URL")
	grpcAddr := flag.String("grpc", "127.0.0.1:9090", "cloud gRPC address (sync endpoint)")
	user := flag.String("user", "admin", "cloud user allowed to create masters and enrollment tokens")
	password := flag.String("password", os.Getenv("IFC_ADMIN_PASSWORD"), "its password (env IFC_ADMIN_PASSWORD)")
	n := flag.Int("records", 10000, "records to create")
	days := flag.Int("days", 14, "spread capture times over this many days back from now")
	imgPath := flag.String("image", "models/prefilter/golden_0.png", "image every record carries")
	seed := flag.Uint64("seed", 1, "random seed (same seed, same records but new ids)")
	flag.Parse()
	if err := run(context.Background(), *httpURL, *grpcAddr, *user, *password, *n, *days, *imgPath, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, httpURL, grpcAddr, user, password string, n, days int, imgPath string, seed uint64) error {
	img, err := os.ReadFile(filepath.Clean(imgPath))
	if err != nil {
		return err
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(img))
	if err != nil {
		return fmt.Errorf("%s: %w", imgPath, err)
	}
	sum := sha256.Sum256(img)
	ref := &ifcv1.ImageRef{Sha256: hex.EncodeToString(sum[:]), Size: int64(len(img)), ContentType: "image/" + format, Width: int32(cfg.Width), Height: int32(cfg.Height)}

	rest := &restClient{base: httpURL}
	if err := rest.login(user, password); err != nil {
		return err
	}
	for _, p := range products {
		master := map[string]any{"product": map[string]any{"name": "Seeded " + p}, "defect_types": codes(defects)}
		if err := rest.do("PUT", "/api/v1/masters/"+p, master, nil); err != nil {
			return fmt.Errorf("master %s: %w", p, err)
		}
	}
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	client := ifcv1.NewSyncServiceClient(conn)

	start := time.Now()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for li, line := range lines {
		var tok struct {
			Token string `json:"token"`
		}
		if err := rest.do("POST", "/api/v1/enrollment-tokens", map[string]any{"line": line, "ttl_seconds": 600}, &tok); err != nil {
			return fmt.Errorf("token for %s: %w", line, err)
		}
		resp, err := client.Enroll(ctx, &ifcv1.EnrollRequest{Token: tok.Token, DeviceName: "seed " + line, AgentVersion: "seed"})
		if err != nil {
			return fmt.Errorf("enroll %s: %w", line, err)
		}
		creds := resp.GetCredentials()
		dctx := metadata.AppendToOutgoingContext(ctx, device.MetadataKey, device.Header(creds.GetDeviceId(), creds.GetSecret()))
		if err := upload(dctx, client, ref, img); err != nil {
			return fmt.Errorf("upload for %s: %w", line, err)
		}
		for i := li; i < n; i += len(lines) {
			r := record(rng, creds.GetDeviceId(), line, ref, days, i)
			g.Go(func() error {
				cctx := metadata.AppendToOutgoingContext(gctx, device.MetadataKey, device.Header(creds.GetDeviceId(), creds.GetSecret()))
				if _, err := client.CommitRecord(cctx, &ifcv1.CommitRecordRequest{Record: r}); err != nil {
					return fmt.Errorf("commit %s: %w", r.GetRecordId(), err)
				}
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	fmt.Printf("seeded %d records on %d lines in %s\n", n, len(lines), time.Since(start).Round(time.Millisecond))
	return nil
}

// record makes the i-th record: a yield near 93 %, NG defects skewed so
// the Pareto has a clear head, capture times spread over the last days.
func record(rng *rand.Rand, deviceID, line string, ref *ifcv1.ImageRef, days, i int) *ifcv1.InspectionRecord {
	at := time.Now().Add(-time.Duration(rng.Int64N(int64(days) * int64(24*time.Hour))))
	v := &ifcv1.Verdict{Result: ifcv1.VerdictResult_VERDICT_RESULT_OK, DecidedAt: timestamppb.New(at)}
	if rng.Float64() < 0.07 {
		v.Result = ifcv1.VerdictResult_VERDICT_RESULT_NG
		v.DefectType = defects[min(len(defects)-1, int(rng.ExpFloat64()))]
	}
	id, _ := uuid.NewV7()
	return &ifcv1.InspectionRecord{
		RecordId: id.String(), DeviceId: deviceID, Line: line,
		ProductCode: products[rng.IntN(len(products))],
		Lot:         fmt.Sprintf("LOT-%s-%03d", at.Format("0102"), rng.IntN(5)),
		Serial:      fmt.Sprintf("S%06d", i), Inspector: "seed",
		CapturedAt: timestamppb.New(at), CreatedAt: timestamppb.New(at),
		Images:  []*ifcv1.ImageRef{ref},
		Verdict: v,
	}
}

func upload(ctx context.Context, c ifcv1.SyncServiceClient, ref *ifcv1.ImageRef, data []byte) error {
	st, err := c.UploadImage(ctx)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	if err := st.Send(&ifcv1.UploadImageRequest{Image: ref, Data: data, DataSha256: hex.EncodeToString(sum[:])}); err != nil {
		return err
	}
	resp, err := st.CloseAndRecv()
	if err != nil {
		return err
	}
	if !resp.GetComplete() {
		return fmt.Errorf("cloud holds %d of %d bytes", resp.GetOffset(), len(data))
	}
	return nil
}

func codes(list []string) []map[string]string {
	out := make([]map[string]string, len(list))
	for i, c := range list {
		out[i] = map[string]string{"code": c, "name": c}
	}
	return out
}

type restClient struct {
	base, token string
}

func (c *restClient) login(user, password string) error {
	var out struct {
		Token string `json:"token"`
	}
	if err := c.do("POST", "/api/v1/auth/login", map[string]string{"username": user, "password": password}, &out); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	c.token = out.Token
	return nil
}

func (c *restClient) do(method, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var p struct {
			Detail string `json:"detail"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&p)
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, p.Detail)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
