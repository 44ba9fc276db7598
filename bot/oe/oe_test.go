package oe

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/result"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

// The fixtures in testdata/base and testdata/head are build directories of
// a qemuarm64 poky (scarthgap) build of tcbot-lamp-image, in the formats
// buildhistory.bbclass, buildstats.bbclass and oeqa write. Head's image is
// 3% bigger, its php package 5% smaller, and sysbench (built with
// `bitbake -k`, not in the image) fails do_compile.

func find(t *testing.T, rs []result.Result, bench, metric string) result.Result {
	t.Helper()
	for _, r := range rs {
		if r.Benchmark == bench && r.Metric == metric {
			return r
		}
	}
	t.Fatalf("no %s %s result", bench, metric)
	return result.Result{}
}

func findComparison(t *testing.T, cs []compare.Comparison, bench, metric string) compare.Comparison {
	t.Helper()
	for _, c := range cs {
		if c.Benchmark == bench && c.Metric == metric {
			return c
		}
	}
	t.Fatalf("no %s %s comparison", bench, metric)
	return compare.Comparison{}
}

func TestResultsOfFixture(t *testing.T) {
	rs, err := Results("testdata/base")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Target != "qemuarm64" || r.Suite != Suite {
			t.Errorf("%s %s: target %q suite %q, want qemuarm64 %s", r.Benchmark, r.Metric, r.Target, r.Suite, Suite)
		}
		m, ok := result.LookupMetric(r.Metric)
		if !ok || r.Unit != m.Unit {
			t.Errorf("%s %s: unit %q, want the metric's %q", r.Benchmark, r.Metric, r.Unit, m.Unit)
		}
		if len(r.Samples) != 1 {
			t.Errorf("%s %s: %d samples, want 1", r.Benchmark, r.Metric, len(r.Samples))
		}
	}
	for _, tc := range []struct {
		name, bench, metric string
		want                float64
	}{
		{"IMAGESIZE KiB in bytes", "tcbot-lamp-image", ImageSize, 163200 * 1024},
		{"PKGSIZE bytes from the package's latest file", "pkg/php", PackageSize, 12718930},
		{"renamed package found by PKG", "pkg/libc6", PackageSize, 3621988},
		{"recipe with a dash in PN, via buildhistory", "recipe/base-files", result.Status, result.Pass},
		{"native recipe split from its PF", "recipe/m4-native", result.Status, result.Pass},
		{"image recipe split from its PF", "recipe/tcbot-lamp-image", result.Status, result.Pass},
		{"oeqa test", "test/ping.PingTest.test_ping", result.Status, result.Pass},
		{"ptest result", "test/ptestresult.apr.testatomic", result.Status, result.Pass},
		{"LAMP throughput", LAMPBenchmark, RequestsPerSecond, 199.99},
		{"LAMP without errors passes", LAMPBenchmark, result.Status, result.Pass},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := find(t, rs, tc.bench, tc.metric).Samples[0]; got != tc.want {
				t.Errorf("%s %s = %v, want %v", tc.bench, tc.metric, got, tc.want)
			}
		})
	}

	// base-files' CPU time is the sum over its six tasks of rusage and
	// child rusage, user and system, as scripts/lib/buildstats.py has it.
	var want float64
	dir := "testdata/base/tmp/buildstats/20240315103045/base-files-3.0.14-r0"
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(data), "\n") {
			for _, k := range []string{"rusage ru_utime: ", "rusage ru_stime: "} {
				if i := strings.Index(l, k); i >= 0 {
					x, err := strconv.ParseFloat(strings.TrimSpace(l[i+len(k):]), 64)
					if err != nil {
						t.Fatal(err)
					}
					want += x
				}
			}
		}
	}
	if got := find(t, rs, "recipe/base-files", BuildCPUTime).Samples[0]; math.Abs(got-want) > 1e-9 || len(es) != 6 {
		t.Errorf("recipe/base-files build-cpu-time = %v over %d tasks, want %v over 6", got, len(es), want)
	}

	for _, r := range rs {
		switch {
		case r.Benchmark == "test/python.PythonTest.test_python":
			t.Errorf("a skipped test gave a result: %+v", r)
		case strings.HasPrefix(r.Benchmark, "test/ptestresult.sections"), strings.HasPrefix(r.Benchmark, "test/ptestresult.rawlogs"):
			t.Errorf("ptest extra data taken for a test: %+v", r)
		case strings.Contains(r.Benchmark, "reduced_proc_pressure"):
			t.Errorf("buildstats pressure samples taken for a recipe: %+v", r)
		case r.Benchmark == "pkg/sysbench":
			t.Errorf("a package not installed in the image gave a result: %+v", r)
		}
	}
}

func TestCompareFixtures(t *testing.T) {
	rep, err := Compare("testdata/base", "testdata/head")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != compare.Failed || rep.Verdict.ExitCode() != 2 {
		t.Errorf("verdict %s, want failed (exit 2)", rep.Verdict)
	}
	img := findComparison(t, rep.Comparisons, "tcbot-lamp-image", ImageSize)
	if img.Verdict != compare.Regression || img.DeltaPct == nil || math.Abs(*img.DeltaPct-3) > 0.01 {
		t.Errorf("image: %s %v, want a 3%% regression", img.Verdict, img.DeltaPct)
	}
	php := findComparison(t, rep.Comparisons, "pkg/php", PackageSize)
	if php.Verdict != compare.Improvement || php.DeltaPct == nil || math.Abs(*php.DeltaPct+5) > 0.01 {
		t.Errorf("pkg/php: %s %v, want a 5%% improvement", php.Verdict, php.DeltaPct)
	}
	sb := findComparison(t, rep.Comparisons, "recipe/sysbench", result.Status)
	if sb.Verdict != compare.Failed || !strings.HasPrefix(sb.Note, "do_compile failed") || !strings.Contains(sb.Note, "ERROR: oe_runmake failed") {
		t.Errorf("recipe/sysbench: %s %q, want failed naming do_compile and ending with its log", sb.Verdict, sb.Note)
	}
	if n := strings.Count(sb.Note, "\n"); n != logTail {
		t.Errorf("note holds %d log lines, want the last %d:\n%s", n, logTail, sb.Note)
	}
	for _, c := range rep.Comparisons {
		switch c.Benchmark {
		case "tcbot-lamp-image", "pkg/php", "recipe/sysbench":
			continue
		}
		if c.Verdict != compare.Unchanged {
			t.Errorf("%s %s: %s, want unchanged", c.Benchmark, c.Metric, c.Verdict)
		}
	}
	if len(rep.Info) == 0 {
		t.Error("no informational comparisons: build-cpu-time must be reported")
	}
	for _, c := range rep.Info {
		if c.Metric != BuildCPUTime || c.Verdict != compare.Unchanged || c.Note == "" {
			t.Errorf("info %s %s: %s %q, want build-cpu-time unchanged with a note", c.Benchmark, c.Metric, c.Verdict, c.Note)
		}
	}
	if want := "tcbot oe-compare --base testdata/base --head testdata/head"; rep.Reproduce != want {
		t.Errorf("Reproduce = %q, want %q", rep.Reproduce, want)
	}

	var got bytes.Buffer
	if err := report.Markdown(&got, *rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| :x: recipe/sysbench | status (pass/fail) | pass | fail |",
		"do\\_compile failed",
		"| :x: tcbot-lamp-image | image-size (bytes, lower is better) | 167,116,800 B | 172,130,304 B | +3.00% | exact |",
		"| :white_check_mark: pkg/php | package-size (bytes, lower is better) | 12,718,930 B | 12,082,984 B | -5.00% | exact |",
		"| qemuarm64 | pkg/apache2 | package-size (bytes, lower is better) | 1,843,524 B | 1,843,524 B | 0.00% | exact |",
		"informational comparisons (build-cpu-time; not part of the verdict)",
	} {
		if !strings.Contains(got.String(), want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	golden := filepath.Join("testdata", "oe-compare.markdown.golden")
	if *update {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./bot/oe -update)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("markdown differs from %s (run go test ./bot/oe -update and review the diff):\n%s", golden, got.String())
	}
}

// copyTree copies a fixture so a test can change it.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCompareDifferencesThatAreNotFindings(t *testing.T) {
	base := copyTree(t, "testdata/base")
	head := copyTree(t, "testdata/base")
	// m4-native came from the sstate cache at head: no task ran.
	if err := os.RemoveAll(filepath.Join(head, "tmp/buildstats/20240315103045/m4-native-1.4.19-r0")); err != nil {
		t.Fatal(err)
	}
	// busybox is no longer installed at head.
	sizes := filepath.Join(head, "buildhistory/images/qemuarm64/glibc/tcbot-lamp-image/installed-package-sizes.txt")
	data, err := os.ReadFile(sizes)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, l := range strings.SplitAfter(string(data), "\n") {
		if !strings.HasSuffix(l, "\tbusybox\n") {
			kept = append(kept, l)
		}
	}
	write(t, sizes, strings.Join(kept, ""))

	rep, err := Compare(base, head)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != compare.Unchanged {
		t.Errorf("verdict %s, want unchanged", rep.Verdict)
	}
	for _, c := range append(rep.Comparisons, rep.Info...) {
		if c.Benchmark == "recipe/m4-native" || c.Benchmark == "pkg/busybox" {
			t.Errorf("%s %s compared (%s %q): nothing to compare at head", c.Benchmark, c.Metric, c.Verdict, c.Note)
		}
	}
	img := findComparison(t, rep.Comparisons, "tcbot-lamp-image", ImageSize)
	if img.Note != "packages removed: busybox" {
		t.Errorf("image note %q, want it to name the removed package", img.Note)
	}
}

func TestCompareMissingHeadTestsIsAnError(t *testing.T) {
	head := copyTree(t, "testdata/base")
	if err := os.Remove(filepath.Join(head, "tmp/log/oeqa/testresults.json")); err != nil {
		t.Fatal(err)
	}
	rep, err := Compare("testdata/base", head)
	if err != nil {
		t.Fatal(err)
	}
	c := findComparison(t, rep.Comparisons, "test/ping.PingTest.test_ping", result.Status)
	if c.Verdict != compare.Error || rep.Verdict != compare.Error {
		t.Errorf("testimage results missing at head: %s (overall %s), want error", c.Verdict, rep.Verdict)
	}
}

func TestResultsEdgeCases(t *testing.T) {
	t.Run("failed task with no start and no log", func(t *testing.T) {
		dir := copyTree(t, "testdata/base")
		write(t, filepath.Join(dir, "tmp/buildstats/20240315103045/apache2-2.4.59-r0/do_deploy_source_date_epoch"), "Status: FAILED \nEnded: 1710499000.00 \n")
		rs, err := Results(dir)
		if err != nil {
			t.Fatal(err)
		}
		st := find(t, rs, "recipe/apache2", result.Status)
		if st.Samples[0] != result.Fail || st.Note != "do_deploy_source_date_epoch failed" {
			t.Errorf("status %v %q, want fail naming the task", st.Samples, st.Note)
		}
	})
	t.Run("a later bitbake run's task wins", func(t *testing.T) {
		dir := copyTree(t, "testdata/head")
		run := filepath.Join(dir, "tmp/buildstats/20240316120000")
		write(t, filepath.Join(run, "build_stats"), "Host Info: Linux b 6.1 x86_64 \nBuild Started: 1710590400.00 \nElapsed time: 60.00 seconds \n")
		write(t, filepath.Join(run, "sysbench-1.0.20-r0/do_compile"), "Event: TaskStarted \nStarted: 1710590401.00 \nsysbench-1.0.20-r0: do_compile\nElapsed time: 20.00 seconds\nrusage ru_utime: 0.5\nrusage ru_stime: 0.25\nChild rusage ru_utime: 40\nChild rusage ru_stime: 8\nStatus: PASSED \nEnded: 1710590421.00 \n")
		rs, err := Results(dir)
		if err != nil {
			t.Fatal(err)
		}
		if st := find(t, rs, "recipe/sysbench", result.Status); st.Samples[0] != result.Pass {
			t.Errorf("sysbench %v %q, want pass after the rerun", st.Samples, st.Note)
		}
	})
	t.Run("oe-core TMPDIR tmp-glibc", func(t *testing.T) {
		dir := copyTree(t, "testdata/base")
		if err := os.Rename(filepath.Join(dir, "tmp"), filepath.Join(dir, "tmp-glibc")); err != nil {
			t.Fatal(err)
		}
		rs, err := Results(dir)
		if err != nil {
			t.Fatal(err)
		}
		find(t, rs, "recipe/php", BuildCPUTime)
		find(t, rs, "test/ssh.SSHTest.test_ssh", result.Status)
	})
	t.Run("stale package data falls back to KiB", func(t *testing.T) {
		dir := copyTree(t, "testdata/base")
		p := filepath.Join(dir, "buildhistory/packages/cortexa57-poky-linux/busybox/busybox/latest")
		data, _ := os.ReadFile(p)
		write(t, p, strings.Replace(string(data), "PKGSIZE = 682140", "PKGSIZE = 700000", 1))
		rs, err := Results(dir)
		if err != nil {
			t.Fatal(err)
		}
		r := find(t, rs, "pkg/busybox", PackageSize)
		if r.Samples[0] != 666*1024 || !strings.Contains(r.Note, "disagrees") {
			t.Errorf("pkg/busybox %v %q, want 666 KiB with a note", r.Samples, r.Note)
		}
	})
	t.Run("failed LAMP requests fail its status", func(t *testing.T) {
		dir := copyTree(t, "testdata/base")
		write(t, filepath.Join(dir, LAMPFile), "requests: 1000\nerrors: 10\nseconds: 10\nrequests-per-second: 99\nlatency-p50-ms: 4\nlatency-p99-ms: 9\n")
		rs, err := Results(dir)
		if err != nil {
			t.Fatal(err)
		}
		if st := find(t, rs, LAMPBenchmark, result.Status); st.Samples[0] != result.Fail || st.Note != "10 of 1000 requests failed" {
			t.Errorf("LAMP status %v %q", st.Samples, st.Note)
		}
	})
	t.Run("failed oeqa test keeps the end of its log", func(t *testing.T) {
		dir := copyTree(t, "testdata/base")
		p := filepath.Join(dir, "tmp/log/oeqa/testresults.json")
		data, _ := os.ReadFile(p)
		var doc map[string]map[string]any
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		for _, run := range doc {
			run["result"].(map[string]any)["ping.PingTest.test_ping"] = map[string]any{
				"status": "FAILED",
				"log":    "Traceback (most recent call last):\n  File \"ping.py\", line 30, in test_ping\nAssertionError: 5 != 0 : No echo reply",
			}
		}
		out, _ := json.MarshalIndent(doc, "", "    ")
		s := string(out)
		write(t, p, s)
		rs, err := Results(dir)
		if err != nil {
			t.Fatal(err)
		}
		r := find(t, rs, "test/ping.PingTest.test_ping", result.Status)
		if r.Samples[0] != result.Fail || !strings.HasPrefix(r.Note, "FAILED:\n") || !strings.HasSuffix(r.Note, "No echo reply") {
			t.Errorf("ping %v %q", r.Samples, r.Note)
		}
	})
}

func TestBuildDirectoryErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, dir string)
		want   []string
	}{
		{"no buildhistory", func(t *testing.T, dir string) { os.RemoveAll(filepath.Join(dir, "buildhistory")) },
			[]string{"no buildhistory/ directory", `INHERIT += "buildhistory"`, `BUILDHISTORY_COMMIT = "0"`}},
		{"no image", func(t *testing.T, dir string) { os.RemoveAll(filepath.Join(dir, "buildhistory/images")) },
			[]string{"no image in buildhistory/images"}},
		{"two machines", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "buildhistory/images/qemuarm/glibc/core-image-minimal/image-info.txt"), "IMAGESIZE = 10\n")
		}, []string{"2 machines (qemuarm, qemuarm64)"}},
		{"no buildstats", func(t *testing.T, dir string) { os.RemoveAll(filepath.Join(dir, "tmp/buildstats")) },
			[]string{"no tmp/buildstats/", `USER_CLASSES += "buildstats"`}},
		{"malformed image-info names file and line", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "buildhistory/images/qemuarm64/glibc/tcbot-lamp-image/image-info.txt"), "DISTRO = poky\nIMAGESIZE = 12k\n")
		}, []string{"tcbot-lamp-image/image-info.txt:2: IMAGESIZE \"12k\""}},
		{"interrupted task", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "tmp/buildstats/20240315103045/php-8.2.18-r0/do_install"), "Event: TaskStarted \nStarted: 1710499000.00 \n")
		}, []string{"php-8.2.18-r0/do_install: no Status line: the task started but never finished"}},
		{"run without build_stats", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "tmp/buildstats/20240315103045/build_stats"))
		}, []string{"has no build_stats file"}},
		{"truncated LAMP output", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, LAMPFile), "requests: 12000\nerrors: 0\nseconds: 60.0")
		}, []string{"tcbot-lamp.txt:3: truncated line"}},
		{"build-id of another machine", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "buildhistory/images/qemuarm64/glibc/tcbot-lamp-image/build-id.txt"), "qemux86-64: tcbot-lamp-image configured for poky 5.0.2\n")
		}, []string{"names MACHINE qemux86-64"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyTree(t, "testdata/base")
			tc.change(t, dir)
			_, err := Results(dir)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if _, err := Results(filepath.Join(t.TempDir(), "nope")); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing build directory: %v", err)
	}
}

func TestCompareDifferentMachines(t *testing.T) {
	head := copyTree(t, "testdata/base")
	imgs := filepath.Join(head, "buildhistory/images")
	if err := os.Rename(filepath.Join(imgs, "qemuarm64"), filepath.Join(imgs, "qemuarm")); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(imgs, "qemuarm/glibc/tcbot-lamp-image/build-id.txt"))
	_, err := Compare("testdata/base", head)
	if err == nil || !strings.Contains(err.Error(), "MACHINE qemuarm64") || !strings.Contains(err.Error(), "for qemuarm:") {
		t.Errorf("err = %v, want one naming both machines", err)
	}
}
