//go:build !wasm

package server

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// wasmPath is where go-app's loader fetches the WebAssembly page from.
const wasmPath = "/web/app.wasm"

// wasmFile is app.wasm as built, with its precompressed variants.
type wasmFile struct {
	raw      string            // path of app.wasm
	size     int64             // its size, for the loader's progress bar
	version  string            // short hash of its content
	variants map[string]string // Content-Encoding -> path (br, gzip)
}

// loadWasm finds app.wasm and the .br and .gz files the build made beside it.
// A variant older than app.wasm is ignored, so a stale one is never served.
func loadWasm(webDir string) (*wasmFile, error) {
	raw := filepath.Join(webDir, "app.wasm")
	f, err := os.Open(raw)
	if err != nil {
		return nil, fmt.Errorf("WEB_DIR: %w (build it with make build)", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	w := &wasmFile{raw: raw, size: st.Size(), version: hex.EncodeToString(h.Sum(nil))[:12], variants: map[string]string{}}
	for enc, ext := range map[string]string{"br": ".br", "gzip": ".gz"} {
		vs, err := os.Stat(raw + ext)
		if err == nil && !vs.ModTime().Before(st.ModTime()) {
			w.variants[enc] = raw + ext
		}
	}
	return w, nil
}

// pick returns the file and Content-Encoding to send for an Accept-Encoding
// header: brotli, then gzip, then the raw file.
func (w *wasmFile) pick(acceptEncoding string) (path, encoding string) {
	accepted := map[string]bool{}
	for _, part := range strings.Split(acceptEncoding, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if q, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if v, err := strconv.ParseFloat(q, 64); err == nil && v == 0 {
				continue
			}
		}
		accepted[strings.ToLower(strings.TrimSpace(name))] = true
	}
	for _, enc := range []string{"br", "gzip"} {
		if p, ok := w.variants[enc]; ok && accepted[enc] {
			return p, enc
		}
	}
	return w.raw, ""
}

// ServeHTTP sends app.wasm precompressed when the client accepts it. The URL
// is not content-addressed, so caches revalidate with the ETag every load.
func (w *wasmFile) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	path, enc := w.pick(r.Header.Get("Accept-Encoding"))
	f, err := os.Open(path)
	if err != nil {
		http.Error(rw, "app.wasm is missing", http.StatusNotFound)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		http.Error(rw, "app.wasm is unreadable", http.StatusInternalServerError)
		return
	}
	h := rw.Header()
	h.Set("Content-Type", "application/wasm")
	h.Set("Vary", "Accept-Encoding")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Wasm-Content-Length", strconv.FormatInt(w.size, 10))
	tag := w.version
	if enc != "" {
		h.Set("Content-Encoding", enc)
		tag += "-" + enc
	}
	h.Set("ETag", `"`+tag+`"`)
	http.ServeContent(rw, r, "", st.ModTime(), f)
}

// assetHandler serves app.wasm itself and hands every other request to the
// go-app handler (the page, manifest, service worker and /web/ files).
func assetHandler(wasm *wasmFile, page http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == wasmPath || r.URL.Path == "/app.wasm" {
			wasm.ServeHTTP(w, r)
			return
		}
		page.ServeHTTP(w, r)
	})
}

// webDir serves the static assets under /web/ from a directory and tells
// go-app their URLs. Unlike go-app's LocalDir, the directory's name on disk
// need not be "web", so WEB_DIR can point anywhere.
type webDir struct {
	files http.Handler
}

func newWebDir(dir string) webDir {
	return webDir{files: http.StripPrefix("/web", http.FileServer(noListing{http.Dir(dir)}))}
}

// Resolve returns the URL of a resource: /web/ paths stay as they are.
func (d webDir) Resolve(location string) string {
	if location == "" {
		return "/"
	}
	return location
}

func (d webDir) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.files.ServeHTTP(w, r)
}

// noListing hides directory listings: a directory without index.html is 404.
type noListing struct{ fs http.FileSystem }

func (n noListing) Open(name string) (http.File, error) {
	f, err := n.fs.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		index, err := n.fs.Open(strings.TrimSuffix(name, "/") + "/index.html")
		if err != nil {
			f.Close()
			return nil, os.ErrNotExist
		}
		index.Close()
	}
	return f, nil
}
