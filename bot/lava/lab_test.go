package lava_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tcbot/tcbot/bot/executor"
	"github.com/tcbot/tcbot/bot/kernel/kerneltest"
	"github.com/tcbot/tcbot/bot/lava"
	"github.com/tcbot/tcbot/bot/lava/lavatest"
)

var record = flag.Bool("record", false, "record the lab's answers as testdata (with TCBOT_TEST_LAVA)")

// prog is a guest program: it prints a checksum line, fails when asked,
// spins when asked (to hit its timeout) and shows its environment.
const prog = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
	extern char **environ;
	if (argc > 1 && strcmp(argv[1], "fail") == 0) { fprintf(stderr, "asked to fail\n"); return 3; }
	if (argc > 1 && strcmp(argv[1], "spin") == 0) for (;;) ;
	if (argc > 1 && strcmp(argv[1], "crash") == 0) abort();
	volatile unsigned long x = 0;
	for (unsigned long i = 0; i < 20000000UL; i++) x += i;
	char cwd[256];
	printf("cwd %s env", getcwd(cwd, sizeof cwd));
	for (char **e = environ; *e; e++) printf(" %s", *e);
	printf("\nchecksum: %08lx\n", x & 0xffffffffUL);
	return 0;
}
`

// guestProgram cross-compiles prog for arch into dir.
func guestProgram(t *testing.T, cc, dir string) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "prog.c")
	os.WriteFile(src, []byte(prog), 0o644)
	bin := filepath.Join(dir, "prog")
	if out, err := exec.Command(cc, "-static", "-O1", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cc, err, out)
	}
	return bin
}

// cacheDir is the kernel cache tests share: Debian's kernels and busybox
// are fetched once per machine.
func cacheDir(t *testing.T) string { return kerneltest.CacheDir(t) }

// TestLabBatch runs one batch on each arch in the real lab: a run that
// passes (its output, environment and directory read back), one that
// fails, one killed at its timeout and one killed by a signal, all in one
// job per arch, both arches at once.
func TestLabBatch(t *testing.T) {
	c := lavatest.Lab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	type archCase struct{ arch, cc string }
	var wg sync.WaitGroup
	for _, a := range []archCase{{"armv8", "aarch64-linux-gnu-gcc"}, {"armv7", "arm-linux-gnueabihf-gcc"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(a.arch, func(t *testing.T) {
				dir := t.TempDir()
				bin := guestProgram(t, a.cc, dir)
				ex := &lava.Executor{Client: c, TokenEnv: "TEST", DeviceType: "qemu", Arch: a.arch, CC: a.cc,
					CacheDir: cacheDir(t), Files: []string{bin}, Poll: lava.Backoff{First: 500 * time.Millisecond, Max: 2 * time.Second, Factor: 1.2},
					JobName: "tcbot-test " + a.arch}
				defer ex.Cleanup()
				start := time.Now()
				if err := ex.Prepare(ctx); err != nil {
					t.Fatal(err)
				}
				t.Logf("prepare %s: %s", time.Since(start), ex.Lab())
				env := []string{"LC_ALL=C", "X=a b"}
				specs := []executor.Spec{
					{Name: a.arch + "/prog", Dir: dir, Argv: []string{"./prog"}, Env: env, Timeout: time.Minute},
					{Name: a.arch + "/fails", Dir: dir, Argv: []string{"./prog", "fail"}, Env: env, Timeout: time.Minute},
					{Name: a.arch + "/spins", Dir: dir, Argv: []string{"./prog", "spin"}, Env: env, Timeout: 2 * time.Second},
					{Name: a.arch + "/crashes", Dir: dir, Argv: []string{"./prog", "crash"}, Env: env, Timeout: time.Minute},
					{Name: a.arch + "/prog", Dir: dir, Argv: []string{"./prog"}, Env: env, Timeout: time.Minute},
				}
				start = time.Now()
				out, err := ex.RunBatch(ctx, specs)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("job %v: %d runs in %s", ex.Jobs(), len(specs), time.Since(start).Round(time.Millisecond))
				for i, o := range out {
					t.Logf("run %d: %s wall %s cpu %s stdout %q stderr %q", i, o.Describe(), o.Wall, o.CPU, o.Stdout, o.Stderr)
				}
				for _, i := range []int{0, 4} {
					o := out[i]
					if !o.OK() || !strings.Contains(string(o.Stdout), "checksum: ") || o.Wall <= 0 || o.Wall > time.Minute {
						t.Errorf("run %d: %s, wall %s, stdout %q", i, o.Describe(), o.Wall, o.Stdout)
					}
					if want := "cwd /tcbot/d0 env LC_ALL=C X=a b\n"; !strings.HasPrefix(string(o.Stdout), want) {
						t.Errorf("run %d printed %q, want it to start %q (fixed env, its directory)", i, o.Stdout, want)
					}
				}
				if o := out[1]; o.ExitCode != 3 || !strings.Contains(string(o.Stderr), "asked to fail") {
					t.Errorf("failing run: %s, stderr %q", o.Describe(), o.Stderr)
				}
				if o := out[2]; !o.TimedOut || o.Wall < 2*time.Second {
					t.Errorf("spinning run: %s after %s, want timed out after 2s", o.Describe(), o.Wall)
				}
				if o := out[3]; o.Signal != "aborted" || o.OK() {
					t.Errorf("crashing run: %s", o.Describe())
				}
				if *record {
					recordJob(t, c, ex.Jobs()[0], a.arch)
				}
			})
		}()
	}
	wg.Wait()
}

// recordJob saves the lab's answers about a job as testdata.
func recordJob(t *testing.T, c *lava.Client, id int, name string) {
	for _, p := range []struct{ path, file string }{
		{fmt.Sprintf("jobs/%d/", id), name + "-job.json"},
		{fmt.Sprintf("jobs/%d/tests/?limit=1000", id), name + "-tests.json"},
		{fmt.Sprintf("jobs/%d/logs/", id), name + "-logs.yaml"},
	} {
		req, _ := http.NewRequest("GET", strings.TrimSuffix(c.URL, "/")+"/api/v0.2/"+p.path, nil)
		req.Header.Set("Authorization", "Token "+c.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		// A job's own token (for its artifact uploads) is no business of
		// the testdata.
		data = regexp.MustCompile(`"token":"[^"]*"`).ReplaceAll(data, []byte(`"token":"REDACTED"`))
		if err := os.WriteFile(filepath.Join("testdata", p.file), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLabKernelPanic boots a kernel that panics (its rdinit names no
// program) in the real lab: with -no-reboot the job ends Incomplete at
// once, and the error says why, never a result.
func TestLabKernelPanic(t *testing.T) {
	c := lavatest.Lab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := guestProgram(t, "aarch64-linux-gnu-gcc", dir)
	ex := &lava.Executor{Client: c, TokenEnv: "TEST", DeviceType: "qemu", Arch: "armv8", CC: "aarch64-linux-gnu-gcc",
		CacheDir: cacheDir(t), Files: []string{bin}, KernelArgs: "rdinit=/no/such/init", Retries: -1,
		Poll: lava.Backoff{First: 500 * time.Millisecond, Max: 2 * time.Second, Factor: 1.2}, JobName: "tcbot-test panic"}
	defer ex.Cleanup()
	if err := ex.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := ex.Run(ctx, executor.Spec{Name: "armv8/prog", Dir: dir, Argv: []string{"./prog"}, Timeout: time.Minute})
	t.Logf("after %s: %v", time.Since(start).Round(time.Millisecond), err)
	var ie *executor.InfraError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "ended Incomplete") {
		t.Fatalf("error %v: want an infrastructure error, the job Incomplete", err)
	}
	if len(ex.Jobs()) != 1 {
		t.Errorf("jobs %v: want one (retries: none)", ex.Jobs())
	}
	if *record {
		recordJob(t, c, ex.Jobs()[0], "panic")
	}
}
