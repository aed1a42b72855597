//go:build !wasm

package app

import (
	"errors"
	"strings"
	"testing"
)

func TestNativeBuildRefusesPushCalls(t *testing.T) {
	if _, err := Subscribe(t.Context(), keyA); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "outside the browser") {
		t.Fatalf("Subscribe: %v", err)
	}
	if Permission() != PermissionUnsupported {
		t.Fatalf("Permission() = %q", Permission())
	}
}
