package loadgen_test

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// keys are the lines loadgen prints, in order (bot/oe/lamp.go parses them).
var keys = []string{"requests", "errors", "seconds", "requests-per-second", "latency-p50-ms", "latency-p99-ms"}

const cmdTimeout = 60 * time.Second

var hostBuild struct {
	once sync.Once
	exe  string
	err  error
}

// hostLoadgen compiles loadgen.c once with the host gcc, warnings as errors.
func hostLoadgen(t *testing.T) string {
	t.Helper()
	hostBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "loadgen-test-")
		if err != nil {
			hostBuild.err = err
			return
		}
		hostBuild.exe = filepath.Join(dir, "loadgen")
		hostBuild.err = compile("gcc", hostBuild.exe)
	})
	if hostBuild.err != nil {
		t.Fatal(hostBuild.err)
	}
	return hostBuild.exe
}

func TestMain(m *testing.M) {
	code := m.Run()
	if hostBuild.exe != "" {
		os.RemoveAll(filepath.Dir(hostBuild.exe))
	}
	os.Exit(code)
}

func compile(cc, out string, extra ...string) error {
	if _, err := exec.LookPath(cc); err != nil {
		return fmt.Errorf("%s not installed: run make deps", cc)
	}
	args := append([]string{"-std=c11", "-O2", "-Wall", "-Wextra", "-Werror"}, extra...)
	args = append(args, "-o", out, "loadgen.c")
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, cc, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v\n%s", cc, strings.Join(args, " "), err, stderr.String())
	}
	// A warning that is not an error would still be a defect; the only
	// tolerated output is the static linker's note about getaddrinfo.
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if l != "" && !strings.Contains(l, "getaddrinfo") && !strings.Contains(l, "in function `") {
			return fmt.Errorf("%s printed: %s", cc, stderr.String())
		}
	}
	return nil
}

type result struct {
	stdout, stderr string
	code           int
}

func runLoadgen(t *testing.T, argv ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", argv, err)
	}
	return result{stdout.String(), stderr.String(), code}
}

type report struct {
	requests, errors           int64
	seconds, rps, p50ms, p99ms float64
}

// parseReport checks the exact output format: six "key: value" lines in
// order, whole numbers for counts, and the arithmetic tcbot relies on.
func parseReport(t *testing.T, out string) report {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(keys) || !strings.HasSuffix(out, "\n") {
		t.Fatalf("stdout has %d lines, want exactly %d newline-terminated lines %v:\n%s", len(lines), len(keys), keys, out)
	}
	vals := make([]float64, len(keys))
	for i, l := range lines {
		k, v, ok := strings.Cut(l, ": ")
		if !ok || k != keys[i] {
			t.Fatalf("line %d is %q, want %q", i+1, l, keys[i]+": <number>")
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || x < 0 || math.IsInf(x, 0) || math.IsNaN(x) {
			t.Fatalf("line %d: %q is not a non-negative number", i+1, v)
		}
		if i < 2 && x != math.Trunc(x) {
			t.Fatalf("line %d: %s is not a whole number", i+1, v)
		}
		vals[i] = x
	}
	r := report{int64(vals[0]), int64(vals[1]), vals[2], vals[3], vals[4], vals[5]}
	if r.requests <= 0 || r.errors > r.requests || r.seconds <= 0 {
		t.Fatalf("implausible report %+v:\n%s", r, out)
	}
	want := float64(r.requests-r.errors) / r.seconds
	if math.Abs(r.rps-want) > math.Max(0.001*want, 0.01) {
		t.Errorf("requests-per-second %v, want (requests - errors) / seconds = %v", r.rps, want)
	}
	if r.p99ms < r.p50ms {
		t.Errorf("latency-p99-ms %v < latency-p50-ms %v", r.p99ms, r.p50ms)
	}
	return r
}

// countingServer serves handler and counts the requests it saw.
func countingServer(t *testing.T, handler http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		handler(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

const page = "<table><tr><td>1</td><td>item-001</td></tr></table>\n"

func TestLoad(t *testing.T) {
	exe := hostLoadgen(t)
	tests := []struct {
		name    string
		handler http.HandlerFunc
		args    []string
		errors  bool // every request fails
		exact   int64
	}{
		{"keep-alive for one second on four connections", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/tcbot/index.php" || r.URL.RawQuery != "q=1" || r.Method != "GET" {
				http.Error(w, "wrong request "+r.Method+" "+r.URL.String(), http.StatusBadRequest)
				return
			}
			io.WriteString(w, page)
		}, []string{"-c", "4", "-d", "1", "-e", "item-001"}, false, 0},
		{"chunked replies with the marker split across chunks", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<p>item")
			w.(http.Flusher).Flush()
			io.WriteString(w, "-001</p>")
			w.(http.Flusher).Flush()
			io.WriteString(w, strings.Repeat("x", 5000))
		}, []string{"-c", "2", "-d", "0.5", "-e", "item-001"}, false, 0},
		{"server closes every connection", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			io.WriteString(w, page)
		}, []string{"-c", "3", "-n", "40"}, false, 40},
		{"fixed request count", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, page)
		}, []string{"-c", "3", "-n", "25"}, false, 25},
		{"server errors are counted", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "database down", http.StatusInternalServerError)
		}, []string{"-c", "4", "-d", "1"}, true, 0},
		{"page without the expected row is an error", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<table></table>")
		}, []string{"-c", "2", "-n", "10", "-e", "item-001"}, true, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, seen := countingServer(t, tc.handler)
			argv := append([]string{exe}, tc.args...)
			argv = append(argv, srv.URL+"/tcbot/index.php?q=1")
			res := runLoadgen(t, argv...)
			if res.code != 0 {
				t.Fatalf("exit %d, want 0; stderr:\n%s", res.code, res.stderr)
			}
			r := parseReport(t, res.stdout)
			if r.requests != seen.Load() {
				t.Errorf("loadgen counted %d requests, the server saw %d", r.requests, seen.Load())
			}
			if tc.exact > 0 && r.requests != tc.exact {
				t.Errorf("requests %d, want %d", r.requests, tc.exact)
			}
			if tc.errors {
				if r.errors != r.requests || r.rps != 0 {
					t.Errorf("errors %d of %d, requests-per-second %v; want every request an error and 0 req/s", r.errors, r.requests, r.rps)
				}
				if !strings.Contains(res.stderr, "failed; first:") {
					t.Errorf("stderr does not explain the errors: %q", res.stderr)
				}
			} else if r.errors != 0 {
				t.Errorf("errors %d, want 0; stderr: %s", r.errors, res.stderr)
			}
		})
	}
}

// rawServer answers every connection with reply, then closes it, and
// counts connections.
func rawServer(t *testing.T, reply string) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					l, err := br.ReadString('\n')
					if err != nil || l == "\r\n" {
						break
					}
				}
				io.WriteString(c, reply)
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/", &n
}

func TestRawReplies(t *testing.T) {
	exe := hostLoadgen(t)
	tests := []struct {
		name   string
		reply  string
		errors bool
	}{
		{"body until the connection closes", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nitem-001 and more", false},
		{"HTTP/1.0 reply with a length", "HTTP/1.0 200 OK\r\nContent-Length: 8\r\n\r\nitem-001", false},
		{"not HTTP at all", "SSH-2.0-OpenSSH_9.2\r\n\r\n", true},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", true},
		{"connection closed mid-body", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nitem-001", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url, conns := rawServer(t, tc.reply)
			res := runLoadgen(t, exe, "-c", "2", "-n", "6", "-e", "item-001", url)
			if res.code != 0 {
				t.Fatalf("exit %d, want 0; stderr:\n%s", res.code, res.stderr)
			}
			r := parseReport(t, res.stdout)
			if r.requests != 6 || conns.Load() != 6 {
				t.Errorf("requests %d over %d connections, want 6 over 6", r.requests, conns.Load())
			}
			if tc.errors && r.errors != 6 {
				t.Errorf("errors %d, want 6; stderr %q", r.errors, res.stderr)
			}
			if !tc.errors && r.errors != 0 {
				t.Errorf("errors %d, want 0; stderr %q", r.errors, res.stderr)
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	exe := hostLoadgen(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	res := runLoadgen(t, exe, "-c", "4", "-d", "1", "http://"+addr+"/tcbot/index.php")
	if res.code == 0 {
		t.Fatalf("exit 0 against a closed port; stdout:\n%s", res.stdout)
	}
	if res.stdout != "" {
		t.Errorf("stdout %q, want nothing (no measurement)", res.stdout)
	}
	if !strings.Contains(res.stderr, "loadgen: connect") || !strings.Contains(res.stderr, "refused") {
		t.Errorf("stderr %q, want a message naming the failed connect", res.stderr)
	}
}

func TestUsage(t *testing.T) {
	exe := hostLoadgen(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no URL", nil, "usage"},
		{"https", []string{"https://127.0.0.1/"}, "only http://"},
		{"bad port", []string{"http://127.0.0.1:99999/"}, "bad port"},
		{"zero connections", []string{"-c", "0", "http://127.0.0.1/"}, "-c 0"},
		{"negative duration", []string{"-d", "-1", "http://127.0.0.1/"}, "-d -1"},
		{"unknown flag", []string{"-x", "http://127.0.0.1/"}, "usage"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := runLoadgen(t, append([]string{exe}, tc.args...)...)
			if res.code != 2 || res.stdout != "" || !strings.Contains(res.stderr, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2, nothing on stdout, %q on stderr", res.code, res.stdout, res.stderr, tc.want)
			}
		})
	}
}

// TestCross builds loadgen statically for the two Arm targets with the
// Debian cross compilers and, where qemu-user is installed, runs each build
// against a local server.
func TestCross(t *testing.T) {
	tests := []struct {
		cc      string
		machine elf.Machine
		qemu    string
	}{
		{"aarch64-linux-gnu-gcc", elf.EM_AARCH64, "qemu-aarch64"},
		{"arm-linux-gnueabihf-gcc", elf.EM_ARM, "qemu-arm"},
	}
	for _, tc := range tests {
		t.Run(tc.cc, func(t *testing.T) {
			t.Parallel()
			exe := filepath.Join(t.TempDir(), "loadgen")
			if err := compile(tc.cc, exe, "-static"); err != nil {
				t.Fatal(err)
			}
			f, err := elf.Open(exe)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Machine != tc.machine {
				t.Errorf("ELF machine %v, want %v", f.Machine, tc.machine)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
					t.Errorf("%v program header: the build is not static", p.Type)
				}
			}
			qemu, err := exec.LookPath(tc.qemu)
			if err != nil {
				t.Logf("%s not installed: built and inspected only", tc.qemu)
				return
			}
			srv, seen := countingServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, page) })
			res := runLoadgen(t, qemu, exe, "-c", "2", "-n", "20", "-e", "item-001", srv.URL+"/tcbot/index.php")
			if res.code != 0 {
				t.Fatalf("%s loadgen: exit %d; stderr:\n%s", tc.qemu, res.code, res.stderr)
			}
			r := parseReport(t, res.stdout)
			if r.requests != 20 || r.errors != 0 || seen.Load() != 20 {
				t.Errorf("requests %d, errors %d, server saw %d; want 20, 0, 20", r.requests, r.errors, seen.Load())
			}
		})
	}
}
