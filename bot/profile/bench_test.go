package profile_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// BenchmarkAttributionOverhead measures what per-function attribution
// (the plugin's tbs=) costs on top of plain counting, on four suite
// benchmarks under qemu-aarch64: the emulator's CPU time with out= alone
// and with out= and tbs=, runs alternated so drift hits both alike.
// Reported: overhead-% (median over benchmarks of the per-benchmark
// median ratio, minus 1). Bound (issue 15): under 15%.
func BenchmarkAttributionOverhead(b *testing.B) {
	dir := b.TempDir()
	plugin := filepath.Join(dir, "insncount.so")
	if msg, err := exec.Command("gcc", "-O2", "-shared", "-fPIC", "-fvisibility=hidden", "-o", plugin, "../../benchmarks/plugin/insncount.c").CombinedOutput(); err != nil {
		b.Fatalf("build plugin: %v\n%s", err, msg)
	}
	benches := []struct{ name, src, arg string }{
		{"sha256", "sha256.c", "512"}, {"matmul", "matmul.c", "136"},
		{"hashtable", "hashtable.c", "60000"}, {"interp", "interp.c", "10000"},
	}
	for _, bb := range benches {
		cmd := exec.Command("aarch64-linux-gnu-gcc", "-O2", "-static", "-I", "../../benchmarks", "-o", filepath.Join(dir, bb.name), filepath.Join("../../benchmarks", bb.src), "-lm")
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("build %s: %v\n%s", bb.name, err, msg)
		}
	}
	cpu := func(bench, arg string, tbs bool) time.Duration {
		opt := plugin + ",out=" + filepath.Join(dir, "count")
		if tbs {
			opt += ",tbs=" + filepath.Join(dir, "tbs")
		}
		cmd := exec.Command("qemu-aarch64", "-cpu", "cortex-a57", "-plugin", opt, filepath.Join(dir, bench), arg)
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", bench, err, msg)
		}
		return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	const rounds = 5
	var ratios []float64
	var plainTotal, tbsTotal time.Duration
	for i := 0; i < b.N; i++ {
		for _, bb := range benches {
			var rs []float64
			for r := 0; r < rounds; r++ {
				p := cpu(bb.name, bb.arg, false)
				t := cpu(bb.name, bb.arg, true)
				plainTotal += p
				tbsTotal += t
				rs = append(rs, float64(t)/float64(p))
			}
			sort.Float64s(rs)
			b.Logf("%s: with tbs= / without: median %.3f (%.3f..%.3f)", bb.name, rs[rounds/2], rs[0], rs[rounds-1])
			ratios = append(ratios, rs[rounds/2])
		}
	}
	sort.Float64s(ratios)
	med := ratios[len(ratios)/2]
	if len(ratios)%2 == 0 {
		med = (ratios[len(ratios)/2-1] + ratios[len(ratios)/2]) / 2
	}
	b.ReportMetric((med-1)*100, "overhead-%")
	b.ReportMetric(plainTotal.Seconds()/float64(b.N), "plain-cpu-s")
	b.ReportMetric(tbsTotal.Seconds()/float64(b.N), "tbs-cpu-s")
	_ = os.Remove
}
