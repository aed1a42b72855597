package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

func TestPickEncoder(t *testing.T) {
	for _, tt := range []struct {
		name, cmd string
		level     int
		wantCmd   bool
		wantLevel int
	}{
		{name: "no command: Go encoder at its default", cmd: "no-such-brotli-command", level: -1, wantLevel: goDefaultLevel},
		{name: "empty command: Go encoder", cmd: "", level: -1, wantLevel: goDefaultLevel},
		{name: "level given", cmd: "", level: 3, wantLevel: 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := pickEncoder(tt.cmd, tt.level)
			if (e.path != "") != tt.wantCmd || e.level != tt.wantLevel {
				t.Errorf("got %+v, want command %v level %d", e, tt.wantCmd, tt.wantLevel)
			}
		})
	}
	if _, err := exec.LookPath("brotli"); err == nil {
		if e := pickEncoder("brotli", -1); e.path == "" || e.level != cmdDefaultLevel {
			t.Errorf("with brotli on PATH: %+v, want the command at quality %d", e, cmdDefaultLevel)
		}
	}
}

// TestCompressFile checks what the server relies on: both copies decompress
// to the file, and the .sum names its content.
func TestCompressFile(t *testing.T) {
	encoders := map[string]encoder{"Go": {level: 5}}
	if path, err := exec.LookPath("brotli"); err == nil {
		encoders["command"] = encoder{path: path, level: 5}
	}
	for name, enc := range encoders {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "app.wasm")
			raw := bytes.Repeat([]byte("\x00asm some wasm bytes, repeated "), 2000)
			if err := os.WriteFile(file, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := compressFile(file, enc); err != nil {
				t.Fatal(err)
			}
			for ext, open := range map[string]func(io.Reader) (io.Reader, error){
				".br": func(r io.Reader) (io.Reader, error) { return brotli.NewReader(r), nil },
				".gz": func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) },
			} {
				if err := verify(file+ext, raw, open); err != nil {
					t.Error(err)
				}
				st, err := os.Stat(file + ext)
				if err != nil {
					t.Fatal(err)
				}
				if st.Size() >= int64(len(raw))/10 {
					t.Errorf("%s: %d bytes of %d raw: not compressed", ext, st.Size(), len(raw))
				}
			}
			sum, err := os.ReadFile(file + ".sum")
			want := sha256.Sum256(raw)
			if err != nil || strings.TrimSpace(string(sum)) != hex.EncodeToString(want[:]) {
				t.Errorf(".sum %q (%v), want the SHA-256 of the file", sum, err)
			}
		})
	}
}

func TestVerifyCatchesWrongOutput(t *testing.T) {
	file := filepath.Join(t.TempDir(), "x.br")
	var b bytes.Buffer
	zw := brotli.NewWriter(&b)
	zw.Write([]byte("other bytes"))
	zw.Close()
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := verify(file, []byte("the source"), func(r io.Reader) (io.Reader, error) { return brotli.NewReader(r), nil }); err == nil {
		t.Error("a copy of other bytes passed verification")
	}
}
