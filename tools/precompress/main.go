// Command precompress writes brotli (.br) and gzip (.gz) copies of files
// beside them, so the server can send app.wasm compressed without compressing
// it on every request.
//
//	go run ./tools/precompress [-brotli-level 6] web/app.wasm
//
// Brotli's levels 10 and 11 shrink app.wasm about 10% more than level 6 but take
// minutes instead of seconds; pass -brotli-level 11 for a release build.
package main

import (
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/andybalholm/brotli"
)

func main() {
	level := flag.Int("brotli-level", 6, "brotli quality, 0 (fastest) to 11 (smallest)")
	flag.Parse()
	if flag.NArg() == 0 || *level < brotli.BestSpeed || *level > brotli.BestCompression {
		fmt.Fprintln(os.Stderr, "usage: precompress [-brotli-level 0-11] FILE...")
		os.Exit(2)
	}
	for _, name := range flag.Args() {
		if err := compressFile(name, *level); err != nil {
			fmt.Fprintln(os.Stderr, "precompress:", err)
			os.Exit(1)
		}
	}
}

// compressFile writes name.br and name.gz and prints the three sizes.
func compressFile(name string, level int) error {
	raw, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	br, err := write(name+".br", raw, func(w io.Writer) (io.WriteCloser, error) {
		return brotli.NewWriterLevel(w, level), nil
	})
	if err != nil {
		return err
	}
	gz, err := write(name+".gz", raw, func(w io.Writer) (io.WriteCloser, error) {
		return gzip.NewWriterLevel(w, gzip.BestCompression)
	})
	if err != nil {
		return err
	}
	fmt.Printf("%s: %d bytes raw, %d brotli, %d gzip\n", name, len(raw), br, gz)
	return nil
}

// write compresses raw into path through a temporary file, so a reader never
// sees a half-written variant, and returns the compressed size.
func write(path string, raw []byte, newWriter func(io.Writer) (io.WriteCloser, error)) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".precompress-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	zw, err := newWriter(tmp)
	if err != nil {
		tmp.Close()
		return 0, err
	}
	if _, err := zw.Write(raw); err != nil {
		tmp.Close()
		return 0, err
	}
	if err := zw.Close(); err != nil {
		tmp.Close()
		return 0, err
	}
	st, err := tmp.Stat()
	if err != nil {
		tmp.Close()
		return 0, err
	}
	if err := tmp.Close(); err != nil {
		return 0, err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return 0, err
	}
	return st.Size(), os.Rename(tmp.Name(), path)
}
