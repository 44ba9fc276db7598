package loadgen_test

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMarkrun builds markrun for the host (no mark instruction there) and
// checks what tcbot reads of it: the program's output first, then exactly
// one status line, and markrun's exit status mirroring the program's.
func TestMarkrun(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "markrun")
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "gcc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-o", exe, "markrun.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc markrun.c: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name         string
		argv         []string
		stdout, errs string
		code         int
	}{
		{"exit 0", []string{"/bin/sh", "-c", "echo checksum: 0011; echo oops >&2"}, "checksum: 0011\ntcbot-markrun: exit 0\n", "oops\n", 0},
		{"exit 3", []string{"/bin/sh", "-c", "printf partial; exit 3"}, "partialtcbot-markrun: exit 3\n", "", 3},
		{"signal", []string{"/bin/sh", "-c", "kill -SEGV $$"}, "tcbot-markrun: signal 11\n", "", 128 + 11},
		{"no such program", []string{"./no-such-benchmark"}, "tcbot-markrun: exit 127\n", "markrun: exec ./no-such-benchmark: No such file or directory\n", 127},
		{"usage", nil, "", "usage: markrun PROGRAM [ARG...]\n", 125},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.CommandContext(ctx, exe, tc.argv...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if stdout.String() != tc.stdout || !strings.Contains(stderr.String(), tc.errs) || code != tc.code {
				t.Errorf("markrun %q: stdout %q, stderr %q, exit %d; want %q, %q, %d", tc.argv, stdout.String(), stderr.String(), code, tc.stdout, tc.errs, tc.code)
			}
		})
	}
}
