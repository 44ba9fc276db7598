package main

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
	"golang.org/x/perf/benchproc"

	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/store"
)

var (
	revOld = strings.Repeat("0", 40)
	revA   = strings.Repeat("a", 40)
	revB   = strings.Repeat("b", 40)
)

// exportFixture is a SQLite store with two commits, a then b, measured on
// two targets, plus an older commit in November; b was measured before a
// (a backfill), and a change a→b says which comes first. It returns the
// config.
func exportFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tcbot.yaml")
	if err := os.WriteFile(cfg, []byte(`workdir: work
repos:
  - {name: gcc, url: /nonexistent/gcc}
targets:
  - {name: armv7-qemu, arch: armv7, executor: qemu-user}
  - {name: armv8-qemu, arch: armv8, executor: qemu-user}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "work", "tcbot.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	put := func(rev, target string, at time.Time, insns float64, times ...float64) {
		k := store.Key{Repo: "gcc", Revision: rev, ToolchainID: "tc-" + rev[:2], Target: target, Suite: "bench", SuiteVersion: "v1"}
		r := func(bench, metric, unit string, s ...float64) result.Result {
			return result.Result{Target: target, Suite: "bench", Benchmark: bench, Metric: metric, Unit: unit, Samples: s}
		}
		m := &store.Measurement{Key: k, Subject: "subject, with \"quotes\"\nof " + rev[:4], Toolchain: "gcc 12, -O2", CreatedAt: at,
			Results: []result.Result{
				r("http-parse", result.Instructions, "count", insns),
				r("http-parse", result.Time, "s", times...),
				r("http-parse", result.CodeSize, "bytes", 4096),
				r("http-parse", result.Status, "pass/fail", result.Pass),
				r("sha-256", result.Instructions, "count", 500),
				r("sha-256", result.Status, "pass/fail", result.Pass),
				r("broken", result.Instructions, "count", 7),
				r("broken", result.Status, "pass/fail", result.Fail),
			}}
		if err := st.Put(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	put(revOld, "armv8-qemu", time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC), 900, 0.4)
	put(revB, "armv8-qemu", time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), 1250, 0.61, 0.62, 0.6)
	put(revA, "armv8-qemu", time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), 1000, 0.5, 0.52, 0.51)
	put(revA, "armv7-qemu", time.Date(2026, 12, 1, 10, 1, 0, 0, time.UTC), 1100, 0.6)
	if _, err := store.InsertChange(ctx, st.Q(), &store.Change{Repo: "gcc", Base: revA, Head: revB, Origin: "push"}); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func export(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := tcbot(t, append([]string{"export"}, args...)...)
	if code != 0 {
		t.Fatalf("tcbot export %v: exit %d: %s", args, code, errs)
	}
	return out
}

// block is what benchfmt reads of one measurement.
type block struct {
	commit, target string
	config         map[string]string
	values         map[string][]float64 // by "name unit"
}

// readBenchfmt parses an export with golang.org/x/perf/benchfmt, which is
// what benchstat reads, failing on any syntax error.
func readBenchfmt(t *testing.T, out string) ([]*block, benchfmt.UnitMetadataMap) {
	t.Helper()
	r := benchfmt.NewReader(strings.NewReader(out), "export")
	units := benchfmt.UnitMetadataMap{}
	var blocks []*block
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.SyntaxError:
			t.Fatalf("benchfmt: %v\n%s", rec, out)
		case *benchfmt.UnitMetadata:
			units[rec.UnitMetadataKey] = rec
		case *benchfmt.Result:
			commit, target := rec.GetConfig("commit"), rec.GetConfig("target")
			if len(blocks) == 0 || blocks[len(blocks)-1].commit != commit || blocks[len(blocks)-1].target != target {
				b := &block{commit: commit, target: target, config: map[string]string{}, values: map[string][]float64{}}
				for _, c := range rec.Config {
					b.config[c.Key] = string(c.Value)
				}
				blocks = append(blocks, b)
			}
			b := blocks[len(blocks)-1]
			for _, v := range rec.Values {
				k := string(rec.Name) + " " + v.Unit
				b.values[k] = append(b.values[k], v.Value)
			}
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return blocks, units
}

// TestExportBenchfmt: the export parses with benchfmt, a block per
// commit and target in commit order, every sample of a noisy metric on
// its own line, exact values, names benchstat does not misread, unit
// metadata, and --since honoured.
func TestExportBenchfmt(t *testing.T) {
	cfg := exportFixture(t)
	out := export(t, "--config", cfg, "--repo", "gcc", "--since", "2026-12-01")
	blocks, units := readBenchfmt(t, out)

	var order []string
	for _, b := range blocks {
		order = append(order, b.commit[:1]+"@"+b.target)
	}
	// b was measured first, but the change a→b puts a first; November's
	// commit is before --since.
	if want := []string{"a@armv7-qemu", "a@armv8-qemu", "b@armv8-qemu"}; !reflect.DeepEqual(order, want) {
		t.Fatalf("blocks %v, want %v:\n%s", order, want, out)
	}
	a8 := blocks[1]
	wantValues := map[string][]float64{
		"Http-parse instructions/op": {1000},
		"Http-parse sec/op":          {0.5, 0.52, 0.51},
		"Http-parse code-B":          {4096},
		"Sha_256 instructions/op":    {500},
	}
	if !reflect.DeepEqual(a8.values, wantValues) {
		t.Errorf("a on armv8:\n got %v\nwant %v", a8.values, wantValues)
	}
	wantConfig := map[string]string{
		"repo": "gcc", "commit": revA, "subject": `subject, with "quotes" of aaaa`, "target": "armv8-qemu",
		"toolchain": "gcc 12, -O2", "toolchain-id": "tc-aa", "suite": "bench", "suite-version": "v1", "date": "2026-12-01T10:00:00Z",
	}
	if !reflect.DeepEqual(a8.config, wantConfig) {
		t.Errorf("a on armv8: config\n got %v\nwant %v", a8.config, wantConfig)
	}
	if got := blocks[2].values["Http-parse sec/op"]; !reflect.DeepEqual(got, []float64{0.61, 0.62, 0.6}) {
		t.Errorf("b's times %v", got)
	}
	if strings.Contains(out, "\nBenchmarkBroken") || !strings.Contains(out, "\n# BenchmarkBroken failed") {
		t.Errorf("a failed benchmark must have a comment and no result lines:\n%s", out)
	}
	for unit, want := range map[string]benchmath.Assumption{"instructions/op": benchmath.AssumeExact, "code-B": benchmath.AssumeExact, "sec/op": benchmath.AssumeNothing} {
		if got := units.GetAssumption(unit); got != want {
			t.Errorf("unit %s: benchstat would assume %s, want %s", unit, got.SummaryLabel(), want.SummaryLabel())
		}
		if units.GetBetter(unit) != -1 {
			t.Errorf("unit %s: lower is not better", unit)
		}
	}
}

// TestExportBenchstat compares the two commits as benchstat does
// (benchproc projections, benchmath assumptions from the unit metadata):
// the instruction count is an exact, significant change; three time
// samples a side cannot be significant (Mann-Whitney's smallest p is
// 0.1), and benchstat says so.
func TestExportBenchstat(t *testing.T) {
	cfg := exportFixture(t)
	out := export(t, "--config", cfg, "--repo", "gcc", "--since", "2026-12-01T00:00:00Z", "--targets", "armv8-qemu")

	filter, err := benchproc.NewFilter("*")
	if err != nil {
		t.Fatal(err)
	}
	var parser benchproc.ProjectionParser
	rowBy, unitField, err := parser.ParseWithUnit(".name", filter)
	if err != nil {
		t.Fatal(err)
	}
	colBy, err := parser.Parse("commit", filter)
	if err != nil {
		t.Fatal(err)
	}
	nameField := rowBy.Fields()[0]
	samples := map[string]map[string][]float64{} // "name unit" → commit → values
	r := benchfmt.NewReader(strings.NewReader(out), "export")
	units := benchfmt.UnitMetadataMap{}
	var cols []string
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.UnitMetadata:
			units[rec.UnitMetadataKey] = rec
		case *benchfmt.Result:
			if ok, _ := filter.Apply(rec); !ok {
				continue
			}
			col := colBy.Project(rec).StringValues()
			if len(cols) == 0 || cols[len(cols)-1] != col {
				cols = append(cols, col)
			}
			for i, k := range rowBy.ProjectValues(rec) {
				row := k.Get(nameField) + " " + k.Get(unitField)
				if samples[row] == nil {
					samples[row] = map[string][]float64{}
				}
				samples[row][col] = append(samples[row][col], rec.Values[i].Value)
			}
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []string{revA, revB}; !reflect.DeepEqual(cols, want) {
		t.Fatalf("benchstat's columns %v, want %v (commit order)", cols, want)
	}
	// delta is the change column benchstat prints for a row.
	delta := func(row string) string {
		unit := row[strings.IndexByte(row, ' ')+1:]
		assume := units.GetAssumption(unit)
		s1 := benchmath.NewSample(samples[row][revA], &benchmath.DefaultThresholds)
		s2 := benchmath.NewSample(samples[row][revB], &benchmath.DefaultThresholds)
		return assume.Compare(s1, s2).FormatDelta(assume.Summary(s1, 0.95).Center, assume.Summary(s2, 0.95).Center)
	}
	if d := delta("Http-parse instructions/op"); d != "+25.00%" {
		t.Errorf("instructions 1000 → 1250: benchstat would print %q, want +25.00%%", d)
	}
	if d := delta("Http-parse code-B"); d != "0.00%" {
		t.Errorf("code size unchanged: benchstat would print %q, want 0.00%%", d)
	}
	if d := delta("Http-parse sec/op"); d != "~" {
		t.Errorf("time, 3 samples a side: benchstat would print %q, want ~", d)
	}
	if _, ok := samples["Sha_256 instructions/op"]; !ok {
		t.Errorf("sha-256 is not a row of its own (GOMAXPROCS misread?): %v", samples)
	}
}

// TestExportCSV: every sample a row, values exact, quoting per RFC 4180,
// in commit order; --targets and --until narrow it; --output writes the
// same bytes to a file.
func TestExportCSV(t *testing.T) {
	cfg := exportFixture(t)
	out := export(t, "--config", cfg, "--repo", "gcc", "--format", "csv", "--targets", "armv8-qemu")
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != "repo,commit,subject,target,toolchain,suite,benchmark,metric,unit,sample,value,created_at" {
		t.Fatalf("header %v", recs[0])
	}
	// Per measurement: 1 insn + n times + 1 size + 1 status (http-parse),
	// 2 (sha-256), 2 (broken): old 8, a 10, b 10.
	if len(recs)-1 != 28 {
		t.Errorf("%d rows, want 28", len(recs)-1)
	}
	var commits []string
	for _, r := range recs[1:] {
		if r[3] != "armv8-qemu" {
			t.Errorf("row of target %s", r[3])
		}
		if len(commits) == 0 || commits[len(commits)-1] != r[1] {
			commits = append(commits, r[1])
		}
	}
	if want := []string{revOld, revA, revB}; !reflect.DeepEqual(commits, want) {
		t.Errorf("commits in order %v, want %v", commits, want)
	}
	want := []string{"gcc", revB, "subject, with \"quotes\"\nof bbbb", "armv8-qemu", "gcc 12, -O2", "bench", "http-parse", "time", "s", "1", "0.62", "2026-12-01T09:00:00Z"}
	found := false
	for _, r := range recs[1:] {
		if reflect.DeepEqual(r, want) {
			found = true
		}
	}
	if !found {
		t.Errorf("no row %q:\n%s", want, out)
	}

	file := filepath.Join(t.TempDir(), "gcc.csv")
	export(t, "--config", cfg, "--repo", "gcc", "--format", "csv", "--targets", "armv8-qemu", "--output", file)
	if b, err := os.ReadFile(file); err != nil || string(b) != out {
		t.Errorf("--output wrote %q (%v), want what stdout had", b, err)
	}

	narrowed := export(t, "--config", cfg, "--repo", "gcc", "--format", "csv", "--until", "2026-12-01T09:30:00+00:00")
	recs, err = csv.NewReader(strings.NewReader(narrowed)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs[1:] {
		if r[1] == revA {
			t.Errorf("--until: a row measured after it: %v", r)
		}
	}
	if len(recs)-1 != 18 {
		t.Errorf("--until: %d rows, want old's 8 and b's 10", len(recs)-1)
	}
	oldInsns := ""
	for _, r := range recs[1:] {
		if r[1] == revOld && r[6] == "http-parse" && r[7] == "instructions" {
			oldInsns = r[10]
		}
	}
	if v, err := strconv.ParseFloat(oldInsns, 64); err != nil || v != 900 {
		t.Errorf("--until: old's instruction count %q, want 900", oldInsns)
	}
}

// TestExportEmpty: a window with nothing in it is not an error, but says
// so on stderr; CSV still has its header.
func TestExportEmpty(t *testing.T) {
	cfg := exportFixture(t)
	code, out, errs := tcbot(t, "export", "--config", cfg, "--repo", "gcc", "--format", "csv", "--since", "2027-01-01")
	if code != 0 || out != strings.Join(csvHeader, ",")+"\n" || !strings.Contains(errs, "no measurements of gcc match (since 2027-01-01)") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestExportErrors(t *testing.T) {
	cfg := exportFixture(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"since not a date", []string{"--repo", "gcc", "--since", "yesterday"}, `--since "yesterday": want a day such as 2026-12-01 (UTC) or an RFC 3339 time`},
		{"until in another format", []string{"--repo", "gcc", "--until", "01/12/2026"}, `--until "01/12/2026": want a day`},
		{"until before since", []string{"--repo", "gcc", "--since", "2026-12-02", "--until", "2026-12-01"}, "--until 2026-12-01 is not after --since 2026-12-02"},
		{"unknown format", []string{"--repo", "gcc", "--format", "xml"}, `--format "xml": want benchfmt (for benchstat) or csv`},
		{"unknown repo", []string{"--repo", "llvm"}, `--repo: unknown repo "llvm": ` + cfg + ` configures gcc, and database`},
		{"no repo", []string{}, "--repo is required"},
		{"unknown target", []string{"--repo", "gcc", "--targets", "armv8-qemu,riscv"}, `--targets: unknown target "riscv": ` + cfg + ` configures armv7-qemu, armv8-qemu; gcc was measured on armv7-qemu, armv8-qemu`},
		{"output in a missing directory", []string{"--repo", "gcc", "--output", filepath.Join(t.TempDir(), "no", "such", "dir", "x.txt")}, "--output "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := tcbot(t, append([]string{"export", "--config", cfg}, tc.args...)...)
			if code != 1 || !strings.Contains(errs, tc.want) || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and an error with %q", code, out, errs, tc.want)
			}
		})
	}
}

// TestExportRepoOnlyInDatabase: a repository removed from the config
// still exports its history.
func TestExportRepoOnlyInDatabase(t *testing.T) {
	cfg := exportFixture(t)
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(b), "name: gcc", "name: llvm", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	blocks, _ := readBenchfmt(t, export(t, "--config", cfg, "--repo", "gcc"))
	if len(blocks) != 4 || blocks[0].commit != revOld {
		t.Errorf("%d blocks, first %+v; want 4, the November one first", len(blocks), blocks[0])
	}
}

func TestBenchName(t *testing.T) {
	for in, want := range map[string]string{
		"http-parse":      "BenchmarkHttp-parse",
		"sha-256":         "BenchmarkSha_256",
		"Sha256":          "BenchmarkSha256",
		"505.mcf_r":       "BenchmarkX505.mcf_r",
		"two words":       "BenchmarkTwo_words",
		"dhrystone/-O2":   "BenchmarkDhrystone/-O2",
		"crc-":            "BenchmarkCrc-",
		"":                "BenchmarkX",
		"ünïcode":         "BenchmarkÜnïcode",
		"_private-helper": "BenchmarkX_private-helper",
	} {
		got := benchName(in)
		if got != want {
			t.Errorf("benchName(%q) = %q, want %q", in, got, want)
		}
		// benchfmt must read it back as one benchmark without GOMAXPROCS.
		r := benchfmt.NewReader(strings.NewReader(got+" 1 5 instructions/op\n"), "x")
		if !r.Scan() {
			t.Fatalf("%q: no result", got)
		}
		res, ok := r.Result().(*benchfmt.Result)
		if !ok {
			t.Fatalf("%q: %v", got, r.Result())
		}
		if _, parts := res.Name.Parts(); len(parts) > 0 && strings.HasPrefix(string(parts[len(parts)-1]), "-") {
			t.Errorf("%q: benchstat reads GOMAXPROCS %s", got, parts[len(parts)-1])
		}
	}
}

// TestFormatValue: exact (reads back as the same float64) and without an
// exponent for the numbers tcbot measures.
func TestFormatValue(t *testing.T) {
	for v, want := range map[float64]string{
		1234567890:          "1234567890",
		0.52:                "0.52",
		0.30000000000000004: "0.30000000000000004",
		0:                   "0",
		-3.5:                "-3.5",
		1e-9:                "1e-09",
		4.5e21:              "4.5e+21",
	} {
		got := formatValue(v)
		if got != want {
			t.Errorf("formatValue(%v) = %q, want %q", v, got, want)
		}
		if back, err := strconv.ParseFloat(got, 64); err != nil || back != v {
			t.Errorf("formatValue(%v) = %q reads back as %v (%v)", v, got, back, err)
		}
	}
}
