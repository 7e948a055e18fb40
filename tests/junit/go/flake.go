// Package sample is a tiny Go test suite whose gotestsum JUnit reports feed the backend's JUnit
// upload tests (scripts/junit-reports.sh).
package sample

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FlakyAttemptFails counts the attempts of the deliberately flaky test in $JUNIT_FLAKE_DIR (a
// fresh directory per run, made by scripts/junit-reports.sh) so that the result is
// deterministic: the first attempt fails and any later one passes, or every attempt passes when
// JUNIT_FLAKE_PASS=1.
func FlakyAttemptFails(name string) (bool, error) {
	dir := os.Getenv("JUNIT_FLAKE_DIR")
	if dir == "" {
		return false, errors.New("JUNIT_FLAKE_DIR is not set: run this suite through scripts/junit-reports.sh")
	}
	counter := filepath.Join(dir, name+".count")
	attempt := 1
	if data, err := os.ReadFile(counter); err == nil {
		n, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil {
			return false, err
		}
		attempt = n + 1
	}
	if err := os.WriteFile(counter, []byte(strconv.Itoa(attempt)), 0o644); err != nil {
		return false, err
	}
	return attempt == 1 && os.Getenv("JUNIT_FLAKE_PASS") != "1", nil
}
