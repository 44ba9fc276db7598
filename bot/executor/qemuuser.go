package executor

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/tcbot/tcbot/bot/profile"
	"github.com/tcbot/tcbot/bot/sandbox"
)

// QEMUUser runs ARM Linux binaries under QEMU's user-mode emulation with
// tcbot's instruction-counting plugin. The CPU model is pinned, and the
// guest sees a fixed argv[0] and exactly the spec's environment, so the
// instruction count of a binary is the same on every run.
type QEMUUser struct {
	// QEMU is the emulator (qemu-arm, qemu-aarch64 or a path).
	QEMU string
	// CPU is the -cpu model (cortex-a15, cortex-a57).
	CPU string
	// Plugin is the path of the instruction-counting plugin (.so).
	Plugin string

	mu      sync.Mutex
	qemu    string
	tmp     string
	counter int
}

// Name implements Executor.
func (q *QEMUUser) Name() string { return "qemu-user" }

// Prepare finds QEMU and the plugin and makes a scratch directory for the
// counter files.
func (q *QEMUUser) Prepare(ctx context.Context) error {
	p, err := exec.LookPath(q.QEMU)
	if err != nil {
		return &InfraError{Op: "qemu-user", Err: fmt.Errorf("%s not found: install qemu-user (make deps) or set the target's qemu key", q.QEMU)}
	}
	if _, err := os.Stat(q.Plugin); err != nil {
		return &InfraError{Op: "qemu-user", Err: fmt.Errorf("instruction-counting plugin: %w (make build-plugin, or set plugin in the config)", err)}
	}
	tmp, err := os.MkdirTemp("", "tcbot-qemu-")
	if err != nil {
		return &InfraError{Op: "qemu-user", Err: err}
	}
	q.mu.Lock()
	q.qemu, q.tmp = p, tmp
	q.mu.Unlock()
	return nil
}

// Run implements Executor. spec.Argv[0] is the guest binary relative to
// spec.Dir ("./sha256"); the guest's argv[0] is its base name, and QEMU
// runs it from FixedDir, so its count does not depend on the workdir.
func (q *QEMUUser) Run(ctx context.Context, spec Spec) (*Outcome, error) {
	q.mu.Lock()
	qemu, tmp := q.qemu, q.tmp
	q.counter++
	n := q.counter
	q.mu.Unlock()
	if qemu == "" {
		return nil, &InfraError{Op: "qemu-user " + spec.Name, Err: fmt.Errorf("Run before Prepare")}
	}
	if len(spec.Argv) == 0 {
		return nil, &InfraError{Op: "qemu-user " + spec.Name, Err: fmt.Errorf("empty command")}
	}
	// Each run writes its count into a directory of its own: a sandboxed
	// guest, which may write there, can touch no other run's count.
	outDir := filepath.Join(tmp, fmt.Sprintf("run-%d", n))
	if err := os.Mkdir(outDir, 0o755); err != nil {
		return nil, &InfraError{Op: "qemu-user " + spec.Name, Err: err}
	}
	defer os.RemoveAll(outDir)
	out := filepath.Join(outDir, "count")
	tbs := filepath.Join(outDir, "tbs")
	// The binary runs from a fixed path (FixedDir), whatever the workdir.
	bin := spec.Argv[0]
	if !filepath.IsAbs(bin) {
		bin = filepath.Join(spec.Dir, bin)
	}
	exe, release, err := fixedCopy(bin)
	if err != nil {
		return nil, &InfraError{Op: "qemu-user " + spec.Name, Err: err}
	}
	defer release()
	argv := []string{qemu, "-cpu", q.CPU, "-0", filepath.Base(spec.Argv[0]),
		"-plugin", qemuOpt(q.Plugin) + ",out=" + qemuOpt(out) + ",tbs=" + qemuOpt(tbs), exe}
	argv = append(argv, spec.Argv[1:]...)
	mounts := append(append([]sandbox.Mount(nil), spec.Mounts...), sandbox.RO(q.Plugin), sandbox.RW(outDir), sandbox.RO(filepath.Dir(exe)))
	mounts = append(mounts, sandbox.HostMounts(qemu)...)
	o, err := runProcess(ctx, spec.Sandbox, mounts, spec.Dir, argv, spec.Env, spec.Timeout)
	if err != nil {
		return o, err
	}
	data, rerr := os.ReadFile(out)
	switch {
	case rerr == nil:
		v, perr := parseCount(data)
		if perr != nil {
			return o, &InfraError{Op: "qemu-user " + spec.Name, Err: perr}
		}
		o.Instructions, o.HasCounts = v, true
		if o.OK() {
			// Per-function attribution of the count: from the plugin's
			// per-block counts and the binary's symbols. The blocks must
			// add up to the total, or the attribution is not the count's.
			p, perr := profile.FromFiles(tbs, exe)
			if perr != nil {
				return o, &InfraError{Op: "qemu-user " + spec.Name, Err: perr}
			}
			if t := profile.Total(p); t != v {
				return o, &InfraError{Op: "qemu-user " + spec.Name, Err: fmt.Errorf("per-function counts add up to %d, the total is %d", t, v)}
			}
			o.Profile = p
		}
	case strings.Contains(string(o.Stderr), "Could not load plugin") || strings.Contains(string(o.Stderr), "insncount: "):
		// QEMU or the plugin refused to start: ours to fix, not the
		// change's, whatever the exit status says.
		return o, &InfraError{Op: "qemu-user " + spec.Name, Err: fmt.Errorf("the instruction-counting plugin did not load: %s", strings.TrimSpace(kindTail(o.Stderr)))}
	case o.OK():
		// QEMU exited cleanly but the plugin wrote nothing: the plugin
		// failed to load, which is ours to fix, not the change's.
		return o, &InfraError{Op: "qemu-user " + spec.Name, Err: fmt.Errorf("plugin wrote no count: %s", strings.TrimSpace(string(o.Stderr)))}
	}
	return o, nil
}

// qemuOpt escapes a value for QEMU's option syntax, which splits on ','
// (a path with a comma would otherwise break the -plugin option).
func qemuOpt(v string) string { return strings.ReplaceAll(v, ",", ",,") }

// kindTail is the last lines of QEMU's stderr, for an error message.
func kindTail(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return strings.Join(lines, " | ")
}

func parseCount(data []byte) (uint64, error) {
	s := strings.TrimSpace(string(data))
	v, ok := strings.CutPrefix(s, "insns ")
	if !ok {
		return 0, fmt.Errorf("plugin output %q: want \"insns N\"", s)
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("plugin output %q: %w", s, err)
	}
	return n, nil
}

// Cleanup removes the scratch directory; safe to call twice.
func (q *QEMUUser) Cleanup() error {
	q.mu.Lock()
	tmp := q.tmp
	q.tmp, q.qemu = "", ""
	q.mu.Unlock()
	if tmp == "" {
		return nil
	}
	return os.RemoveAll(tmp)
}
