package build_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tcbot/tcbot/bot/bisect"
	"github.com/tcbot/tcbot/bot/demo"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/source"
	"github.com/tcbot/tcbot/bot/toolchain/build/realsrc"
)

// gccRange is 32 commits on top of the GCC demo's history: ChangeLog
// notes, with the one-file back-end change of the cost tables (a real
// regression of both Arm back ends) as the 20th.
func gccRange() (changes []demo.Change, culprit string) {
	changes = append(changes, demo.GCCChanges...)
	for i := 1; i <= 32; i++ {
		if i == 20 {
			changes = append(changes, gccCostTables)
			continue
		}
		changes = append(changes, demo.Change{Subject: fmt.Sprintf("ChangeLog: note %d", i), Edits: []demo.Edit{{
			File: "gcc/ChangeLog",
			Old:  "\t* GCC 12.2.0 released (tag releases/gcc-12.2.0).\n",
			New:  fmt.Sprintf("\t* GCC 12.2.0 released (tag releases/gcc-12.2.0).\n\t* Note %d.\n", i),
		}}})
	}
	return changes, gccCostTables.Subject
}

// BenchmarkBisectGCC bisects a 32-commit GCC range with one injected
// back-end regression on armv8, with the build tree warm (at the range's
// good end), and reports the time and the number of cc1 builds. The
// issue's bound is 15 minutes on this 2-core machine. Opt in with
// TCBOT_TEST_REAL=1 (make bench-real); a cold tree first costs a 20-minute
// build.
func BenchmarkBisectGCC(b *testing.B) {
	if os.Getenv("TCBOT_TEST_REAL") == "" {
		b.Skip("set TCBOT_TEST_REAL=1 (make bench-real): builds GCC from source")
	}
	realsrc.Need(b, demo.GCCTarball, "gcc-12-source", true)
	changes, culpritSubject := gccRange()
	repo := realsrc.Make(b, "gcc-12.2.0-bisect", demo.GCCTarball, changes)
	good := repo.SHAs[demo.GCCChanges[2].Subject]
	bad := repo.SHAs[changes[len(changes)-1].Subject]
	culprit := repo.SHAs[culpritSubject]
	work := filepath.Join(realsrc.CacheDir(b), "gcc-work")
	m := realMeasurer(b, work, "gcc", repo.Dir, "build: {recipe: gcc}")
	ctx := context.Background()
	targets := []string{"armv8-qemu"}
	// Warm: the tree at the good end (built before when it is cached).
	if _, _, err := m.Run(ctx, measure.Request{Repo: "gcc", Rev: good, Base: good, Targets: targets}); err != nil {
		b.Fatal(err)
	}
	mirror, err := source.Open(filepath.Join(work, "git"), "gcc", repo.Dir)
	if err != nil {
		b.Fatal(err)
	}
	cacheDir := filepath.Join(work, "toolchains", "gcc", "gcc-overlay-armv8")
	// builds lists the cached builds' manifests: how long each took.
	builds := func() map[string]float64 {
		ms, _ := filepath.Glob(filepath.Join(cacheDir, "*", "tcbot-toolchain.json"))
		out := map[string]float64{}
		for _, p := range ms {
			var man builtManifest
			if data, err := os.ReadFile(p); err == nil && json.Unmarshal(data, &man) == nil {
				out[p] = man.Wall
			}
		}
		return out
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Every run builds: the range's cached compilers are dropped.
		for _, sha := range repo.SHAs {
			if sha == good {
				continue
			}
			ms, _ := filepath.Glob(filepath.Join(cacheDir, sha+"-*"))
			for _, d := range ms {
				os.RemoveAll(d)
			}
		}
		b.StopTimer()
		m = realMeasurer(b, work, "gcc", repo.Dir, "build: {recipe: gcc}") // a fresh store: nothing measured
		b.StartTimer()
		before := builds()
		t0 := time.Now()
		res, err := bisect.Run(ctx, bisect.Options{Repo: "gcc", Good: good, Bad: bad, Target: "armv8-qemu", Mirror: mirror,
			Measure: func(ctx context.Context, rev, base string) (*report.Report, error) {
				rep, _, err := m.Run(ctx, measure.Request{Repo: "gcc", Rev: rev, Base: base, Targets: targets})
				return rep, err
			}})
		if err != nil {
			b.Fatal(err)
		}
		wall := time.Since(t0)
		var out bytes.Buffer
		bisect.Text(&out, res)
		b.Logf("\n%s", out.String())
		if res.Outcome != bisect.Culprit || res.Culprit.SHA != culprit {
			b.Fatalf("outcome %s culprit %+v, want %s", res.Outcome, res.Culprit, culprit)
		}
		n, buildTime := 0, 0.0
		for p, w := range builds() {
			if _, ok := before[p]; !ok {
				n++
				buildTime += w
			}
		}
		b.ReportMetric(wall.Seconds(), "s/bisection")
		b.ReportMetric(float64(n), "cc1-builds")
		b.ReportMetric(buildTime, "build-s")
		b.ReportMetric(float64(res.Rounds), "rounds")
		fmt.Printf("BenchmarkBisectGCC: %d commits bisected to %s in %s: %d rounds, %d commits measured, %d cc1 builds taking %.0f s in all (bound: 15 minutes)\n",
			res.Commits, res.Culprit.SHA[:12], wall.Round(time.Second), res.Rounds, res.Probed, n, buildTime)
		if wall > 15*time.Minute {
			b.Errorf("bisection took %s, over the 15-minute bound", wall.Round(time.Second))
		}
	}
}
