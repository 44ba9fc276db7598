package oe

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// The parsers read files from build machines: whatever the bytes, they
// must not panic, and an error must be a *ParseError naming the file and
// a line that exists.

func seed(f *testing.F, glob string, extra ...string) {
	f.Helper()
	paths, err := filepath.Glob(glob)
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seeds match %s", glob)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range extra {
		f.Add([]byte(s))
	}
}

func checkParseError(t *testing.T, data []byte, err error) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a *ParseError", err)
	}
	if pe.File != "f" || pe.Line < 0 || pe.Line > bytes.Count(data, []byte("\n"))+1 || pe.Msg == "" {
		t.Fatalf("error %q: file %q line %d of a %d-line input", err, pe.File, pe.Line, bytes.Count(data, []byte("\n"))+1)
	}
}

func finite(xs ...float64) bool {
	for _, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
			return false
		}
	}
	return true
}

func FuzzParseImageInfo(f *testing.F) {
	seed(f, "testdata/*/buildhistory/images/*/*/*/image-info.txt", "IMAGESIZE = 1\n", "IMAGESIZE = \n", "=\n", "IMAGESIZE = 99999999999999999999\n")
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := ParseImageInfo("f", data)
		if err != nil {
			checkParseError(t, data, err)
			return
		}
		if info.SizeKiB < 0 || info.SizeBytes() < 0 || info.SizeBytes() > maxBytes {
			t.Fatalf("size %d KiB", info.SizeKiB)
		}
	})
}

func FuzzParseInstalledPackageSizes(f *testing.F) {
	seed(f, "testdata/*/buildhistory/images/*/*/*/installed-package-sizes.txt", "1\tKiB\ta\n", "1 KiB\n", "-1\tKiB\ta\n")
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := ParseInstalledPackageSizes("f", data)
		if err != nil {
			checkParseError(t, data, err)
			return
		}
		seen := map[string]bool{}
		for _, p := range pkgs {
			if p.Name == "" || p.SizeKiB < 0 || seen[p.Name] {
				t.Fatalf("package %+v", p)
			}
			seen[p.Name] = true
		}
	})
}

func FuzzParseLatest(f *testing.F) {
	seed(f, "testdata/*/buildhistory/packages/*/*/*/latest", "PV = 1\nPR = r0\nPKGSIZE = 1\n")
	seed(f, "testdata/*/buildhistory/packages/*/*/latest", "PE = 2\nPV = 1\nPR = r0\n")
	f.Fuzz(func(t *testing.T, data []byte) {
		if p, err := ParsePackageLatest("f", data); err != nil {
			checkParseError(t, data, err)
		} else if p.Size < 0 || p.PV == "" || p.PR == "" {
			t.Fatalf("package %+v", p)
		}
		if r, err := ParseRecipeLatest("f", data); err != nil {
			checkParseError(t, data, err)
		} else if r.PV == "" || r.PR == "" {
			t.Fatalf("recipe %+v", r)
		}
	})
}

func FuzzParseBuildID(f *testing.F) {
	seed(f, "testdata/*/buildhistory/images/*/*/*/build-id.txt", "a: b configured for c\n", ": configured for\n")
	f.Fuzz(func(t *testing.T, data []byte) {
		m, img, err := parseBuildID("f", data)
		if err != nil {
			checkParseError(t, data, err)
			return
		}
		if m == "" || img == "" {
			t.Fatalf("machine %q image %q", m, img)
		}
	})
}

func FuzzParseTask(f *testing.F) {
	seed(f, "testdata/*/tmp/buildstats/*/*/do_*", "Status: FAILED \nEnded: 1.00 \n", "Event: TaskStarted \nStarted: 1.00 \n", "rusage : 1\n")
	f.Fuzz(func(t *testing.T, data []byte) {
		task, err := ParseTask("f", data)
		if err != nil {
			checkParseError(t, data, err)
			return
		}
		if task.Status != "PASSED" && task.Status != "FAILED" {
			t.Fatalf("status %q", task.Status)
		}
		if cpu, ok := task.CPUTime(); ok && !finite(cpu) {
			t.Fatalf("CPU time %v", cpu)
		}
	})
}

func FuzzParseBuildSummary(f *testing.F) {
	seed(f, "testdata/*/tmp/buildstats/*/build_stats", "Build Started: 1 \nElapsed time: 1 seconds \nFailed at: a at task: b \n")
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseBuildSummary("f", data)
		if err != nil {
			checkParseError(t, data, err)
			return
		}
		if !finite(s.Started, s.Elapsed, s.CPUUsage) {
			t.Fatalf("summary %+v", s)
		}
		for _, ft := range s.Failed {
			if ft.PF == "" || ft.Task == "" {
				t.Fatalf("failure %+v", ft)
			}
		}
	})
}

func FuzzParseTestResults(f *testing.F) {
	seed(f, "testdata/*/tmp/log/oeqa/testresults.json", `{"r": {"result": {"a": {"status": "PASSED"}}}}`, `{"r": {"result": {"a.sections": 1}}}`, `{"r": 1}`, `{`, `null`)
	f.Fuzz(func(t *testing.T, data []byte) {
		runs, err := ParseTestResults("f", data)
		if err != nil {
			checkParseError(t, data, err)
			return
		}
		if len(runs) == 0 {
			t.Fatal("no runs and no error")
		}
		for _, r := range runs {
			for _, tc := range r.Tests {
				if out, ok := testStatuses[tc.Status]; !ok || out != tc.Outcome || tc.Line < 1 {
					t.Fatalf("test %+v", tc)
				}
			}
		}
	})
}

func FuzzParseLAMP(f *testing.F) {
	seed(f, "testdata/*/tcbot-lamp.txt", "requests: 1\nerrors: 0\nseconds: 1\nrequests-per-second: 1\nlatency-p50-ms: 1\nlatency-p99-ms: 1\n")
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ParseLAMP("f", data)
		if err != nil {
			checkParseError(t, data, err)
			return
		}
		if l.Requests <= 0 || l.Errors < 0 || l.Errors > l.Requests || l.Seconds <= 0 || !finite(l.RequestsPerSecond, l.LatencyP50ms, l.LatencyP99ms) || l.LatencyP99ms < l.LatencyP50ms {
			t.Fatalf("result %+v", l)
		}
	})
}
