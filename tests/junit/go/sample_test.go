package sample

import (
	"strings"
	"testing"
)

func TestAddition(t *testing.T) {
	if 1+2 != 3 {
		t.Fatal("1+2 should be 3")
	}
}

func TestJoin(t *testing.T) {
	if got := strings.Join([]string{"a", "b"}, "-"); got != "a-b" {
		t.Fatalf("got %q", got)
	}
}

// TestTotal fails on purpose, with a message.
func TestTotal(t *testing.T) {
	total := 1 + 2 + 3
	if total != 7 {
		t.Errorf("the total of the order should be 7, got %d", total)
	}
}

func TestNeedsGPU(t *testing.T) {
	t.Skip("needs a GPU runner")
}

// TestDouble has subtests: two pass and one is skipped, so the parent passes.
func TestDouble(t *testing.T) {
	for _, tc := range []struct {
		name        string
		value, want int
	}{{"one", 1, 2}, {"three", 3, 6}} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.value * 2; got != tc.want {
				t.Errorf("double(%d) = %d, want %d", tc.value, got, tc.want)
			}
		})
	}
	t.Run("negative", func(t *testing.T) {
		t.Skip("negative numbers are not supported yet")
	})
}

// TestUpload has one passing and one failing subtest, so the parent fails too; the failing one
// logs (t.Log) before it fails.
func TestUpload(t *testing.T) {
	t.Run("small_file", func(t *testing.T) {})
	t.Run("large_file", func(t *testing.T) {
		t.Log("uploading 3 chunks")
		t.Error("server answered 413 Payload Too Large")
	})
}
