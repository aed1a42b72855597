//go:build !wasm

package server

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func writeFile(t *testing.T, path string, b []byte, mod time.Time) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mod, mod); err != nil {
		t.Fatal(err)
	}
}

func TestWasmPrecompressed(t *testing.T) {
	dir := t.TempDir()
	raw := bytes.Repeat([]byte("\x00asm wasm bytes "), 1000)
	now := time.Now()
	writeFile(t, filepath.Join(dir, "app.wasm"), raw, now)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	writeFile(t, filepath.Join(dir, "app.wasm.gz"), gz.Bytes(), now)
	writeFile(t, filepath.Join(dir, "app.wasm.br"), []byte("brotli bytes"), now)

	w, err := loadWasm(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		accept, encoding string
		size             int
	}{
		{"gzip, deflate, br, zstd", "br", len("brotli bytes")},
		{"gzip, deflate", "gzip", gz.Len()},
		{"br;q=0, gzip", "gzip", gz.Len()},
		{"", "", len(raw)},
		{"identity", "", len(raw)},
	} {
		t.Run(tt.accept, func(t *testing.T) {
			req := httptest.NewRequest("GET", wasmPath, nil)
			req.Header.Set("Accept-Encoding", tt.accept)
			rec := httptest.NewRecorder()
			w.ServeHTTP(rec, req)
			res := rec.Result()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/wasm" {
				t.Fatalf("status %d type %q", res.StatusCode, res.Header.Get("Content-Type"))
			}
			if got := res.Header.Get("Content-Encoding"); got != tt.encoding {
				t.Errorf("Content-Encoding %q, want %q", got, tt.encoding)
			}
			if len(body) != tt.size {
				t.Errorf("body %d bytes, want %d", len(body), tt.size)
			}
			if res.Header.Get("Vary") != "Accept-Encoding" || res.Header.Get("ETag") == "" || res.Header.Get("Cache-Control") == "" {
				t.Errorf("cache headers missing: %v", res.Header)
			}
			if res.Header.Get("X-Wasm-Content-Length") != "16000" {
				t.Errorf("X-Wasm-Content-Length %q, want the raw size", res.Header.Get("X-Wasm-Content-Length"))
			}
			// A revalidation with the ETag costs no body.
			req2 := httptest.NewRequest("GET", wasmPath, nil)
			req2.Header.Set("Accept-Encoding", tt.accept)
			req2.Header.Set("If-None-Match", res.Header.Get("ETag"))
			rec2 := httptest.NewRecorder()
			w.ServeHTTP(rec2, req2)
			if rec2.Code != http.StatusNotModified {
				t.Errorf("revalidation: %d, want 304", rec2.Code)
			}
		})
	}

	// A variant older than app.wasm is stale and never served.
	writeFile(t, filepath.Join(dir, "app.wasm"), raw, now.Add(time.Hour))
	w, err = loadWasm(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, enc := w.pick("br, gzip"); enc != "" {
		t.Errorf("stale variant %q chosen", enc)
	}
}

func TestWasmMissing(t *testing.T) {
	if _, err := loadWasm(t.TempDir()); err == nil {
		t.Fatal("no error without app.wasm")
	}
}
