package loadgen_test

import (
	"context"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tcbot/tcbot/benchmarks"
	"github.com/tcbot/tcbot/bot/insncount"
)

// connCountingServer serves page and counts requests and TCP connections.
func connCountingServer(t *testing.T) (srv *httptest.Server, requests, conns *atomic.Int64) {
	t.Helper()
	requests, conns = new(atomic.Int64), new(atomic.Int64)
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		io.WriteString(w, page)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, requests, conns
}

// splitMarked checks that out is the six report lines followed by exactly
// "marked: <want>" and returns the six lines.
func splitMarked(t *testing.T, out, want string) string {
	t.Helper()
	report, last, ok := strings.Cut(out, "latency-p99-ms: ")
	if !ok {
		t.Fatalf("no latency-p99-ms line in:\n%s", out)
	}
	p99, marked, ok := strings.Cut(last, "\n")
	if !ok || marked != "marked: "+want+"\n" {
		t.Fatalf("after latency-p99-ms, want exactly \"marked: %s\\n\", got %q", want, marked)
	}
	return report + "latency-p99-ms: " + p99 + "\n"
}

func TestWarmUp(t *testing.T) {
	exe := hostLoadgen(t)
	srv, seen, conns := connCountingServer(t)
	// Enough measured requests to take milliseconds: parseReport checks
	// requests-per-second against seconds, printed to the microsecond.
	res := runLoadgen(t, exe, "-c", "2", "-w", "7", "-n", "300", "-e", "item-001", srv.URL+"/tcbot/index.php")
	if res.code != 0 {
		t.Fatalf("exit %d, want 0; stderr:\n%s", res.code, res.stderr)
	}
	r := parseReport(t, res.stdout) // also: no "marked:" line without -M
	if r.requests != 300 || r.errors != 0 {
		t.Errorf("requests %d, errors %d; want the 300 measured, 0 (warm-up not counted)", r.requests, r.errors)
	}
	if seen.Load() != 307 {
		t.Errorf("the server saw %d requests, want 7 warm-up + 300 measured", seen.Load())
	}
	if conns.Load() != 2 {
		t.Errorf("%d connections, want the same 2 for warm-up and measurement", conns.Load())
	}
}

func TestWarmUpErrorsAreNotCounted(t *testing.T) {
	exe := hostLoadgen(t)
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 3 {
			http.Error(w, "cold cache", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, page)
	}))
	t.Cleanup(srv.Close)
	res := runLoadgen(t, exe, "-c", "1", "-w", "3", "-n", "300", srv.URL+"/")
	if res.code != 0 {
		t.Fatalf("exit %d, want 0; stderr:\n%s", res.code, res.stderr)
	}
	if r := parseReport(t, res.stdout); r.requests != 300 || r.errors != 0 {
		t.Errorf("requests %d, errors %d; want 300, 0", r.requests, r.errors)
	}
	if !strings.Contains(res.stderr, "loadgen: warm-up: 3 of 3 requests failed; first: HTTP status 503") {
		t.Errorf("stderr %q does not summarise the warm-up errors", res.stderr)
	}
}

func TestMarkNeedsArm(t *testing.T) {
	if runtime.GOARCH == "arm64" || runtime.GOARCH == "arm" {
		t.Skip("the host build has a mark instruction")
	}
	exe := hostLoadgen(t)
	for _, args := range [][]string{
		{"-M", "http://127.0.0.1/"},
		{"-n", "5", "-M", "-w", "2", "http://127.0.0.1/"},
	} {
		res := runLoadgen(t, append([]string{exe}, args...)...)
		want := "loadgen: -M: this loadgen was built for a target without a mark instruction"
		if res.code != 2 || res.stdout != "" || !strings.Contains(res.stderr, want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", args, res.code, res.stdout, res.stderr, want)
		}
	}
}

// TestMarksUnderQEMU runs Arm builds of loadgen with -w and -M under
// qemu-user with the instruction-counting plugin's marks=, against a local
// server: the plugin must see exactly the two marks, around the measured
// requests only.
func TestMarksUnderQEMU(t *testing.T) {
	src, err := fs.Sub(benchmarks.FS, "plugin")
	if err != nil {
		t.Fatal(err)
	}
	plugin, err := insncount.Build(context.Background(), src, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const warm, measured = 5, 20
	for _, tc := range []struct {
		name, cc, qemu string
		flags          []string
	}{
		{"aarch64", "aarch64-linux-gnu-gcc", "qemu-aarch64", nil},
		{"arm-thumb", "arm-linux-gnueabihf-gcc", "qemu-arm", []string{"-mthumb"}},
		{"arm-a32", "arm-linux-gnueabihf-gcc", "qemu-arm", []string{"-marm"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			qemu, err := exec.LookPath(tc.qemu)
			if err != nil {
				t.Fatalf("%s not installed: run make deps", tc.qemu)
			}
			dir := t.TempDir()
			exe := filepath.Join(dir, "loadgen")
			if err := compile(tc.cc, exe, append([]string{"-static"}, tc.flags...)...); err != nil {
				t.Fatal(err)
			}
			srv, seen, conns := connCountingServer(t)
			marksFile := filepath.Join(dir, "marks.txt")
			res := runLoadgen(t, qemu, "-plugin", plugin+",marks="+marksFile, exe,
				"-c", "2", "-w", strconv.Itoa(warm), "-n", strconv.Itoa(measured), "-M", "-e", "item-001", srv.URL+"/tcbot/index.php")
			if res.code != 0 {
				t.Fatalf("exit %d, want 0; stderr:\n%s", res.code, res.stderr)
			}
			r := parseReport(t, splitMarked(t, res.stdout, strconv.Itoa(measured)))
			if r.requests != measured || r.errors != 0 || seen.Load() != warm+measured || conns.Load() != 2 {
				t.Errorf("requests %d, errors %d, server saw %d requests on %d connections; want %d, 0, %d on 2",
					r.requests, r.errors, seen.Load(), conns.Load(), measured, warm+measured)
			}
			marks, err := insncount.ReadMarks(marksFile)
			if err != nil {
				t.Fatal(err)
			}
			if len(marks) != 2 || marks[1] <= marks[0] {
				t.Fatalf("marks %v, want two increasing counts", marks)
			}
			d := marks[1] - marks[0]
			t.Logf("%s: marks at %v: %d guest instructions for %d requests, %d per request", tc.name, marks, d, measured, d/measured)
		})
	}
}
