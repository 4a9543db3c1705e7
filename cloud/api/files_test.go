package api

import (
	"bytes"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imageflowcanvas/ifc/cloud/auth"
)

func TestFileUploadAndDownload(t *testing.T) {
	e := newEnv(t)
	img := testJPEG(t, 64, 48)
	ct, body := multipartBody(t, "file", "../../etc/passwd.jpg", img)
	r := e.do("POST", "/api/v1/files", auth.RoleInspector, ct, body)
	if r.code != 201 {
		t.Fatalf("upload: %d %s", r.code, r.body)
	}
	f := r.json(t)
	if f["width"].(float64) != 64 || f["height"].(float64) != 48 || f["content_type"] != "image/jpeg" || f["size"].(float64) != float64(len(img)) || f["sha256"] == "" {
		t.Fatalf("file %v", f)
	}
	id := f["file_id"].(string)
	r = e.do("GET", "/api/v1/files/"+id, auth.RoleIntegrator, "", nil)
	if r.code != 200 || r.json(t)["file_id"] != id {
		t.Fatalf("metadata: %d %s", r.code, r.body)
	}
	r = e.do("GET", "/api/v1/files/"+id+"/content", auth.RoleIntegrator, "", nil)
	if r.code != 200 || !bytes.Equal(r.body, img) || r.header.Get("Content-Type") != "image/jpeg" || r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("content: %d %q", r.code, r.header)
	}
	expectProblem(t, e.do("GET", "/api/v1/files/nope", auth.RoleAdmin, "", nil), 404)
	expectProblem(t, e.do("GET", "/api/v1/files/nope/content", auth.RoleAdmin, "", nil), 404)
}

func TestFileUploadBadInput(t *testing.T) {
	e := newEnv(t, withConfig(func(c *Config) { c.MaxUploadBytes = 256 << 10 }))
	upload := func(field string, data []byte) resp {
		ct, body := multipartBody(t, field, "x.jpg", data)
		return e.do("POST", "/api/v1/files", auth.RoleInspector, ct, body)
	}
	t.Run("not an image", func(t *testing.T) {
		expectProblem(t, upload("file", []byte("just some text, certainly not a picture")), http.StatusUnsupportedMediaType)
	})
	t.Run("corrupt JPEG", func(t *testing.T) {
		img := testJPEG(t, 64, 64)
		expectProblem(t, upload("file", img[:len(img)/2]), http.StatusUnprocessableEntity)
	})
	t.Run("decompression bomb", func(t *testing.T) {
		expectProblem(t, upload("file", pngBomb(t, 60000, 60000)), http.StatusUnprocessableEntity)
	})
	t.Run("too large", func(t *testing.T) {
		big := append(testJPEG(t, 8, 8), bytes.Repeat([]byte{0}, 300<<10)...)
		expectProblem(t, upload("file", big), http.StatusRequestEntityTooLarge)
	})
	t.Run("no file field", func(t *testing.T) {
		expectProblem(t, upload("picture", testJPEG(t, 8, 8)), http.StatusBadRequest)
	})
	t.Run("not multipart", func(t *testing.T) {
		expectProblem(t, e.do("POST", "/api/v1/files", auth.RoleInspector, "image/jpeg", testJPEG(t, 8, 8)), http.StatusUnsupportedMediaType)
	})
	t.Run("truncated multipart", func(t *testing.T) {
		ct, body := multipartBody(t, "file", "x.jpg", testJPEG(t, 8, 8))
		r := e.do("POST", "/api/v1/files", auth.RoleInspector, ct, body[:len(body)-30])
		if r.code < 400 || r.code >= 500 {
			t.Fatalf("status %d: %s", r.code, r.body)
		}
	})
	t.Run("nothing stored", func(t *testing.T) {
		n := 0
		_ = filepath.WalkDir(e.objDir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				n++
				t.Logf("stored: %s", p)
			}
			return nil
		})
		if n != 0 {
			t.Fatalf("%d objects stored from bad uploads", n)
		}
	})
}

func TestCleanFilename(t *testing.T) {
	for in, want := range map[string]string{
		"../../etc/passwd": "passwd", `C:\x\y.jpg`: "y.jpg", "a\x00b.png": "ab.png", "": "", strings.Repeat("a", 300): strings.Repeat("a", 255),
	} {
		if got := cleanFilename(in); got != want {
			t.Errorf("cleanFilename(%q) = %q, want %q", in, got, want)
		}
	}
}
