package executor

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tcbot/tcbot/bot/kernel"
)

// Defaults of the qemu-system executor.
const (
	DefaultBootTimeout = 60 * time.Second
	DefaultMemoryMiB   = 1024
	// consoleGrace is how much longer than a run's timeout the host
	// waits for the guest's answer before it declares the console lost
	// (the guest kills the command itself at the timeout).
	consoleGrace = 30 * time.Second
	// consoleTail is how many console lines errors quote.
	consoleTail = 25
)

// guestDir is where the guest holds the benchmark binaries; commands
// start there.
const guestDir = "/tcbot"

// QEMUSystem boots an Arm Linux kernel under qemu-system with an
// initramfs tcbot builds (static busybox, the Files, and an /init that
// serves commands on the serial console) and runs commands in that guest.
//
// Lifecycle: Prepare fetches Debian's kernel and busybox when none are
// given (into KernelCache), writes the initramfs, boots (-no-reboot and
// panic=-1, so a panicking kernel makes QEMU exit), and waits for the
// guest's ready marker within BootTimeout; Boot then says how long that
// took. The guest's clock counts instructions (-icount) unless RealTime. Run sends one command over the console, base64-encoded, and
// reads back its exit status, stdout, stderr and in-guest wall time
// between markers that carry a per-run nonce. Cleanup kills QEMU's whole
// process group and removes the scratch directory.
//
// The guest is one machine with one console: Runs are serialized. Every
// failure of the VM (boot timeout, kernel panic, QEMU gone, console
// garbled or silent) is an *InfraError; a boot failure wraps a *BootError.
type QEMUSystem struct {
	// Arch is armv7 or armv8: it picks the defaults below.
	Arch string
	// QEMU is the emulator (default qemu-system-aarch64 or
	// qemu-system-arm); Machine (virt) and CPU (cortex-a57 or cortex-a15)
	// what it emulates.
	QEMU, Machine, CPU string
	// MemoryMiB is the guest's memory (default 1024).
	MemoryMiB int
	// Kernel is the kernel to boot (an Image or zImage); empty means
	// Debian's kernel for Arch, cached in KernelCache.
	Kernel string
	// Busybox is a static busybox for Arch; empty means Debian's
	// busybox-static, cached in KernelCache.
	Busybox string
	// KernelCache is where Debian's kernel and busybox are cached.
	KernelCache string
	// KernelArgs are added to the kernel command line.
	KernelArgs string
	// BootTimeout bounds the boot, from starting QEMU to the ready
	// marker (default 60s).
	BootTimeout time.Duration
	// Files are host files (benchmark binaries) put into the guest's
	// /tcbot under their base names, mode 0755.
	Files []string
	// RealTime runs the guest's clock in real time. By default QEMU
	// runs with -icount shift=0: while the guest computes, its clock
	// advances one nanosecond per instruction, so a run's in-guest time
	// is deterministic (what the guest executed, kernel included) and
	// host load does not move it; while the guest is idle its clock
	// follows real time.
	RealTime bool
	// ConsoleLog, when set, receives everything the guest's console
	// prints (for debugging a guest).
	ConsoleLog io.Writer

	// Disk, when set, is a root filesystem image (raw ext4, a Debian
	// system: bot/distro) the guest runs on. The initramfs mounts it
	// (virtio-mmio block device /dev/vda), copies Files into its /tcbot
	// and the tree Overlay into its root, brings up loopback, and
	// switches root; there Disk's own /bin/sh runs Stage2 (start
	// services), says the ready marker (so Boot's time runs to a ready
	// system) and serves commands like the initramfs guest. Writes go to
	// a throwaway snapshot unless DiskWritable.
	Disk         string
	DiskWritable bool
	// Overlay is a host directory whose tree is laid over the disk's root
	// before it starts (a glibc under test); empty for none.
	Overlay string
	// Stage2 is shell code run on the disk's root before the ready
	// marker; a non-zero status fails the boot with its output.
	Stage2 string
	// Plugin and PluginArgs load a TCG plugin (tcbot's insncount.so,
	// with marks=FILE to count the instructions between the guest's
	// marks); empty for none.
	Plugin     string
	PluginArgs []string
	// HostForward gives the guest a user-mode network card
	// (virtio-mmio, 10.0.2.15/24 behind QEMU's 10.0.2.2) forwarding
	// these host ports to it, in QEMU's hostfwd syntax
	// ("tcp:127.0.0.1:2222-:22"); a disk guest's second stage configures
	// the card before Stage2. Empty: no network.
	HostForward []string

	mu      sync.Mutex // one command on the console at a time
	state   sync.Mutex // guards vm, tmp, boot
	vm      *guestVM
	died    string // why the guest died during a run
	tmp     string
	boot    BootInfo
	version string
}

// BootInfo is what a boot measured.
type BootInfo struct {
	// Time is from starting QEMU to the guest's ready marker (host wall
	// time: firmware, kernel decompression and boot, /init).
	Time time.Duration
	// GuestUptime is the guest's own uptime at the ready marker.
	GuestUptime time.Duration
	// Kernel is the kernel booted, KernelVersion its version when known.
	Kernel, KernelVersion string
	// InitramfsSize is the size of the compressed initramfs in bytes.
	InitramfsSize int64
}

// Booter is an executor that boots a kernel; after a successful Prepare,
// Boot says how the boot went.
type Booter interface {
	Boot() (BootInfo, bool)
}

// BootError is a guest that did not come up: a kernel panic, QEMU
// exiting, or no ready marker in time. It comes wrapped in an
// *InfraError; a caller measuring the kernel itself may unwrap it and
// count the boot as the kernel's failure.
type BootError struct {
	Reason  string
	Console string // the last lines of the console
}

func (e *BootError) Error() string {
	if e.Console == "" {
		return e.Reason
	}
	return e.Reason + "; console ends:\n" + e.Console
}

// GuestError is a guest that died or stopped answering during a run (a
// kernel panic, QEMU exiting, a silent console), or a run asked of a
// guest that died earlier. It comes wrapped in an *InfraError; a caller
// measuring the kernel itself may unwrap it and count the run as the
// kernel's failure.
type GuestError struct {
	Reason  string
	Console string // the last lines of the console
}

func (e *GuestError) Error() string {
	if e.Console == "" {
		return e.Reason
	}
	return e.Reason + "; console ends:\n" + e.Console
}

// Name implements Executor.
func (q *QEMUSystem) Name() string { return "qemu-system" }

func (q *QEMUSystem) op() string { return "qemu-system " + q.Arch }

// Boot implements Booter.
func (q *QEMUSystem) Boot() (BootInfo, bool) {
	q.state.Lock()
	defer q.state.Unlock()
	return q.boot, q.vm != nil
}

// settings fills the defaults of Arch into a copy of the fields.
func (q *QEMUSystem) settings() (qemu, machine, cpu string, mem int, boot time.Duration, err error) {
	a, err := kernel.LookupArch(q.Arch)
	if err != nil {
		return "", "", "", 0, 0, err
	}
	qemu, machine, cpu, mem, boot = q.QEMU, q.Machine, q.CPU, q.MemoryMiB, q.BootTimeout
	if qemu == "" {
		qemu = a.QEMU
	}
	if machine == "" {
		machine = a.Machine
	}
	if cpu == "" {
		cpu = a.CPU
	}
	if mem <= 0 {
		mem = DefaultMemoryMiB
	}
	if boot <= 0 {
		boot = DefaultBootTimeout
	}
	return qemu, machine, cpu, mem, boot, nil
}

// Prepare implements Executor: it boots the guest.
func (q *QEMUSystem) Prepare(ctx context.Context) error {
	infra := func(err error) error { return &InfraError{Op: q.op(), Err: err} }
	qemuName, machine, cpu, mem, bootTimeout, err := q.settings()
	if err != nil {
		return infra(err)
	}
	qemu, err := exec.LookPath(qemuName)
	if err != nil {
		return infra(fmt.Errorf("%s not found: install qemu-system-arm (make deps) or set the target's qemu key", qemuName))
	}
	kernelPath, version, bb := q.Kernel, "", q.Busybox
	if kernelPath == "" || bb == "" {
		if q.KernelCache == "" {
			return infra(errors.New("no kernel and busybox given and no cache to fetch Debian's into"))
		}
	}
	if kernelPath == "" {
		img, err := kernel.Debian(ctx, q.KernelCache, q.Arch)
		if err != nil {
			return infra(err)
		}
		kernelPath, version = img.Path, img.Package+" "+img.Version
	}
	if bb == "" {
		if bb, err = kernel.Busybox(ctx, q.KernelCache, q.Arch); err != nil {
			return infra(err)
		}
	}
	if _, err := os.Stat(kernelPath); err != nil {
		return infra(fmt.Errorf("kernel: %w", err))
	}
	tmp, err := os.MkdirTemp("", "tcbot-qemu-system-")
	if err != nil {
		return infra(err)
	}
	q.state.Lock()
	q.tmp = tmp
	q.state.Unlock()

	tail := serveTail
	if q.Disk != "" {
		tail = diskTail
	}
	files := append(kernel.StandardFiles(bb, tail), kernel.File{Path: guestDir, Mode: fs.ModeDir | 0o755})
	if q.Disk != "" {
		if _, err := os.Stat(q.Disk); err != nil {
			return infra(fmt.Errorf("disk: %w", err))
		}
		files = append(files, kernel.File{Path: "/stage2", Data: []byte(stage2Script(q.Stage2)), Mode: 0o755})
		if q.Overlay != "" {
			ov, err := overlayFiles(q.Overlay, "/overlay")
			if err != nil {
				return infra(fmt.Errorf("overlay: %w", err))
			}
			files = append(files, ov...)
		}
	}
	seen := map[string]string{}
	for _, f := range q.Files {
		base := filepath.Base(f)
		if other, dup := seen[base]; dup {
			return infra(fmt.Errorf("files %s and %s have the same name in the guest", other, f))
		}
		seen[base] = f
		files = append(files, kernel.File{Path: path.Join(guestDir, base), Source: f, Mode: 0o755})
	}
	initrd := filepath.Join(tmp, "initramfs.cpio.gz")
	out, err := os.Create(initrd)
	if err != nil {
		return infra(err)
	}
	err = kernel.WriteInitramfs(out, files)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return infra(err)
	}
	st, _ := os.Stat(initrd)

	cmdline := "console=ttyAMA0 rdinit=/init panic=-1 quiet"
	if q.Disk != "" {
		// The boot console from the first instruction on: a kernel
		// under test that dies before its console driver registers still
		// says why (a panic in early init prints nothing otherwise).
		cmdline = "console=ttyAMA0 earlycon rdinit=/init panic=-1 quiet"
	}
	if q.KernelArgs != "" {
		cmdline += " " + q.KernelArgs
	}
	nic := []string{"-nic", "none"}
	if len(q.HostForward) > 0 {
		nd := "user,id=net0"
		for _, f := range q.HostForward {
			nd += ",hostfwd=" + qemuOpt(f)
		}
		nic = []string{"-netdev", nd, "-device", "virtio-net-device,netdev=net0"}
	}
	argv := []string{qemu, "-M", machine, "-cpu", cpu, "-m", strconv.Itoa(mem), "-smp", "1",
		"-nographic", "-monitor", "none", "-serial", "stdio", "-no-reboot",
		"-kernel", kernelPath, "-initrd", initrd, "-append", cmdline}
	argv = append(argv, nic...)
	if !q.RealTime {
		argv = append(argv, "-icount", "shift=0")
	}
	if q.Disk != "" {
		drive := "if=none,id=root,format=raw,file=" + qemuOpt(q.Disk)
		if q.DiskWritable {
			drive += ",cache=unsafe"
		} else {
			drive += ",snapshot=on"
		}
		argv = append(argv, "-drive", drive, "-device", "virtio-blk-device,drive=root")
	}
	if q.Plugin != "" {
		opt := "file=" + qemuOpt(q.Plugin)
		for _, a := range q.PluginArgs {
			opt += "," + qemuOpt(a)
		}
		argv = append(argv, "-plugin", opt)
	}
	vm, err := startVM(argv, q.ConsoleLog)
	if err != nil {
		return infra(err)
	}
	q.state.Lock()
	q.vm = vm
	q.state.Unlock()

	bctx, cancel := context.WithTimeout(ctx, bootTimeout)
	defer cancel()
	var up time.Duration
	ready := kernel.ReadyMarker
	if q.Disk != "" {
		ready = SystemReadyMarker
	}
	_, err = vm.waitFor(bctx, func(line string) bool {
		i := strings.Index(line, ready)
		if i < 0 {
			return false
		}
		f := strings.Fields(line[i+len(ready):])
		if len(f) > 0 {
			if s, err := strconv.ParseFloat(f[0], 64); err == nil {
				up = time.Duration(s * float64(time.Second))
			}
		}
		return true
	})
	bootTime := time.Since(vm.started)
	if err == nil {
		// The command loop says when the console is in raw mode.
		_, err = vm.waitFor(bctx, func(line string) bool { return strings.Contains(line, serveMarker) })
	}
	if err != nil {
		reason := vm.failure(err, ctx, bootTimeout, "boot")
		vm.kill()
		q.state.Lock()
		q.vm = nil
		q.state.Unlock()
		if ctx.Err() != nil {
			return infra(ctx.Err())
		}
		return infra(&BootError{Reason: reason, Console: vm.tail()})
	}
	q.state.Lock()
	q.boot = BootInfo{Time: bootTime, GuestUptime: up, Kernel: kernelPath, KernelVersion: version, InitramfsSize: st.Size()}
	q.state.Unlock()
	return nil
}

// serveMarker is printed (from two parts) when the command loop is
// listening.
const serveMarker = "TCBOT-CONSOLE-RAW"

// serveTail is the /init tail of the qemu-system guest: the console goes
// raw without echo (no line editing, no signals from stray bytes, no line
// length limit), then each line that is base64 is decoded into a script
// and run in a subshell. Anything else (noise) is ignored. A script is one
// call of tcbot_run (see runScript), so what crosses the console per run
// is a short line.
//
// tcbot_run NONCE SECS ARGV... runs ARGV in /tcbot with stdin from
// /dev/null, killed after SECS seconds, and prints its stdout and stderr
// in base64 between markers made of "@@TCBOT-", NONCE and OUT, ERR, END;
// the END line carries the exit status, the monotonic clock before and
// after (nanoseconds, from /proc/timer_list read with shell built-ins so
// taking them forks nothing; /proc/uptime in centiseconds where a kernel
// has no timer_list) and the sizes of stdout and stderr.
var serveTail = `tcbot_clock() {
	if [ -r /proc/timer_list ]; then
		{ read -r _; read -r _; read -r _ _ tcbot_t _; } </proc/timer_list
	else
		read -r tcbot_t _ </proc/uptime; tcbot_t="${tcbot_t%.*}${tcbot_t#*.}0000000"
	fi
}
tcbot_run() {
	m=@@TC; m="${m}BOT-$1"; secs=$2; shift 2
	o=/tmp/.tcbot-o e=/tmp/.tcbot-e
	cd ` + guestDir + ` 2>/dev/null || cd /
	tcbot_clock; t0=$tcbot_t
	timeout -s KILL "$secs" "$@" </dev/null >$o 2>$e
	s=$?
	tcbot_clock; t1=$tcbot_t
	set -- $(wc -c $o $e)
	printf '%s-OUT\n' "$m"
	[ "$1" = 0 ] || head -c ` + strconv.Itoa(OutputLimit) + ` $o | base64
	printf '%s-ERR\n' "$m"
	[ "$3" = 0 ] || head -c ` + strconv.Itoa(OutputLimit) + ` $e | base64
	printf '%s-END %s %s %s %s %s\n' "$m" "$s" "$t0" "$t1" "$1" "$3"
}
stty raw -echo 2>/dev/null
printf '%s%s\n' '` + serveMarker[:8] + `' '` + serveMarker[8:] + `'
while read -r tcbot_line; do
	case "$tcbot_line" in ''|*[!A-Za-z0-9+/=]*) continue ;; esac
	base64 -d >/tmp/.tcbot-cmd 2>/dev/null <<TCBOT_EOF || continue
$tcbot_line
TCBOT_EOF
	(. /tmp/.tcbot-cmd)
done`

// Run implements Executor. Argv[0] names a binary in the guest's /tcbot
// ("./sha256") or on its PATH; spec.Dir is a host path and is ignored. The
// command gets exactly spec.Env, stdin from /dev/null, and is killed in
// the guest at spec.Timeout (on the guest's clock). Wall is the command's
// time on the guest's monotonic clock (see RealTime); CPU is not
// measured.
func (q *QEMUSystem) Run(ctx context.Context, spec Spec) (*Outcome, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	op := q.op() + " " + spec.Name
	q.state.Lock()
	vm, died := q.vm, q.died
	q.state.Unlock()
	if died != "" {
		return nil, &InfraError{Op: op, Err: &GuestError{Reason: "the guest died earlier: " + died}}
	}
	if vm == nil {
		return nil, &InfraError{Op: op, Err: errors.New("Run before Prepare")}
	}
	if len(spec.Argv) == 0 {
		return nil, &InfraError{Op: op, Err: errors.New("empty command")}
	}
	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = time.Hour
	}
	nonce := make([]byte, 8)
	if _, err := rand.Read(nonce); err != nil {
		return nil, &InfraError{Op: op, Err: err}
	}
	n := hex.EncodeToString(nonce)
	script := runScript(n, spec, timeout)
	if err := vm.send(base64.StdEncoding.EncodeToString([]byte(script)) + "\n"); err != nil {
		reason := "console lost: " + err.Error()
		q.state.Lock()
		q.died = reason
		q.state.Unlock()
		return nil, &InfraError{Op: op, Err: &GuestError{Reason: reason, Console: vm.tail()}}
	}
	// The guest kills the command at timeout on its own clock, which
	// under icount may run slower than the host's.
	wait := timeout + consoleGrace
	if !q.RealTime {
		wait = 4*timeout + consoleGrace
	}
	rctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	res, err := readResult(rctx, vm, n)
	if err != nil {
		reason := vm.failure(err, ctx, wait, "answer from the guest")
		if ctx.Err() != nil || errors.Is(err, errConsoleClosed) || rctx.Err() != nil {
			// The guest is gone or wedged: no later command can
			// trust this console.
			vm.kill()
			q.state.Lock()
			if q.vm == vm {
				q.vm = nil
			}
			if ctx.Err() == nil {
				q.died = reason
			}
			q.state.Unlock()
		}
		if ctx.Err() != nil {
			return nil, &InfraError{Op: op, Err: ctx.Err()}
		}
		if errors.Is(err, errConsoleClosed) || rctx.Err() != nil {
			return nil, &InfraError{Op: op, Err: &GuestError{Reason: reason, Console: vm.tail()}}
		}
		// A garbled answer: the guest lives on.
		return nil, &InfraError{Op: op, Err: fmt.Errorf("%s; console ends:\n%s", reason, vm.tail())}
	}
	o := &Outcome{Stdout: res.stdout, Stderr: res.stderr, Wall: res.wall, ExitCode: res.status}
	if res.status > 128 && res.status <= 128+64 {
		o.ExitCode, o.Signal = -1, signalName(res.status-128)
		if res.status == 128+9 && res.wall >= timeout-10*time.Millisecond {
			o.Signal, o.TimedOut = "", true
		}
	}
	return o, nil
}

// runScript is the guest shell script of one command: a call of the
// guest's tcbot_run (see serveTail) with an exact environment.
func runScript(nonce string, spec Spec, timeout time.Duration) string {
	secs := int(math.Ceil(timeout.Seconds()))
	argv := []string{"tcbot_run", nonce, strconv.Itoa(secs), "env", "-i"}
	argv = append(argv, spec.Env...)
	argv = append(argv, spec.Argv...)
	return shellJoin(argv) + "\n"
}

type runResult struct {
	status         int
	wall           time.Duration
	stdout, stderr []byte
}

var errConsoleClosed = errors.New("the guest's console closed (QEMU exited)")

// readResult reads one command's answer: the OUT, ERR and END markers of
// nonce with base64 between them. Lines that are not base64 (kernel
// messages, stale output of an earlier command) are skipped; the sizes on
// the END line catch anything that got through.
func readResult(ctx context.Context, vm *guestVM, nonce string) (*runResult, error) {
	prefix := "@@TCBOT-" + nonce + "-"
	var section string
	var out, errb strings.Builder
	var end []string
	_, err := vm.waitFor(ctx, func(line string) bool {
		if i := strings.Index(line, prefix); i >= 0 {
			rest := line[i+len(prefix):]
			switch {
			case rest == "OUT":
				section = "out"
			case rest == "ERR":
				section = "err"
			case strings.HasPrefix(rest, "END "):
				end = strings.Fields(rest[4:])
				return true
			}
			return false
		}
		if !isBase64Line(line) {
			return false
		}
		switch section {
		case "out":
			out.WriteString(line)
		case "err":
			errb.WriteString(line)
		}
		return false
	})
	if err != nil {
		return nil, err
	}
	if len(end) != 5 {
		return nil, fmt.Errorf("end marker with %d fields, want 5: %q", len(end), end)
	}
	var v [5]int64
	for i, f := range end {
		x, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("end marker field %d %q: %w", i, f, err)
		}
		v[i] = x
	}
	stdout, err := decodeOutput(out.String(), v[3], "stdout")
	if err != nil {
		return nil, err
	}
	stderr, err := decodeOutput(errb.String(), v[4], "stderr")
	if err != nil {
		return nil, err
	}
	return &runResult{status: int(v[0]), wall: time.Duration(v[2] - v[1]), stdout: stdout, stderr: stderr}, nil
}

func decodeOutput(b64 string, size int64, what string) ([]byte, error) {
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("console garbled the command's %s: %w", what, err)
	}
	want := min(size, OutputLimit)
	if int64(len(data)) != want {
		return nil, fmt.Errorf("console garbled the command's %s: %d bytes, want %d", what, len(data), want)
	}
	if size > OutputLimit {
		data = append(data, []byte("\n[output truncated by tcbot]\n")...)
	}
	return data, nil
}

func isBase64Line(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

// Cleanup implements Executor: it kills the guest and removes the
// scratch directory. Safe to call twice and after a failed Prepare.
func (q *QEMUSystem) Cleanup() error {
	q.state.Lock()
	vm, tmp := q.vm, q.tmp
	q.vm, q.tmp, q.died = nil, "", ""
	q.state.Unlock()
	if vm != nil {
		vm.kill()
	}
	if tmp != "" {
		return os.RemoveAll(tmp)
	}
	return nil
}

// guestVM is a running QEMU and its console.
type guestVM struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	lines   chan string
	exited  chan struct{}
	started time.Time
	stderr  *capped

	mu      sync.Mutex
	last    []string // the last consoleTail lines
	panic   string   // the kernel's "Kernel panic" line, if any
	waitErr error
}

func startVM(argv []string, log io.Writer) (*guestVM, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	// Its own process group, so Cleanup kills everything; and dead with
	// tcbot if tcbot dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	vm := &guestVM{cmd: cmd, stdin: stdin, lines: make(chan string, 4096), exited: make(chan struct{}), stderr: &capped{limit: 64 << 10}}
	cmd.Stderr = vm.stderr
	cmd.WaitDelay = time.Second
	vm.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	go vm.read(stdout, log)
	go func() {
		err := cmd.Wait()
		vm.mu.Lock()
		vm.waitErr = err
		vm.mu.Unlock()
		close(vm.exited)
	}()
	return vm, nil
}

// read splits the console into lines (without \r) for waitFor and keeps
// the last ones for error messages.
func (vm *guestVM) read(r io.Reader, log io.Writer) {
	defer close(vm.lines)
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if log != nil && line != "" {
			_, _ = io.WriteString(log, line)
		}
		line = strings.TrimRight(line, "\r\n")
		line = strings.ReplaceAll(line, "\r", "")
		if line != "" || err == nil {
			vm.mu.Lock()
			if i := strings.Index(line, "Kernel panic"); i >= 0 && vm.panic == "" {
				vm.panic = line[i:]
			}
			vm.last = append(vm.last, line)
			if len(vm.last) > consoleTail {
				vm.last = vm.last[len(vm.last)-consoleTail:]
			}
			vm.mu.Unlock()
			vm.lines <- line
		}
		if err != nil {
			return
		}
	}
}

// waitFor consumes console lines until match accepts one (returned), the
// console closes (errConsoleClosed) or ctx ends.
func (vm *guestVM) waitFor(ctx context.Context, match func(string) bool) (string, error) {
	for {
		select {
		case line, ok := <-vm.lines:
			if !ok {
				return "", errConsoleClosed
			}
			if match(line) {
				return line, nil
			}
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

func (vm *guestVM) send(s string) error {
	select {
	case <-vm.exited:
		return errConsoleClosed
	default:
	}
	_, err := io.WriteString(vm.stdin, s)
	return err
}

// failure says why waiting for what failed: a panic, QEMU exiting (with
// its complaint), or a timeout.
func (vm *guestVM) failure(err error, parent context.Context, limit time.Duration, what string) string {
	if errors.Is(err, errConsoleClosed) {
		select {
		case <-vm.exited:
		case <-time.After(2 * time.Second):
		}
	}
	vm.mu.Lock()
	panicLine := vm.panic
	vm.mu.Unlock()
	if panicLine != "" {
		return "kernel panic: " + panicLine
	}
	switch {
	case parent.Err() != nil:
		return parent.Err().Error()
	case errors.Is(err, errConsoleClosed):
		vm.mu.Lock()
		werr := vm.waitErr
		vm.mu.Unlock()
		msg := "QEMU exited"
		if werr != nil {
			msg += " (" + werr.Error() + ")"
		}
		msg += " before the " + what
		if s := strings.TrimSpace(string(vm.stderr.Bytes())); s != "" {
			msg += ": " + s
		}
		return msg
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no %s within %s", what, limit)
	}
	return err.Error()
}

func (vm *guestVM) tail() string {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return strings.Join(vm.last, "\n")
}

// kill ends QEMU's process group and waits for QEMU to be reaped.
func (vm *guestVM) kill() {
	if p := vm.cmd.Process; p != nil {
		_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
	}
	_ = vm.stdin.Close()
	select {
	case <-vm.exited:
	case <-time.After(5 * time.Second):
	}
	// Let the reader finish so nothing blocks on the line channel.
	go func() {
		for range vm.lines {
		}
	}()
}
