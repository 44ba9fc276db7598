// Package buildtree keeps incremental build trees: one source tree and
// one build directory per (repository, recipe, arch) in the workdir, that
// follow revisions. Moving a tree to another revision rewrites only the
// files that differ (source.Mirror.Sync), so make rebuilds what the change
// touched: a one-line change to GCC's AArch64 backend costs tens of
// seconds instead of a twenty-minute cold build.
//
// Guarantees:
//   - A tree is configured again (from an empty build directory) when a
//     file matching the spec's Reconfigure patterns changed, when the
//     spec itself (steps, environment) changed, or on first use.
//   - A tree whose state is in doubt — its last build failed, or a build
//     was interrupted (the state file says "dirty" until a build ends) —
//     is rebuilt from clean.
//   - An incremental build that fails is tried once more from clean
//     before its failure is reported, so a stale tree never blames the
//     change.
//   - One build at a time per tree, across processes (a lock file).
//   - Every step runs in the spec's sandbox with exactly the spec's
//     environment; its output goes to the tree's build.log, and a failure
//     reports the step and the log's last lines.
package buildtree

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tcbot/tcbot/bot/sandbox"
	"github.com/tcbot/tcbot/bot/source"
)

// Spec says how a tree is configured and built. Commands run in the
// build directory; the caller expands paths ({src}, {build}) before.
type Spec struct {
	// Name labels logs and errors ("binutils armv8").
	Name      string
	Configure [][]string
	Build     [][]string
	// Reconfigure lists path patterns (path.Match syntax on the tree's
	// slash-separated paths; a pattern without a slash matches the base
	// name in any directory) whose change runs Configure again.
	Reconfigure []string
	Env         []string
	// Timeout bounds one whole build (all steps).
	Timeout time.Duration
	Sandbox *sandbox.Sandbox
	// Mounts are more read-only paths the steps need (a host sysroot
	// outside /usr, say); the tree itself is always writable.
	Mounts []sandbox.Mount
	// Progress, if set, is told when each step starts and every 20
	// seconds what runs: the step, its elapsed time and the last line of
	// its output; and, with an empty step, when the build ended.
	Progress func(step string, elapsed time.Duration, last string)
}

// Result is what building one revision gave.
type Result struct {
	OK bool
	// Step is the failing command ("make -j2 all-gas"), Tail the last
	// lines of the log; set when !OK.
	Step, Tail string
	Wall       time.Duration
	// Incremental is true when the tree followed from another revision
	// without a new configure; Changed counts the files rewritten.
	Incremental bool
	Changed     int
	// Clean is true when the build started from an empty build directory.
	Clean bool
}

// Tree is one incremental build tree.
type Tree struct {
	Dir string
}

// Src and Build are the tree's source and build directories.
func (t *Tree) Src() string   { return filepath.Join(t.Dir, "src") }
func (t *Tree) Build() string { return filepath.Join(t.Dir, "build") }

type state struct {
	Rev        string       `json:"rev"`
	Spec       string       `json:"spec"`
	Files      source.Files `json:"files"`
	Configured bool         `json:"configured"`
	OK         bool         `json:"ok"`
	Dirty      bool         `json:"dirty"`
}

const stateFile = "state.json"

// progressEvery is how often a long step reports its progress.
var progressEvery = 20 * time.Second

var inProcess sync.Map // tree dir -> *sync.Mutex

// Syncer writes a revision's files into a directory incrementally
// (source.Mirror.Sync).
type Syncer interface {
	Sync(sha, dir string, have source.Files) (source.Files, []string, error)
}

// Checkout moves the tree to revision sha of mirror and builds it.
func (t *Tree) Checkout(ctx context.Context, mirror Syncer, sha string, spec Spec) (*Result, error) {
	mu, _ := inProcess.LoadOrStore(t.Dir, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	if err := os.MkdirAll(t.Dir, 0o755); err != nil {
		return nil, err
	}
	unlock, err := lockFile(filepath.Join(t.Dir, "lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()

	start := time.Now()
	deadline := start.Add(spec.Timeout)
	if spec.Timeout <= 0 {
		deadline = start.Add(6 * time.Hour)
	}
	if spec.Progress != nil {
		defer spec.Progress("", 0, "") // the build ended
	}
	st := t.load()
	specID := specHash(spec)
	res, err := t.build(ctx, mirror, sha, spec, specID, st, deadline)
	if err != nil {
		return nil, err
	}
	if !res.OK && !res.Clean {
		// Confirm from clean: the failure must be the revision's.
		res, err = t.build(ctx, mirror, sha, spec, specID, state{}, deadline)
		if err != nil {
			return nil, err
		}
	}
	res.Wall = time.Since(start)
	return res, nil
}

func (t *Tree) build(ctx context.Context, mirror Syncer, sha string, spec Spec, specID string, st state, deadline time.Time) (*Result, error) {
	clean := st.Dirty || !st.OK || st.Spec != specID || st.Files == nil
	if clean {
		if err := os.RemoveAll(t.Src()); err != nil {
			return nil, err
		}
		st = state{}
	}
	st.Dirty, st.Spec = true, specID
	if err := t.save(st); err != nil {
		return nil, err
	}
	files, changed, err := mirror.Sync(sha, t.Src(), st.Files)
	if err != nil {
		return nil, fmt.Errorf("%s: check out %s: %w", spec.Name, short(sha), err)
	}
	reconfigure := clean || !st.Configured || matchesAny(changed, spec.Reconfigure)
	res := &Result{Clean: reconfigure, Incremental: !reconfigure, Changed: len(changed)}
	if reconfigure {
		if err := os.RemoveAll(t.Build()); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(t.Build(), 0o755); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(filepath.Join(t.Dir, "build.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "tcbot: %s at %s (%d files changed, %s)\n", spec.Name, sha, len(changed), map[bool]string{true: "configure and build", false: "incremental build"}[reconfigure])
	var steps [][]string
	if reconfigure {
		steps = append(steps, spec.Configure...)
	}
	steps = append(steps, spec.Build...)
	for _, argv := range steps {
		ok, tail, err := t.run(ctx, argv, spec, logf, deadline)
		if err != nil {
			return nil, err
		}
		if !ok {
			res.Step, res.Tail = strings.Join(argv, " "), tail
			st.Files, st.Rev, st.OK, st.Dirty, st.Configured = files, sha, false, false, false
			return res, t.save(st)
		}
	}
	res.OK = true
	st.Files, st.Rev, st.OK, st.Dirty, st.Configured = files, sha, true, false, true
	return res, t.save(st)
}

// run runs one step in the sandbox, its output appended to log; ok is
// false when the step failed or timed out (the tail says how).
func (t *Tree) run(ctx context.Context, argv []string, spec Spec, log io.Writer, deadline time.Time) (ok bool, tail string, err error) {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	mounts := append([]sandbox.Mount{sandbox.RW(t.Dir)}, spec.Mounts...)
	cmd, err := spec.Sandbox.Command(ctx, argv, spec.Env, t.Build(), mounts)
	if err != nil {
		return false, "", err
	}
	tl := &tailer{max: 40}
	w := io.MultiWriter(log, tl)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	fmt.Fprintf(log, "tcbot: $ %s\n", strings.Join(argv, " "))
	step := strings.Join(argv, " ")
	start := time.Now()
	done := make(chan struct{})
	if spec.Progress != nil {
		spec.Progress(step, 0, "")
		go func() {
			tick := time.NewTicker(progressEvery)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					spec.Progress(step, time.Since(start), tl.last())
				}
			}
		}()
	}
	err = cmd.Run()
	close(done)
	if err == nil {
		return true, "", nil
	}
	if ctx.Err() == context.DeadlineExceeded {
		return false, fmt.Sprintf("timed out after %s\n%s", time.Since(start).Round(time.Second), tl.String()), nil
	}
	if ctx.Err() != nil {
		return false, "", ctx.Err()
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return false, tl.String(), nil
	}
	return false, "", fmt.Errorf("%s: %s: %w", spec.Name, step, err)
}

func (t *Tree) load() state {
	var st state
	data, err := os.ReadFile(filepath.Join(t.Dir, stateFile))
	if err != nil || json.Unmarshal(data, &st) != nil {
		return state{}
	}
	return st
}

func (t *Tree) save(st state) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp := filepath.Join(t.Dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(t.Dir, stateFile))
}

// Digest identifies what the spec builds: its commands, environment and
// reconfigure patterns (not its name, sandbox or progress reporting).
// Outputs built under another digest are another build.
func (s Spec) Digest() string { return specHash(s) }

func specHash(s Spec) string {
	h := sha256.New()
	json.NewEncoder(h).Encode([]any{s.Configure, s.Build, s.Env, s.Reconfigure})
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func matchesAny(paths, patterns []string) bool {
	for _, p := range paths {
		for _, pat := range patterns {
			target := p
			if !strings.Contains(pat, "/") {
				target = path.Base(p)
			}
			if ok, _ := path.Match(pat, target); ok {
				return true
			}
		}
	}
	return false
}

func lockFile(p string) (func(), error) {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// tailer keeps the last max lines written to it.
type tailer struct {
	mu    sync.Mutex
	max   int
	lines []string
	part  []byte
	// first is the first line that reads like a compiler's or linker's
	// error: in a parallel build it is often far above the last lines.
	first string
}

// errorLine reports whether line reads like a compiler's or linker's
// error ("file.c:12:3: error: ...", "undefined reference to").
func errorLine(line string) bool {
	return strings.Contains(line, ": error: ") || strings.Contains(line, ": fatal error: ") || strings.Contains(line, "undefined reference to ")
}

func (t *tailer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.part = append(t.part, p...)
	for {
		i := bytes.IndexByte(t.part, '\n')
		if i < 0 {
			break
		}
		line := string(t.part[:i])
		if t.first == "" && errorLine(line) {
			t.first = line
		}
		t.lines = append(t.lines, line)
		t.part = t.part[i+1:]
		if len(t.lines) > t.max {
			t.lines = t.lines[len(t.lines)-t.max:]
		}
	}
	if len(t.part) > 4096 {
		t.part = t.part[len(t.part)-4096:]
	}
	return len(p), nil
}

func (t *tailer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := strings.Join(t.lines, "\n")
	if len(t.part) > 0 {
		out += "\n" + string(t.part)
	}
	// The first error last, so that the shortest tail still shows it.
	if t.first != "" {
		out += "\nfirst error: " + t.first
	}
	return strings.TrimSpace(out)
}

func (t *tailer) last() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.part) > 0 {
		return string(t.part)
	}
	if len(t.lines) > 0 {
		return t.lines[len(t.lines)-1]
	}
	return ""
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
