package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/report"
)

func TestOECompare(t *testing.T) {
	const base, head = "../../bot/oe/testdata/base", "../../bot/oe/testdata/head"
	code, stdout, stderr := tcbot(t, "oe-compare", "--base", base, "--head", head, "--format", "json")
	if code != 2 {
		t.Fatalf("exit %d, want 2 (failure and regression)\nstderr:\n%s", code, stderr)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%s", err, stdout)
	}
	if rep.Repo != "oe" || rep.Base != base || rep.Head != head || rep.Verdict != compare.Failed {
		t.Errorf("report %s %s %s: %s", rep.Repo, rep.Base, rep.Head, rep.Verdict)
	}
	if want := "tcbot oe-compare --base " + base + " --head " + head; rep.Reproduce != want {
		t.Errorf("reproduce %q, want %q", rep.Reproduce, want)
	}

	code, stdout, _ = tcbot(t, "oe-compare", "--base", base, "--head", base)
	if code != 0 || !strings.Contains(stdout, "UNCHANGED") {
		t.Errorf("a build against itself: exit %d\n%s", code, stdout)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no head", []string{"oe-compare", "--base", base}, "--base and --head are required"},
		{"bad format", []string{"oe-compare", "--base", base, "--head", head, "--format", "xml"}, "want text, markdown or json"},
		{"not a build directory", []string{"oe-compare", "--base", t.TempDir(), "--head", head}, `INHERIT += "buildhistory"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := tcbot(t, tc.args...)
			if code != 1 || stdout != "" || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want 1, nothing, %q", code, stdout, stderr, tc.want)
			}
		})
	}
}
