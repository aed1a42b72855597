// Command precompress writes brotli (.br) and gzip (.gz) copies of files
// beside them, at the highest compression levels, so the server can send
// app.wasm compressed without compressing it on every request.
//
//	go run ./tools/precompress web/app.wasm
package main

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/andybalholm/brotli"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: precompress FILE...")
		os.Exit(2)
	}
	for _, name := range os.Args[1:] {
		if err := compressFile(name); err != nil {
			fmt.Fprintln(os.Stderr, "precompress:", err)
			os.Exit(1)
		}
	}
}

// compressFile writes name.br and name.gz and prints the three sizes.
func compressFile(name string) error {
	raw, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	br, err := write(name+".br", raw, func(w io.Writer) (io.WriteCloser, error) {
		return brotli.NewWriterLevel(w, brotli.BestCompression), nil
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
