package store

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tcbot/tcbot/bot/result"
)

// exportTests run on SQLite and PostgreSQL alike.
var exportTests = []struct {
	name string
	test func(t *testing.T, open opener)
}{
	{"CommitOrderBeatsTime", exportCommitOrder},
	{"Window", exportWindow},
	{"Targets", exportTargets},
	{"Results", exportResults},
	{"CycleFallsBackToTime", exportCycle},
	{"MeasuredTargets", exportMeasuredTargets},
}

func TestExportSQLite(t *testing.T) {
	for _, c := range exportTests {
		t.Run(c.name, func(t *testing.T) { c.test(t, openSQLite) })
	}
}

func TestExportPostgres(t *testing.T) {
	for _, c := range exportTests {
		t.Run(c.name, func(t *testing.T) { c.test(t, openPostgres) })
	}
}

func rev(c byte) string { return strings.Repeat(string(c), 40) }

var day0 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// putAt stores a measurement of rev on target made at day0 + hours, with
// one instruction count.
func putAt(t *testing.T, s *Store, repo, rev, target string, hours int, insns float64) {
	t.Helper()
	m := &Measurement{
		Key:       Key{Repo: repo, Revision: rev, ToolchainID: "tc", Target: target, Suite: "bench", SuiteVersion: "v1"},
		Subject:   "subject of " + rev[:4],
		CreatedAt: day0.Add(time.Duration(hours) * time.Hour),
		Results: []result.Result{
			{Target: target, Suite: "bench", Benchmark: "sha", Metric: result.Instructions, Unit: "count", Samples: []float64{insns}},
		},
	}
	if err := s.Put(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

func change(t *testing.T, s *Store, repo, base, head string) {
	t.Helper()
	if _, err := InsertChange(context.Background(), s.Q(), &Change{Repo: repo, Base: base, Head: head, Origin: "push"}); err != nil {
		t.Fatal(err)
	}
}

func exported(t *testing.T, s *Store, f ExportFilter) []string {
	t.Helper()
	ms, err := s.Export(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Revision[:1]+"@"+m.Target)
	}
	return out
}

// The changes say a < b < c (c through x, which has no measurement), but
// they were measured newest first (a backfill); u, which no change
// orders, goes by its time.
func exportCommitOrder(t *testing.T, open opener) {
	s := open(t)
	putAt(t, s, "gcc", rev('c'), "armv8-qemu", 1, 3)
	putAt(t, s, "gcc", rev('u'), "armv8-qemu", 2, 9)
	putAt(t, s, "gcc", rev('b'), "armv8-qemu", 3, 2)
	putAt(t, s, "gcc", rev('b'), "armv7-qemu", 3, 2)
	putAt(t, s, "gcc", rev('a'), "armv8-qemu", 4, 1)
	change(t, s, "gcc", rev('a'), rev('b'))
	change(t, s, "gcc", rev('b'), rev('x'))
	change(t, s, "gcc", rev('x'), rev('c'))
	change(t, s, "llvm", rev('c'), rev('a')) // another repository's order does not count
	got := exported(t, s, ExportFilter{Repo: "gcc"})
	// u has no predecessor and is older than a.
	want := []string{"u@armv8-qemu", "a@armv8-qemu", "b@armv7-qemu", "b@armv8-qemu", "c@armv8-qemu"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

// Since is inclusive, Until exclusive; other repositories never leak in.
func exportWindow(t *testing.T, open opener) {
	s := open(t)
	putAt(t, s, "gcc", rev('a'), "armv8-qemu", 0, 1)
	putAt(t, s, "gcc", rev('b'), "armv8-qemu", 24, 2)
	putAt(t, s, "gcc", rev('c'), "armv8-qemu", 48, 3)
	putAt(t, s, "llvm", rev('d'), "armv8-qemu", 30, 4)
	for _, tc := range []struct {
		name         string
		since, until time.Time
		want         []string
	}{
		{"all", time.Time{}, time.Time{}, []string{"a@armv8-qemu", "b@armv8-qemu", "c@armv8-qemu"}},
		{"since is inclusive", day0.Add(24 * time.Hour), time.Time{}, []string{"b@armv8-qemu", "c@armv8-qemu"}},
		{"until is exclusive", time.Time{}, day0.Add(48 * time.Hour), []string{"a@armv8-qemu", "b@armv8-qemu"}},
		{"one day", day0.Add(time.Hour), day0.Add(25 * time.Hour), []string{"b@armv8-qemu"}},
		{"since in another zone", day0.Add(24 * time.Hour).In(time.FixedZone("CET", 3600)), time.Time{}, []string{"b@armv8-qemu", "c@armv8-qemu"}},
		{"empty window", day0.Add(100 * time.Hour), time.Time{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := exported(t, s, ExportFilter{Repo: "gcc", Since: tc.since, Until: tc.until}); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func exportTargets(t *testing.T, open opener) {
	s := open(t)
	for i, target := range []string{"armv7-qemu", "armv8-qemu", "armv8-board"} {
		putAt(t, s, "gcc", rev('a'), target, i, 1)
	}
	got := exported(t, s, ExportFilter{Repo: "gcc", Targets: []string{"armv8-board", "armv7-qemu"}})
	if want := []string{"a@armv7-qemu", "a@armv8-board"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := exported(t, s, ExportFilter{Repo: "gcc", Targets: []string{"riscv"}}); got != nil {
		t.Errorf("unmeasured target: %v", got)
	}
}

// Each measurement carries exactly its own results, with every field.
func exportResults(t *testing.T, open opener) {
	s := open(t)
	ctx := context.Background()
	m := &Measurement{
		Key:       Key{Repo: "gcc", Revision: rev('a'), ToolchainID: "tc1", Target: "armv8-qemu", Suite: "bench", SuiteVersion: "v1"},
		Subject:   "Fix the \"vectoriser\", again",
		Toolchain: "gcc 15.1 -O2",
		CreatedAt: day0,
		Results: []result.Result{
			{Target: "armv8-qemu", Suite: "bench", Benchmark: "sha", Metric: result.Time, Unit: "s", Samples: []float64{0.1, 0.30000000000000004, 1e-9}, Note: "noisy"},
			{Target: "armv8-qemu", Suite: "bench", Benchmark: "sha", Metric: result.Instructions, Unit: "count", Samples: []float64{123456789012}, Identical: true},
		},
		Binaries: map[string]Binary{"sha": {SHA256: "ab"}},
	}
	if err := s.Put(ctx, m); err != nil {
		t.Fatal(err)
	}
	putAt(t, s, "gcc", rev('b'), "armv8-qemu", 1, 7)
	ms, err := s.Export(ctx, ExportFilter{Repo: "gcc"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 {
		t.Fatalf("%d measurements, want 2", len(ms))
	}
	got := ms[0]
	if got.Key != m.Key || got.Subject != m.Subject || got.Toolchain != m.Toolchain || !got.CreatedAt.Equal(m.CreatedAt) {
		t.Errorf("measurement %+v, want %+v", got, m)
	}
	// Results come by benchmark, then metric.
	want := []result.Result{m.Results[1], m.Results[0]}
	if !reflect.DeepEqual(got.Results, want) {
		t.Errorf("results\n%+v, want\n%+v", got.Results, want)
	}
	if len(ms[1].Results) != 1 || ms[1].Results[0].Samples[0] != 7 {
		t.Errorf("b's results: %+v", ms[1].Results)
	}
}

// a and b were each measured as the other's base: neither comes first by
// the changes, so time decides, and the export still ends.
func exportCycle(t *testing.T, open opener) {
	s := open(t)
	putAt(t, s, "gcc", rev('b'), "armv8-qemu", 1, 2)
	putAt(t, s, "gcc", rev('a'), "armv8-qemu", 2, 1)
	putAt(t, s, "gcc", rev('c'), "armv8-qemu", 0, 3)
	change(t, s, "gcc", rev('a'), rev('b'))
	change(t, s, "gcc", rev('b'), rev('a'))
	change(t, s, "gcc", rev('a'), rev('c'))
	got := exported(t, s, ExportFilter{Repo: "gcc"})
	if want := []string{"b@armv8-qemu", "a@armv8-qemu", "c@armv8-qemu"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func exportMeasuredTargets(t *testing.T, open opener) {
	s := open(t)
	putAt(t, s, "gcc", rev('a'), "armv8-qemu", 0, 1)
	putAt(t, s, "gcc", rev('b'), "armv8-qemu", 1, 1)
	putAt(t, s, "gcc", rev('b'), "armv7-qemu", 1, 1)
	putAt(t, s, "llvm", rev('b'), "riscv", 1, 1)
	got, err := s.MeasuredTargets(context.Background(), "gcc")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"armv7-qemu", "armv8-qemu"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got, err := s.MeasuredTargets(context.Background(), "binutils"); err != nil || got != nil {
		t.Errorf("unmeasured repository: %v, %v", got, err)
	}
}
