package main

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/perf/benchfmt"

	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/store"
)

// exportFixture is a SQLite store with two commits measured on two
// targets (the older one in November), and its config.
func exportFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tcbot.yaml")
	os.WriteFile(cfg, []byte(`workdir: work
repos:
  - {name: gcc, url: /nonexistent/gcc}
targets:
  - {name: armv7-qemu, arch: armv7, executor: qemu-user}
  - {name: armv8-qemu, arch: armv8, executor: qemu-user}
`), 0o644)
	st, err := store.Open(context.Background(), filepath.Join(dir, "work", "tcbot.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	put := func(rev, target string, at time.Time, insns float64, times ...float64) {
		k := store.Key{Repo: "gcc", Revision: rev, ToolchainID: "tc", Target: target, Suite: "bench", SuiteVersion: "v1"}
		r := func(bench, metric, unit string, s ...float64) result.Result {
			return result.Result{Target: target, Suite: "bench", Benchmark: bench, Metric: metric, Unit: unit, Samples: s}
		}
		m := &store.Measurement{Key: k, Subject: "subject, with \"quotes\" of " + rev[:4], Toolchain: "gcc 12, -O2", CreatedAt: at,
			Results: []result.Result{
				r("http-parse", result.Instructions, "count", insns),
				r("http-parse", result.Time, "s", times...),
				r("http-parse", result.CodeSize, "bytes", 4096),
				r("http-parse", result.Status, "pass/fail", result.Pass),
				r("broken", result.Status, "pass/fail", result.Fail),
			}}
		if err := st.Put(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	old, a, b := strings.Repeat("0", 40), strings.Repeat("a", 40), strings.Repeat("b", 40)
	put(old, "armv8-qemu", time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC), 900)
	put(a, "armv8-qemu", time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), 1000, 0.5, 0.52, 0.51)
	put(a, "armv7-qemu", time.Date(2026, 12, 1, 10, 1, 0, 0, time.UTC), 1100, 0.6)
	put(b, "armv8-qemu", time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC), 1250, 0.61, 0.62, 0.6)
	return cfg
}

// TestExportBenchfmt: the export parses with golang.org/x/perf/benchfmt
// (what benchstat reads), with a block per commit and target, every
// sample of a noisy metric on its own line, and --since honoured.
func TestExportBenchfmt(t *testing.T) {
	cfg := exportFixture(t)
	code, out, errs := tcbot(t, "export", "--config", cfg, "--repo", "gcc", "--since", "2026-12-01")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	r := benchfmt.NewReader(strings.NewReader(out), "export")
	type row struct {
		commit, target string
		values         map[string]float64
	}
	var rows []row
	for r.Scan() {
		res, ok := r.Result().(*benchfmt.Result)
		if !ok {
			if e, isErr := r.Result().(*benchfmt.SyntaxError); isErr {
				t.Fatalf("benchfmt: %v", e)
			}
			continue
		}
		if string(res.Name) != "Http-parse" { // benchfmt drops the Benchmark prefix
			t.Errorf("benchmark name %q", res.Name)
		}
		v := map[string]float64{}
		for _, val := range res.Values {
			v[val.Unit] = val.Value
		}
		rows = append(rows, row{res.GetConfig("commit"), res.GetConfig("target"), v})
		if s := res.GetConfig("subject"); !strings.HasPrefix(s, "subject, with") {
			t.Errorf("subject config %q", s)
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	// a on armv8: 3 time samples; a on armv7: 1; b on armv8: 3. The
	// November commit is before --since.
	if len(rows) != 7 {
		t.Fatalf("%d result lines, want 7:\n%s", len(rows), out)
	}
	if rows[0].commit != strings.Repeat("a", 40) || rows[0].target != "armv8-qemu" || rows[0].values["instructions/op"] != 1000 || rows[0].values["sec/op"] != 0.5 || rows[0].values["code-B"] != 4096 {
		t.Errorf("first line: %+v", rows[0])
	}
	if rows[1].values["sec/op"] != 0.52 || rows[1].values["instructions/op"] != 0 {
		t.Errorf("second sample line: %+v (only the noisy metric repeats)", rows[1])
	}
	if strings.Contains(out, "Broken") {
		t.Error("a failed benchmark has result lines")
	}
	if last := rows[6]; last.commit != strings.Repeat("b", 40) || last.values["sec/op"] != 0.6 {
		t.Errorf("last line: %+v", last)
	}
}

// TestExportCSV: every sample a row, values exact, quoting per RFC 4180.
func TestExportCSV(t *testing.T) {
	cfg := exportFixture(t)
	code, out, errs := tcbot(t, "export", "--config", cfg, "--repo", "gcc", "--format", "csv", "--targets", "armv8-qemu")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != "repo,commit,subject,target,toolchain,suite,benchmark,metric,unit,sample,value,created_at" {
		t.Fatalf("header %v", recs[0])
	}
	// armv8 only: old (1 insn + 0 time + size + 2 status) = 4, a = 7, b = 7.
	if len(recs)-1 != 18 {
		t.Errorf("%d rows, want 18", len(recs)-1)
	}
	found := false
	for _, r := range recs[1:] {
		if r[3] != "armv8-qemu" {
			t.Errorf("row of target %s", r[3])
		}
		if r[1] == strings.Repeat("b", 40) && r[7] == "time" && r[9] == "1" {
			v, _ := strconv.ParseFloat(r[10], 64)
			found = v == 0.62 && r[2] == `subject, with "quotes" of bbbb`
		}
	}
	if !found {
		t.Errorf("b's second time sample not exported exactly:\n%s", out)
	}
}

func TestExportErrors(t *testing.T) {
	cfg := exportFixture(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--repo", "gcc", "--since", "yesterday"}, `--since "yesterday": want a date such as 2026-12-01`},
		{[]string{"--repo", "gcc", "--format", "xml"}, `--format "xml": want benchfmt`},
		{[]string{"--repo", "llvm"}, "llvm"},
		{[]string{}, "--repo is required"},
		{[]string{"--repo", "gcc", "--targets", "riscv"}, "riscv"},
	} {
		code, _, errs := tcbot(t, append([]string{"export", "--config", cfg}, tc.args...)...)
		if code == 0 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %q; want an error with %q", tc.args, code, errs, tc.want)
		}
	}
}
