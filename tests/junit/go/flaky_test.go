package sample

import (
	"strings"
	"testing"
)

func TestPing(t *testing.T) {
	if strings.ToUpper("ping") != "PING" {
		t.Fatal("upper-casing failed")
	}
}

// TestReconnects fails on its first attempt and passes on the next (see flake.go). Retries come
// from gotestsum --rerun-fails=2, given by scripts/junit-reports.sh for go-retries.xml only.
func TestReconnects(t *testing.T) {
	fails, err := FlakyAttemptFails("go-reconnects")
	if err != nil {
		t.Fatal(err)
	}
	if fails {
		t.Fatal("connection dropped (flaky: the first attempt fails on purpose)")
	}
}
