//go:build !wasm

package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"
)

// wasmPath is where go-app's loader fetches the WebAssembly page from.
const wasmPath = "/web/app.wasm"

// errNoWasm means the page's files hold no app.wasm: the binary was built
// without `make build`, or WEB_DIR points at an unbuilt folder.
var errNoWasm = errors.New("app.wasm is not built")

// webFiles returns the page's files and where they come from: the folder
// WEB_DIR names when it is set (for development), else the files built into
// the binary.
func webFiles(cfg Config, embedded fs.FS) (fs.FS, string) {
	if cfg.WebDir != "" {
		return os.DirFS(cfg.WebDir), "WEB_DIR " + cfg.WebDir
	}
	if embedded == nil {
		embedded = emptyFS{}
	}
	return embedded, "built into the binary"
}

// emptyFS has no files: the page's files of a server given none.
type emptyFS struct{}

func (emptyFS) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// wasmFile is app.wasm as built, with its precompressed variants.
type wasmFile struct {
	files    fs.FS
	size     int64             // size of app.wasm, for the loader's progress bar
	version  string            // short hash of its content
	variants map[string]string // Content-Encoding -> file name (br, gzip)
}

// loadWasm finds app.wasm in files and the .br and .gz variants the build
// made beside it. The variants are used only when app.wasm.sum names the
// content of this app.wasm, so a variant of an older build is never served.
func loadWasm(files fs.FS) (*wasmFile, error) {
	f, err := files.Open("app.wasm")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoWasm
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return nil, fmt.Errorf("reading app.wasm: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	w := &wasmFile{files: files, size: size, version: sum[:12], variants: map[string]string{}}
	if made, err := fs.ReadFile(files, "app.wasm.sum"); err == nil && strings.TrimSpace(string(made)) == sum {
		for enc, name := range map[string]string{"br": "app.wasm.br", "gzip": "app.wasm.gz"} {
			if _, err := fs.Stat(files, name); err == nil {
				w.variants[enc] = name
			}
		}
	}
	return w, nil
}

// pick returns the file and Content-Encoding to send for an Accept-Encoding
// header: brotli, then gzip, then the raw file.
func (w *wasmFile) pick(acceptEncoding string) (name, encoding string) {
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
	return "app.wasm", ""
}

// ServeHTTP sends app.wasm precompressed when the client accepts it. The URL
// is not content-addressed, so caches revalidate with the ETag every load.
func (w *wasmFile) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	name, enc := w.pick(r.Header.Get("Accept-Encoding"))
	f, err := w.files.Open(name)
	if err != nil {
		http.Error(rw, "app.wasm is missing", http.StatusNotFound)
		return
	}
	defer f.Close()
	content, ok := f.(io.ReadSeeker)
	if !ok {
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
	// No modification time: files built into the binary have none, and the
	// ETag is what caches revalidate with.
	http.ServeContent(rw, r, "", time.Time{}, content)
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

// pageHandler serves the page with page, go-app's handler of it, its static
// files from files, and app.wasm with its precompressed variants. Without an
// app.wasm it is a page saying how to build one, never a blank page.
func pageHandler(page *goapp.Handler, files fs.FS, version string) (http.Handler, error) {
	wasm, err := loadWasm(files)
	if errors.Is(err, errNoWasm) {
		return notBuiltPage(), err
	}
	if err != nil {
		return nil, err
	}
	if page == nil {
		return nil, errors.New("no page handler: Build.Page is required")
	}
	page.Version = wasm.version
	page.Resources = newWebDir(files)
	page.WasmContentLengthHeader = "X-Wasm-Content-Length"
	page.Env = map[string]string{"PUSHSTART_VERSION": version}
	return assetHandler(wasm, page), nil
}

var notBuiltTemplate = template.Must(template.New("").Parse(`<!doctype html>
<html lang="en"><meta charset="utf-8"><title>pushstart: the page is not built</title>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>The page is not built</h1>
<p>This pushstart server has no <code>app.wasm</code>, the page compiled to WebAssembly, so it can
serve the API but not the page.</p>
<p>Build the kit with <code>make build</code>: it compiles the page first, then the server with the
page inside it, into <code>bin/pushstart</code>. A plain <code>go build</code> does not compile the
page. For development, <code>WEB_DIR</code> can instead name a folder holding a built
<code>app.wasm</code>.</p>
</body></html>
`))

// notBuiltPage answers 503 with a page that says how to build app.wasm.
func notBuiltPage() http.Handler {
	var body bytes.Buffer
	if err := notBuiltTemplate.Execute(&body, nil); err != nil {
		panic(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write(body.Bytes())
	})
}

// webDir serves the static assets under /web/ from the page's files and
// tells go-app their URLs. Unlike go-app's LocalDir, the files need not sit
// in a folder named "web" on disk, so they can be built into the binary or
// WEB_DIR can point anywhere.
type webDir struct {
	files http.Handler
}

func newWebDir(files fs.FS) webDir {
	return webDir{files: http.StripPrefix("/web", http.FileServer(noListing{http.FS(files)}))}
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
