//go:build !wasm

package server

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"
)

// sumOf is the app.wasm.sum the build writes for raw.
func sumOf(raw []byte) []byte {
	s := sha256.Sum256(raw)
	return []byte(hex.EncodeToString(s[:]) + "\n")
}

func TestWasmPrecompressed(t *testing.T) {
	raw := bytes.Repeat([]byte("\x00asm wasm bytes "), 1000)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	files := fstest.MapFS{
		"app.wasm":     {Data: raw},
		"app.wasm.gz":  {Data: gz.Bytes()},
		"app.wasm.br":  {Data: []byte("brotli bytes")},
		"app.wasm.sum": {Data: sumOf(raw)},
	}

	w, err := loadWasm(files)
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

	// Variants made from another app.wasm (a build that skipped the
	// precompression step), or with no record of what they were made
	// from, are never served.
	for name, sum := range map[string][]byte{"other build": sumOf([]byte("older")), "no sum": nil} {
		t.Run(name, func(t *testing.T) {
			stale := maps.Clone(files)
			delete(stale, "app.wasm.sum")
			if sum != nil {
				stale["app.wasm.sum"] = &fstest.MapFile{Data: sum}
			}
			w, err := loadWasm(stale)
			if err != nil {
				t.Fatal(err)
			}
			if _, enc := w.pick("br, gzip"); enc != "" {
				t.Errorf("stale variant %q chosen", enc)
			}
		})
	}
}

func TestWasmMissing(t *testing.T) {
	if _, err := loadWasm(fstest.MapFS{"app.css": {}}); !errors.Is(err, errNoWasm) {
		t.Fatalf("error %v, want errNoWasm", err)
	}
}
