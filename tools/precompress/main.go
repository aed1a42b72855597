// Command precompress writes brotli (.br) and gzip (.gz) copies of files
// beside them, so the server can send app.wasm compressed without compressing
// it on every request, and a .sum file naming the content they were made from,
// so the server never sends a variant of an older build.
//
//	go run ./tools/precompress [-brotli-level N] [-brotli-cmd brotli] web/app.wasm
//
// Brotli comes from Debian's brotli command (C, package brotli) when it is on
// PATH: quality 11 takes it about 25 s on app.wasm and makes it about 15%
// smaller than quality 6. Without it the pure-Go encoder is used, at quality 6
// by default, since its quality 11 takes minutes.
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/andybalholm/brotli"
)

// Default brotli qualities: the best the command has, and what the Go encoder
// reaches in seconds.
const (
	cmdDefaultLevel = brotli.BestCompression
	goDefaultLevel  = 6
)

func main() {
	level := flag.Int("brotli-level", -1, "brotli quality, 0 (fastest) to 11 (smallest); -1 for the best the encoder does in reasonable time (11 with the brotli command, 6 with the Go encoder)")
	cmdName := flag.String("brotli-cmd", "brotli", "the brotli command to use when it is on PATH; empty for the pure-Go encoder")
	flag.Parse()
	if flag.NArg() == 0 || *level < -1 || *level > brotli.BestCompression {
		fmt.Fprintln(os.Stderr, "usage: precompress [-brotli-level -1|0-11] [-brotli-cmd brotli] FILE...")
		os.Exit(2)
	}
	enc := pickEncoder(*cmdName, *level)
	for _, name := range flag.Args() {
		if err := compressFile(name, enc); err != nil {
			fmt.Fprintln(os.Stderr, "precompress:", err)
			os.Exit(1)
		}
	}
}

// encoder compresses with brotli: the command at path when it is set, else
// the Go encoder.
type encoder struct {
	path  string
	level int
}

func (e encoder) String() string {
	if e.path != "" {
		return fmt.Sprintf("brotli quality %d (%s)", e.level, e.path)
	}
	return fmt.Sprintf("brotli quality %d (Go encoder; install the brotli command for quality 11 in seconds)", e.level)
}

// pickEncoder chooses the brotli command when it can be found, else the Go
// encoder; level -1 means the encoder's default.
func pickEncoder(cmdName string, level int) encoder {
	var e encoder
	if cmdName != "" {
		e.path, _ = exec.LookPath(cmdName)
	}
	switch {
	case level >= 0:
		e.level = level
	case e.path != "":
		e.level = cmdDefaultLevel
	default:
		e.level = goDefaultLevel
	}
	return e
}

// compress writes raw, brotli-compressed, to w.
func (e encoder) compress(w io.Writer, raw []byte) error {
	if e.path == "" {
		zw := brotli.NewWriterLevel(w, e.level)
		if _, err := zw.Write(raw); err != nil {
			return err
		}
		return zw.Close()
	}
	var stderr bytes.Buffer
	cmd := exec.Command(e.path, fmt.Sprintf("--quality=%d", e.level), "--stdout", "-")
	cmd.Stdin = bytes.NewReader(raw)
	cmd.Stdout = w
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %v %s", e.path, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}

// compressFile writes name.br, name.gz and name.sum and prints the sizes.
func compressFile(name string, enc encoder) error {
	raw, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	// The old sum goes first: while the variants are rewritten, none of
	// them matches, so the server sends the raw file rather than a stale one.
	if err := os.Remove(name + ".sum"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	br, err := write(name+".br", func(w io.Writer) error { return enc.compress(w, raw) })
	if err != nil {
		return err
	}
	if err := verify(name+".br", raw, func(r io.Reader) (io.Reader, error) { return brotli.NewReader(r), nil }); err != nil {
		return err
	}
	gz, err := write(name+".gz", func(w io.Writer) error {
		zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
		if err != nil {
			return err
		}
		if _, err := zw.Write(raw); err != nil {
			return err
		}
		return zw.Close()
	})
	if err != nil {
		return err
	}
	if _, err := write(name+".sum", func(w io.Writer) error {
		_, err := fmt.Fprintln(w, hex.EncodeToString(sum[:]))
		return err
	}); err != nil {
		return err
	}
	fmt.Printf("%s: %d bytes raw, %d brotli (%s), %d gzip\n", name, len(raw), br, enc, gz)
	return nil
}

// verify decompresses path and checks it gives raw back: a broken encoder
// must fail the build, not the browser.
func verify(path string, raw []byte, newReader func(io.Reader) (io.Reader, error)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := newReader(f)
	if err != nil {
		return err
	}
	got, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("%s does not decompress: %w", path, err)
	}
	if !bytes.Equal(got, raw) {
		return fmt.Errorf("%s decompresses to other bytes than its source", path)
	}
	return nil
}

// write fills path through a temporary file, so a reader never sees a
// half-written file, and returns its size.
func write(path string, fill func(io.Writer) error) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".precompress-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	if err := fill(tmp); err != nil {
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
