package oe

import (
	"errors"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// parseCase is an input a parser must reject, with the location and the
// words its error must have.
type parseCase struct {
	name string
	in   string
	line int // 0: the whole file
	want string
}

// checkErrors runs parse on each case and checks that the error is a
// *ParseError naming the file "f" and the line.
func checkErrors(t *testing.T, parse func(file string, data []byte) error, cases []parseCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := parse("f", []byte(tc.in))
			if err == nil {
				t.Fatal("no error")
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			if pe.File != "f" || pe.Line != tc.line {
				t.Errorf("error %q at %s:%d, want f:%d", err, pe.File, pe.Line, tc.line)
			}
			prefix := "f: "
			if tc.line > 0 {
				prefix = "f:" + strconv.Itoa(tc.line) + ": "
			}
			if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to start %q and contain %q", err, prefix, tc.want)
			}
		})
	}
}

func TestParseImageInfo(t *testing.T) {
	data, err := os.ReadFile("testdata/base/buildhistory/images/qemuarm64/glibc/tcbot-lamp-image/image-info.txt")
	if err != nil {
		t.Fatal(err)
	}
	info, err := ParseImageInfo("image-info.txt", data)
	if err != nil {
		t.Fatal(err)
	}
	if info.SizeKiB != 163200 || info.SizeBytes() != 163200*1024 || info.Vars["DISTRO"] != "poky" || info.Vars["IMAGE_LINGUAS"] != "" {
		t.Errorf("got %+v", info)
	}
	// bitbake writes no variables outside a worker: a blank first line.
	if info, err := ParseImageInfo("f", []byte("\nIMAGESIZE = 42\n")); err != nil || info.SizeKiB != 42 {
		t.Errorf("blank line: %+v, %v", info, err)
	}
	checkErrors(t, func(f string, d []byte) error { _, err := ParseImageInfo(f, d); return err }, []parseCase{
		{"empty file", "", 0, "empty file"},
		{"missing IMAGESIZE", "DISTRO = poky\nIMAGE_INSTALL = apache2\n", 0, "no IMAGESIZE line"},
		{"non-numeric IMAGESIZE", "DISTRO = poky\nIMAGESIZE = 12.5\n", 2, `IMAGESIZE "12.5" is not a size in KiB`},
		{"negative IMAGESIZE", "IMAGESIZE = -1\n", 1, "not a size"},
		{"empty IMAGESIZE", "DISTRO = poky\nIMAGESIZE = \n", 2, "IMAGESIZE is empty"},
		{"truncated line", "DISTRO = poky\nIMAGESIZE = 1632", 2, "truncated line"},
		{"line without =", "DISTRO = poky\nIMAGESIZE 163200\n", 2, "want KEY = VALUE"},
		{"bad name", "DISTRO = poky\nIMAGE SIZE = 1\n", 2, "malformed variable name"},
		{"set twice", "IMAGESIZE = 1\nIMAGESIZE = 2\n", 2, "set again (first at line 1)"},
		{"NUL bytes", "DISTRO = poky\n\x00\x00\x00\n", 2, "NUL byte"},
		{"only blank lines", "\n\n", 0, "no KEY = VALUE lines"},
	})
}

func TestParseInstalledPackageSizes(t *testing.T) {
	pkgs, err := ParseInstalledPackageSizes("f", []byte("96000\tKiB\tmariadb-server\n9\tKiB\tbase-files\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 2 || pkgs[0] != (InstalledPackage{"mariadb-server", 96000}) || pkgs[1] != (InstalledPackage{"base-files", 9}) {
		t.Errorf("got %+v", pkgs)
	}
	checkErrors(t, func(f string, d []byte) error { _, err := ParseInstalledPackageSizes(f, d); return err }, []parseCase{
		{"empty file", "", 0, "empty file"},
		{"no packages", "\n", 0, "lists no package"},
		{"unknown unit", "96000\tKiB\tmariadb-server\n12\tMiB\tphp\n", 2, `unknown unit "MiB" for php`},
		{"non-numeric size", "96000\tKiB\tmariadb-server\n1.2e3\tKiB\tphp\n", 2, `size "1.2e3" of php is not a whole number`},
		{"truncated line", "96000\tKiB\tmariadb-server\n12\tKi", 2, "truncated line"},
		{"missing name", "96000\tKiB\n", 1, "want SIZE KiB PACKAGE"},
		{"extra field", "96000\tKiB\tmariadb-server\tx\n", 1, "want SIZE KiB PACKAGE"},
		{"listed twice", "1\tKiB\tphp\n2\tKiB\tphp\n", 2, "listed again (first at line 1)"},
	})
}

func TestParseLatest(t *testing.T) {
	data, err := os.ReadFile("testdata/base/buildhistory/packages/cortexa57-poky-linux/glibc/glibc/latest")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePackageLatest("latest", data)
	if err != nil {
		t.Fatal(err)
	}
	if p.PV != "2.39+git" || p.PR != "r0" || p.PKG != "libc6" || p.Size != 3621988 {
		t.Errorf("package: %+v", p)
	}
	data, err = os.ReadFile("testdata/base/buildhistory/packages/qemuarm64-poky-linux/base-files/latest")
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRecipeLatest("latest", data)
	if err != nil {
		t.Fatal(err)
	}
	if r.PF("base-files") != "base-files-3.0.14-r0" || len(r.Packages) != 7 {
		t.Errorf("recipe: %+v, PF %s", r, r.PF("base-files"))
	}
	if r, err := ParseRecipeLatest("f", []byte("PE = 1\nPV = 2.3\nPR = r4\n")); err != nil || r.PF("foo") != "foo-1_2.3-r4" {
		t.Errorf("epoch: %+v %v", r, err)
	}

	checkErrors(t, func(f string, d []byte) error { _, err := ParsePackageLatest(f, d); return err }, []parseCase{
		{"empty file", "", 0, "empty file"},
		{"missing PKGSIZE", "PV = 1.0\nPR = r0\nRDEPENDS = libc6\n", 0, "no PKGSIZE line"},
		{"non-numeric PKGSIZE", "PV = 1.0\nPR = r0\nPKGSIZE = 12 KiB\n", 3, `PKGSIZE "12 KiB" is not a size in bytes`},
		{"missing PV", "PR = r0\nPKGSIZE = 1\n", 0, "no PV line"},
		{"truncated line", "PV = 1.0\nPR = r0\nPKGSIZE = 12", 3, "truncated line"},
		{"space in version", "PV = 1.0 beta\nPR = r0\nPKGSIZE = 1\n", 1, "contains whitespace"},
	})
	checkErrors(t, func(f string, d []byte) error { _, err := ParseRecipeLatest(f, d); return err }, []parseCase{
		{"empty file", "", 0, "empty file"},
		{"missing PR", "PV = 1.0\nDEPENDS = zlib\n", 0, "no PR line"},
		{"truncated line", "PV = 1.0\nPR = r", 2, "truncated line"},
	})
}

func TestParseBuildID(t *testing.T) {
	m, img, err := parseBuildID("f", []byte("qemuarm64: tcbot-lamp-image configured for poky 5.0.2\n\nBuild Configuration:\n"))
	if err != nil || m != "qemuarm64" || img != "tcbot-lamp-image" {
		t.Errorf("got %q %q %v", m, img, err)
	}
	checkErrors(t, func(f string, d []byte) error { _, _, err := parseBuildID(f, d); return err }, []parseCase{
		{"empty file", "", 0, "empty file"},
		{"other first line", "Build Configuration:\n", 1, "want \"MACHINE: IMAGE configured for"},
		{"truncated line", "qemuarm64: tcbot-lamp-image conf", 1, "truncated line"},
	})
}

func TestParseTask(t *testing.T) {
	data, err := os.ReadFile("testdata/head/tmp/buildstats/20240316091512/sysbench-1.0.20-r0/do_compile")
	if err != nil {
		t.Fatal(err)
	}
	task, err := ParseTask("do_compile", data)
	if err != nil {
		t.Fatal(err)
	}
	cpu, ok := task.CPUTime()
	want := 0.248209 + 0.062052 + 50.8045 + 8.9655
	if !task.Failed() || !ok || math.Abs(cpu-want) > 1e-9 || task.Elapsed != 17.90 || task.IO["rchar"] != 625974421 || task.RUsage["ru_maxrss"] != 40075 {
		t.Errorf("got %+v, cpu %v %v, want failed, cpu %v", task, cpu, ok, want)
	}

	// A task that fails before TaskStarted has only Status and Ended
	// (buildstats.bbclass, TaskFailed).
	task, err = ParseTask("f", []byte("Status: FAILED \nEnded: 1710499000.00 \n"))
	if _, ok := task.CPUTime(); err != nil || !task.Failed() || ok {
		t.Errorf("failed before start: %+v %v", task, err)
	}
	// Child rusage may be missing (buildstats.py: "may have been optimized out").
	task, err = ParseTask("f", []byte("Elapsed time: 1.00 seconds\nrusage ru_utime: 0.5\nrusage ru_stime: 0.25\nStatus: PASSED \nEnded: 2.00 \n"))
	if cpu, ok := task.CPUTime(); err != nil || !ok || cpu != 0.75 {
		t.Errorf("no child rusage: cpu %v %v, err %v", cpu, ok, err)
	}

	full := "Event: TaskStarted \nStarted: 1.00 \nfoo-1.0-r0: do_compile\nElapsed time: 1.00 seconds\nrusage ru_utime: 0.5\nrusage ru_stime: 0.25\nStatus: PASSED \nEnded: 2.00 \n"
	checkErrors(t, func(f string, d []byte) error { _, err := ParseTask(f, d); return err }, []parseCase{
		{"empty file", "", 0, "empty file"},
		{"never finished", "Event: TaskStarted \nStarted: 1710498645.12 \n", 0, "started but never finished"},
		{"truncated line", strings.TrimSuffix(full, " \n"), 8, "truncated line"},
		{"non-numeric rusage", strings.Replace(full, "ru_utime: 0.5", "ru_utime: 0,5", 1), 5, `rusage ru_utime: "0,5" is not a non-negative number`},
		{"bad elapsed unit", strings.Replace(full, "1.00 seconds", "1.00 minutes", 1), 4, "Elapsed time"},
		{"unknown status", strings.Replace(full, "PASSED", "SKIPPED", 1), 7, "PASSED or FAILED"},
		{"two runs", full + full, 9, `second "Event" line (first at line 1)`},
		{"no Ended", "Status: PASSED \n", 0, "no Ended line"},
		{"elapsed without rusage", "Elapsed time: 1.00 seconds\nStatus: PASSED \nEnded: 2.00 \n", 0, `no "rusage ru_utime" line`},
		{"line without colon", "Status PASSED\n", 1, "want \"Key: value\""},
		{"non-numeric IO", strings.Replace(full, "rusage ru_utime", "IO rchar: many\nrusage ru_utime", 1), 5, "IO rchar"},
		{"negative time", strings.Replace(full, "Started: 1.00", "Started: -1", 1), 2, "not a time in seconds"},
	})
}

func TestParseBuildSummary(t *testing.T) {
	data, err := os.ReadFile("testdata/head/tmp/buildstats/20240316091512/build_stats")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseBuildSummary("build_stats", data)
	if err != nil {
		t.Fatal(err)
	}
	if s.Started != 1710581712.44 || !s.HasCPUUsage || s.CPUUsage != 11.8 || len(s.Failed) != 1 || s.Failed[0] != (FailedTask{"sysbench-1.0.20-r0", "do_compile"}) || !strings.HasPrefix(s.Host, "Linux tcbot-builder") {
		t.Errorf("got %+v", s)
	}
	ok := "Build Started: 1.00 \nElapsed time: 2.00 seconds \n"
	checkErrors(t, func(f string, d []byte) error { _, err := ParseBuildSummary(f, d); return err }, []parseCase{
		{"empty file", "", 0, "empty file"},
		{"killed run", "Host Info: Linux b \nBuild Started: 1710498645.21 \n", 0, "did not complete"},
		{"no start", "Elapsed time: 2.00 seconds \n", 0, `no "Build Started" line`},
		{"truncated line", "Build Started: 1.00 \nElapsed time: 2.0", 2, "truncated line"},
		{"non-numeric start", "Build Started: yesterday \nElapsed time: 2.00 seconds \n", 1, "not a time in seconds"},
		{"bad CPU usage", ok + "CPU usage: 12.4 \n", 3, "not a percentage"},
		{"bad failure line", ok + "Failed at: sysbench-1.0.20-r0 do_compile \n", 3, "want \"Failed at: <PF> at task: <task>\""},
		{"two runs", ok + ok, 3, "two bitbake runs"},
	})
	two := ok + "Uncompressed Rootfs size: 160M\t/b/tmp/work/qemuarm64-poky-linux/a/1.0/rootfs\nUncompressed Rootfs size: 20M\t/b/tmp/work/qemuarm64-poky-linux/b/1.0/rootfs\n"
	if s, err := ParseBuildSummary("f", []byte(two)); err != nil || len(s.RootfsSizes) != 2 {
		t.Errorf("two images in one run: %+v %v", s, err)
	}
}

func TestParseTestResults(t *testing.T) {
	data, err := os.ReadFile("testdata/base/tmp/log/oeqa/testresults.json")
	if err != nil {
		t.Fatal(err)
	}
	runs, err := ParseTestResults("testresults.json", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Configuration["MACHINE"] != "qemuarm64" || len(runs[0].Tests) != 7 {
		t.Fatalf("got %+v", runs)
	}
	byName := map[string]TestCase{}
	for _, tc := range runs[0].Tests {
		byName[tc.Name] = tc
	}
	if tc := byName["python.PythonTest.test_python"]; tc.Outcome != TestSkipped || tc.Log != "Test requires python3 to be installed" {
		t.Errorf("skipped test: %+v", tc)
	}
	if tc := byName["ping.PingTest.test_ping"]; tc.Outcome != TestPassed || tc.Line != 33 {
		t.Errorf("ping: %+v, want passed at line 33", tc)
	}
	if _, ok := byName["ptestresult.sections"]; ok {
		t.Error("ptestresult.sections taken for a test")
	}

	wrap := func(result string) string {
		return "{\n    \"runtime_img_qemuarm64_1\": {\n        \"configuration\": {\"MACHINE\": \"qemuarm64\"},\n        \"result\": {\n" + result + "\n        }\n    }\n}"
	}
	checkErrors(t, func(f string, d []byte) error { _, err := ParseTestResults(f, d); return err }, []parseCase{
		{"empty file", "", 0, "empty file"},
		{"no runs", "{}", 1, "holds no test run"},
		{"truncated", strings.SplitAfter(wrap(`            "a.A.test_a": {"status": "PASSED"}`), `"stat`)[0], 5, "unexpected end of JSON input"},
		{"syntax error", wrap(`            "a.A.test_a": {"status": "PASSED",}`), 5, "invalid character"},
		{"no status", wrap(`            "a.A.test_a": {"status": "PASSED"},` + "\n" + `            "b.B.test_b": {"log": "x"}`), 6, `test "b.B.test_b" has no status`},
		{"unknown status", wrap(`            "a.A.test_a": {"status": "MAYBE"}`), 5, `unknown status "MAYBE"`},
		{"status not a string", wrap(`            "a.A.test_a": {"status": 1}`), 5, "want an object with a \"status\" string"},
		{"no result", "{\n  \"r\": {\"configuration\": {}}\n}", 2, "has no \"result\""},
		{"not an object", "[1, 2]", 1, "want a JSON object"},
		{"key twice", wrap(`            "a.A.test_a": {"status": "PASSED"},` + "\n" + `            "a.A.test_a": {"status": "FAILED"}`), 6, "given twice"},
		{"trailing data", "{\"r\": {\"result\": {}}}\n{}", 2, "data after the JSON object"},
	})
}

func TestParseLAMP(t *testing.T) {
	data, err := os.ReadFile("testdata/base/tcbot-lamp.txt")
	if err != nil {
		t.Fatal(err)
	}
	l, err := ParseLAMP("tcbot-lamp.txt", data)
	if err != nil {
		t.Fatal(err)
	}
	if l != (LAMP{Requests: 12000, Errors: 0, Seconds: 60.004, RequestsPerSecond: 199.99, LatencyP50ms: 4.81, LatencyP99ms: 19.2}) {
		t.Errorf("got %+v", l)
	}
	ok := "requests: 1000\nerrors: 10\nseconds: 10.000\nrequests-per-second: 99.000\nlatency-p50-ms: 4\nlatency-p99-ms: 9\n"
	if _, err := ParseLAMP("f", []byte(ok)); err != nil {
		t.Fatal(err)
	}
	// benchmarks/loadgen prints seconds with %.6f and the rate with %.3f
	// from the unrounded time: a fast local run still agrees.
	fast := "requests: 10\nerrors: 0\nseconds: 0.000103\nrequests-per-second: 97323.600\nlatency-p50-ms: 0.010\nlatency-p99-ms: 0.020\n"
	if _, err := ParseLAMP("f", []byte(fast)); err != nil {
		t.Errorf("loadgen's rounding: %v", err)
	}
	for s, want := range map[string]float64{"60.004": 0.0005, "60": 0.5, "1.2e2": 5, "2.50E-3": 0.000005} {
		if got := halfUnit(s); math.Abs(got-want) > want*1e-9 {
			t.Errorf("halfUnit(%q) = %g, want %g", s, got, want)
		}
	}
	checkErrors(t, func(f string, d []byte) error { _, err := ParseLAMP(f, d); return err }, []parseCase{
		{"empty file", "", 0, "empty file"},
		{"truncated line", strings.TrimSuffix(ok, "\n"), 6, "truncated line"},
		{"missing keys", "requests: 1000\nerrors: 0\n", 0, "missing latency-p50-ms, latency-p99-ms, requests-per-second, seconds"},
		{"non-numeric", strings.Replace(ok, "seconds: 10.000", "seconds: ten", 1), 3, `seconds: "ten" is not a non-negative number`},
		{"fractional requests", strings.Replace(ok, "requests: 1000", "requests: 1000.5", 1), 1, "not a whole number"},
		{"unknown key", ok + "throughput: 99\n", 7, `unknown key "throughput"`},
		{"given twice", ok + "errors: 0\n", 7, "errors given again (first at line 2)"},
		{"inconsistent throughput", strings.Replace(ok, "requests-per-second: 99.000", "requests-per-second: 100.000", 1), 4, "disagrees with (requests - errors) / seconds = 99.00"},
		{"more errors than requests", strings.Replace(ok, "errors: 10", "errors: 1001", 1), 2, "more than the 1000 requests"},
		{"percentiles reversed", strings.Replace(ok, "latency-p99-ms: 9", "latency-p99-ms: 3", 1), 6, "below latency-p50-ms"},
		{"nothing sent", "requests: 0\nerrors: 0\nseconds: 1\nrequests-per-second: 0\nlatency-p50-ms: 0\nlatency-p99-ms: 0\n", 1, "sent nothing"},
		{"infinite", strings.Replace(ok, "seconds: 10.000", "seconds: inf", 1), 3, "not a non-negative number"},
		{"no colon", strings.Replace(ok, "errors: 10", "errors 10", 1), 2, "want \"key: value\""},
	})
}
