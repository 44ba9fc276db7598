package measure_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/tcbot/tcbot/benchmarks"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/demo"
	"github.com/tcbot/tcbot/bot/insncount"
	"github.com/tcbot/tcbot/bot/measure"
)

// benchConfig writes the demo repository and a config with a fresh
// workdir; the plugin is built once outside the timed part.
func benchConfig(b *testing.B, plugin string) (*config.Config, []string) {
	b.Helper()
	dir := b.TempDir()
	shas, err := demo.MakeRepo(filepath.Join(dir, "toolchain"), demo.Commits)
	if err != nil {
		b.Fatal(err)
	}
	text := demo.Config(dir) + "plugin: " + plugin + "\n"
	path := filepath.Join(dir, "tcbot.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	return cfg, shas
}

func plugin(b *testing.B) string {
	sub, _ := fs.Sub(benchmarks.FS, "plugin")
	p, err := insncount.Build(context.Background(), sub, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkColdRun measures base and head of the demo's regression (they
// differ in flags, so everything is built and run) on both arches with the
// whole suite, from an empty workdir.
func BenchmarkColdRun(b *testing.B) {
	p := plugin(b)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		cfg, shas := benchConfig(b, p)
		m, err := measure.New(context.Background(), cfg, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		rep, st, err := m.Run(context.Background(), measure.Request{Repo: "toolchain", Rev: shas[2], Base: shas[0]})
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if rep.Verdict != "regression" {
			b.Fatalf("verdict %s", rep.Verdict)
		}
		m.Store.Close()
		b.ReportMetric(st.Wall.Seconds(), "wall-s")
		b.ReportMetric(st.Busy.Seconds(), "compilers+qemu-s")
		b.ReportMetric(100*(st.Wall-st.Busy).Seconds()/st.Wall.Seconds(), "overhead-%")
		b.ReportMetric(float64(st.Builds), "builds")
		b.ReportMetric(float64(st.Runs), "runs")
		b.StartTimer()
	}
}

// BenchmarkSandboxCost runs the cold run of BenchmarkColdRun with and
// without the sandbox, interleaved (none, bubblewrap, none, ...) so the
// shared machine's drift hits both alike, and reports both walls and the
// ratio: every compile and every qemu-user run is one more bwrap.
func BenchmarkSandboxCost(b *testing.B) {
	p := plugin(b)
	const pairs = 3
	var wall [2]float64
	for i := 0; i < b.N; i++ {
		for k := 0; k < 2*pairs; k++ {
			cfg, shas := benchConfig(b, p)
			m, err := measure.New(context.Background(), cfg, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			if k%2 == 0 {
				m.SetSandbox(nil)
			}
			rep, st, err := m.Run(context.Background(), measure.Request{Repo: "toolchain", Rev: shas[2], Base: shas[0]})
			m.Store.Close()
			if err != nil {
				b.Fatal(err)
			}
			if rep.Verdict != "regression" {
				b.Fatalf("verdict %s", rep.Verdict)
			}
			wall[k%2] += st.Wall.Seconds()
		}
	}
	n := float64(b.N * pairs)
	b.ReportMetric(wall[0]/n, "no-sandbox-wall-s")
	b.ReportMetric(wall[1]/n, "bubblewrap-wall-s")
	b.ReportMetric(100*(wall[1]-wall[0])/wall[0], "sandbox-cost-%")
}

// BenchmarkWarmRerun measures the same change again: everything is in the
// store, so it costs resolving revisions and toolchains and reading results.
func BenchmarkWarmRerun(b *testing.B) {
	p := plugin(b)
	cfg, shas := benchConfig(b, p)
	m, err := measure.New(context.Background(), cfg, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Store.Close()
	req := measure.Request{Repo: "toolchain", Rev: shas[2], Base: shas[0]}
	if _, _, err := m.Run(context.Background(), req); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// A new process each time in real life: a fresh Measurer with a
		// cold toolchain-identity cache.
		m2, err := measure.New(context.Background(), cfg, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		_, st, err := m2.Run(context.Background(), req)
		if err != nil {
			b.Fatal(err)
		}
		if st.Runs != 0 || st.Builds != 0 {
			b.Fatalf("warm rerun built %d and ran %d", st.Builds, st.Runs)
		}
		m2.Store.Close()
		b.ReportMetric(st.Wall.Seconds(), "wall-s")
	}
}
