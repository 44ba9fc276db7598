package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Defaults of the SSH executor.
const (
	defaultSSHPort    = 22
	defaultSSHMaxLoad = 2.0
	defaultSSHDial    = 10 * time.Second
)

// SSH runs benchmark binaries on a board reached over SSH. The board needs
// only a POSIX shell and coreutils: binaries are copied with `cat >` over a
// session, and every command goes through `sh -c` with each argument quoted.
//
// The board's host key is always verified against KnownHosts; there is no
// way to skip the check. The private key is read at Prepare and never
// logged or put in an error.
//
// Every failure of the board or the link (unreachable, busy, connection
// lost mid-run, cancelled) is an *InfraError: a dead board is never a
// regression. Run may be called concurrently once Prepare has returned.
type SSH struct {
	Host string
	Port int // default 22
	User string
	// KeyFile is the private key (ed25519 or RSA, unencrypted).
	KeyFile string
	// KnownHosts is the known_hosts file the board's host key must be in.
	KnownHosts string
	// RunWrapper is put before every command ("qemu-aarch64", "-cpu",
	// "cortex-a57"), so an x86 host can stand in for a board in tests.
	RunWrapper []string
	// MaxLoad is the highest acceptable 1-minute load average: a board at
	// or above it is busy, and timings taken on it would be noise. Zero
	// means 2.0; a negative value makes every board busy (for tests).
	MaxLoad float64
	// RemoteDir is where Prepare makes the fresh working directory (with
	// mktemp -d). Empty means the board's default temporary directory.
	// Cleanup removes only the directory Prepare made, never RemoteDir
	// itself, so a mistyped RemoteDir cannot wipe the board.
	RemoteDir string
	// Dial bounds connecting and the SSH handshake; default 10s.
	Dial time.Duration
	// Files are local files (benchmark binaries) Prepare uploads into the
	// working directory under their base names, mode 0755.
	Files []string

	mu      sync.Mutex
	client  *ssh.Client
	workDir string
	perf    bool
	counter int
}

// Name implements Executor.
func (s *SSH) Name() string { return "ssh" }

// target names the board in errors and known_hosts lines.
func (s *SSH) target() string {
	return net.JoinHostPort(s.Host, strconv.Itoa(s.port()))
}

func (s *SSH) port() int {
	if s.Port == 0 {
		return defaultSSHPort
	}
	return s.Port
}

func (s *SSH) maxLoad() float64 {
	if s.MaxLoad == 0 {
		return defaultSSHMaxLoad
	}
	return s.MaxLoad
}

func (s *SSH) op() string { return "ssh " + s.User + "@" + s.target() }

// WorkDir is the directory on the board Prepare made; Run's commands start
// there. Empty before Prepare and after Cleanup.
func (s *SSH) WorkDir() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.workDir
}

// Prepare connects (verifying the host key), checks the board is idle,
// looks for perf, makes the working directory and uploads Files.
func (s *SSH) Prepare(ctx context.Context) error {
	client, err := s.connect(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.client = client
	s.mu.Unlock()
	if _, err := s.checkLoad(ctx, client); err != nil {
		return err
	}
	perf, err := hasPerf(ctx, client)
	if err != nil {
		return &InfraError{Op: s.op(), Err: fmt.Errorf("look for perf: %w", err)}
	}
	base := s.RemoteDir
	mk := "mktemp -d"
	if base != "" {
		mk = "mkdir -p " + ShellQuote(base) + " && mktemp -d " + ShellQuote(path.Join(base, "tcbot.XXXXXXXX"))
	}
	out, err := remoteOutput(ctx, client, mk, nil)
	if err != nil {
		return &InfraError{Op: s.op(), Err: fmt.Errorf("make working directory: %w", err)}
	}
	dir := strings.TrimSpace(string(out))
	if !strings.HasPrefix(dir, "/") {
		return &InfraError{Op: s.op(), Err: fmt.Errorf("mktemp -d printed %q, want an absolute path", dir)}
	}
	s.mu.Lock()
	s.workDir, s.perf = dir, perf
	s.mu.Unlock()
	for _, f := range s.Files {
		if err := upload(ctx, client, f, path.Join(dir, filepath.Base(f))); err != nil {
			return &InfraError{Op: s.op(), Err: err}
		}
	}
	return nil
}

// connect dials the board and does the handshake within Dial (and ctx).
func (s *SSH) connect(ctx context.Context) (*ssh.Client, error) {
	if s.Host == "" || s.User == "" {
		return nil, &InfraError{Op: "ssh", Err: errors.New("host and user must be set")}
	}
	if s.KnownHosts == "" {
		return nil, &InfraError{Op: s.op(), Err: errors.New("no known_hosts file: host key verification is mandatory; set known_hosts and add the board with ssh-keyscan")}
	}
	hostKeys, err := knownhosts.New(s.KnownHosts)
	if err != nil {
		return nil, &InfraError{Op: s.op(), Err: fmt.Errorf("read known_hosts: %w", err)}
	}
	pem, err := os.ReadFile(s.KeyFile)
	if err != nil {
		return nil, &InfraError{Op: s.op(), Err: fmt.Errorf("read private key: %w", err)}
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		// The parse error does not quote the key, but say no more than
		// which file it was.
		return nil, &InfraError{Op: s.op(), Err: fmt.Errorf("private key %s: cannot parse (want an unencrypted ed25519 or RSA key)", s.KeyFile)}
	}
	timeout := s.Dial
	if timeout <= 0 {
		timeout = defaultSSHDial
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", s.target())
	if err != nil {
		return nil, &InfraError{Op: s.op(), Err: fmt.Errorf("connect: %w", err)}
	}
	// The handshake has no context: bound it with a deadline on the
	// connection, and close the connection if ctx ends first.
	deadline, _ := dctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(dctx, func() { conn.Close() })
	cfg := &ssh.ClientConfig{
		User:            s.User,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hostKeys,
		Timeout:         timeout,
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, s.target(), cfg)
	if !stop() || err != nil {
		conn.Close()
		var ke *knownhosts.KeyError
		switch {
		case errors.As(err, &ke) && len(ke.Want) == 0:
			return nil, &InfraError{Op: s.op(), Err: fmt.Errorf("host key of %s is unknown: not in %s; if this is the right board, add it with: ssh-keyscan -p %d %s >> %s",
				s.target(), s.KnownHosts, s.port(), s.Host, s.KnownHosts)}
		case errors.As(err, &ke):
			return nil, &InfraError{Op: s.op(), Err: fmt.Errorf("host key of %s does not match %s (a reinstalled board, or someone in the middle); if the board was reinstalled, remove its old line with ssh-keygen -R '%s' -f %s and add it again with: ssh-keyscan -p %d %s >> %s",
				s.target(), s.KnownHosts, knownhosts.Normalize(s.target()), s.KnownHosts, s.port(), s.Host, s.KnownHosts)}
		case err == nil:
			err = dctx.Err()
		}
		return nil, &InfraError{Op: s.op(), Err: fmt.Errorf("handshake: %w", err)}
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

// checkLoad reads the 1-minute load average and fails if the board is busy.
func (s *SSH) checkLoad(ctx context.Context, client *ssh.Client) (float64, error) {
	out, err := remoteOutput(ctx, client, "cat /proc/loadavg", nil)
	if err != nil {
		return 0, &InfraError{Op: s.op(), Err: fmt.Errorf("health check: %w", err)}
	}
	load, err := parseLoadavg(out)
	if err != nil {
		return 0, &InfraError{Op: s.op(), Err: fmt.Errorf("health check: %w", err)}
	}
	if limit := s.maxLoad(); load >= limit {
		return load, &InfraError{Op: s.op(), Err: fmt.Errorf("board busy: load %.2f above %.2f", load, limit)}
	}
	return load, nil
}

func parseLoadavg(data []byte) (float64, error) {
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0, fmt.Errorf("/proc/loadavg is empty")
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0, fmt.Errorf("/proc/loadavg %q: %w", strings.TrimSpace(string(data)), err)
	}
	return v, nil
}

func hasPerf(ctx context.Context, client *ssh.Client) (bool, error) {
	// perf may be installed yet unable to count (perf_event_paranoid, a
	// kernel without the matching tools): it must run to count.
	out, err := remoteOutput(ctx, client, "command -v perf >/dev/null && perf stat -x, -e instructions:u,cycles:u -o /dev/null -- true >/dev/null 2>&1 && echo yes; exit 0", nil)
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(string(out)) != "", nil
}

// upload copies a local file to the board with cat, then makes it
// executable.
func upload(ctx context.Context, client *ssh.Client, local, remote string) error {
	f, err := os.Open(local)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	defer f.Close()
	q := ShellQuote(remote)
	if _, err := remoteOutput(ctx, client, "cat > "+q+" && chmod 0755 "+q, f); err != nil {
		return fmt.Errorf("upload %s to %s: %w", local, remote, err)
	}
	return nil
}

// remoteOutput runs a short housekeeping command and returns its stdout;
// a non-zero exit is an error carrying stderr.
func remoteOutput(ctx context.Context, client *ssh.Client, cmd string, stdin io.Reader) ([]byte, error) {
	sess, err := client.NewSession()
	if err != nil {
		return nil, fmt.Errorf("open session: %w", err)
	}
	defer sess.Close()
	var stdout, stderr = &capped{limit: OutputLimit}, &capped{limit: OutputLimit}
	sess.Stdout, sess.Stderr, sess.Stdin = stdout, stderr, stdin
	if err := sess.Start(cmd); err != nil {
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		sess.Close()
		return nil, ctx.Err()
	}
	if err != nil {
		msg := strings.TrimSpace(string(stderr.Bytes()))
		if msg != "" {
			return nil, fmt.Errorf("%s: %w: %s", cmd, err, msg)
		}
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	return stdout.Bytes(), nil
}

// Run implements Executor. The command starts in the working directory
// Prepare made (spec.Dir is a local path and is ignored: the binaries are
// Files); Argv[0] names a binary there ("./sha256") or on the board's
// PATH. Under perf stat when the board has perf, so Instructions holds
// user-mode instructions when the board's kernel counts them.
func (s *SSH) Run(ctx context.Context, spec Spec) (*Outcome, error) {
	s.mu.Lock()
	client, dir, perf := s.client, s.workDir, s.perf
	s.counter++
	n := s.counter
	s.mu.Unlock()
	op := s.op() + " " + spec.Name
	if client == nil || dir == "" {
		return nil, &InfraError{Op: op, Err: errors.New("Run before Prepare")}
	}
	if len(spec.Argv) == 0 {
		return nil, &InfraError{Op: op, Err: errors.New("empty command")}
	}
	pidFile := path.Join(dir, fmt.Sprintf(".tcbot-pid-%d", n))
	countFile := path.Join(dir, fmt.Sprintf(".tcbot-perf-%d", n))
	statusFile := path.Join(dir, fmt.Sprintf(".tcbot-status-%d", n))
	var argv []string
	argv = append(argv, "env", "-i")
	argv = append(argv, spec.Env...)
	argv = append(argv, s.RunWrapper...)
	argv = append(argv, spec.Argv...)
	if perf {
		// perf stat exits 0 when its child dies of a signal, so a small
		// shell under perf records the command's status (128+n for
		// signal n, the shell convention).
		argv = append([]string{"perf", "stat", "-x,", "-e", "instructions:u,cycles:u", "-o", countFile, "--",
			"sh", "-c", `"$@"; echo $? > ` + ShellQuote(statusFile), "sh"}, argv...)
	}
	// sshd makes the session's shell a process-group leader; its pid
	// survives exec, so killing that group on timeout takes perf, the
	// wrapper and anything the benchmark forked. The pid files stay in
	// the working directory until Cleanup: removing them here would cost
	// a round trip per run.
	cmd := "cd " + ShellQuote(dir) + " && echo $$ > " + ShellQuote(pidFile) + " && exec " + shellJoin(argv)

	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = time.Hour
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	sess, err := client.NewSession()
	if err != nil {
		return nil, &InfraError{Op: op, Err: fmt.Errorf("open session (connection lost?): %w", err)}
	}
	defer sess.Close()
	var stdout, stderr = &capped{limit: OutputLimit}, &capped{limit: OutputLimit}
	sess.Stdout, sess.Stderr = stdout, stderr

	start := time.Now()
	if err := sess.Start(cmd); err != nil {
		return nil, &InfraError{Op: op, Err: fmt.Errorf("start: %w", err)}
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	var waitErr error
	var killErr error
	select {
	case waitErr = <-done:
	case <-rctx.Done():
		killErr = s.killRemote(client, pidFile)
		_ = sess.Signal(ssh.SIGKILL)
		select {
		case waitErr = <-done:
		case <-time.After(killGrace):
			sess.Close()
			waitErr = <-done
		}
	}
	o := &Outcome{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), Wall: time.Since(start)}

	if ctx.Err() != nil {
		return o, &InfraError{Op: op, Err: ctx.Err()}
	}
	if rctx.Err() != nil {
		if killErr != nil {
			// The board did not answer the kill: most likely it is the
			// board that hung, not the benchmark.
			return o, &InfraError{Op: op, Err: fmt.Errorf("timed out after %s and could not kill the command: %w", timeout, killErr)}
		}
		o.TimedOut = true
		return o, nil
	}
	var exitErr *ssh.ExitError
	switch {
	case waitErr == nil:
	case errors.As(waitErr, &exitErr):
		o.ExitCode = exitErr.ExitStatus()
		if sig := exitErr.Signal(); sig != "" {
			o.ExitCode, o.Signal = -1, sig
		}
	default:
		// ExitMissingError, io.EOF: the connection or the session died.
		return o, &InfraError{Op: op, Err: fmt.Errorf("connection lost during the run: %w", waitErr)}
	}
	if perf {
		if err := readPerf(ctx, client, o, statusFile, countFile); err != nil {
			return o, &InfraError{Op: op, Err: err}
		}
	}
	return o, nil
}

// killRemote kills the process group whose leader's pid is in pidFile.
func (s *SSH) killRemote(client *ssh.Client, pidFile string) error {
	ctx, cancel := context.WithTimeout(context.Background(), killGrace)
	defer cancel()
	q := ShellQuote(pidFile)
	// Fall back to the single process if the shell was not a group leader.
	_, err := remoteOutput(ctx, client, "p=$(cat "+q+" 2>/dev/null) || exit 0; kill -KILL -- -$p 2>/dev/null || kill -KILL $p 2>/dev/null; exit 0", nil)
	return err
}

// readPerf fills o's exit status and counts from the files the perf
// wrapper wrote, in one round trip, and removes them.
func readPerf(ctx context.Context, client *ssh.Client, o *Outcome, statusFile, countFile string) error {
	const sep = "\n--tcbot-perf--\n"
	data, err := remoteOutput(ctx, client, "cat "+ShellQuote(statusFile)+"; printf '"+strings.ReplaceAll(sep, "\n", `\n`)+"'; cat "+ShellQuote(countFile)+"; rm -f "+ShellQuote(statusFile)+" "+ShellQuote(countFile), nil)
	if err != nil {
		return fmt.Errorf("read perf results: %w", err)
	}
	st, counts, _ := strings.Cut(string(data), sep)
	if st = strings.TrimSpace(st); st == "" {
		// perf did not start the command (no PMU access, bad event):
		// its complaint is on stderr.
		return fmt.Errorf("perf stat did not run the command: %s", strings.TrimSpace(string(o.Stderr)))
	}
	code, err := strconv.Atoi(st)
	if err != nil {
		return fmt.Errorf("status file %q: %w", st, err)
	}
	o.ExitCode, o.Signal = code, ""
	if code > 128 && code <= 128+64 {
		o.ExitCode, o.Signal = -1, signalName(code-128)
	}
	o.Instructions, o.HasCounts = parsePerfStat([]byte(counts))
	return nil
}

// signalName names Linux signal n as SSH does ("SEGV").
func signalName(n int) string {
	names := map[int]string{1: "HUP", 2: "INT", 3: "QUIT", 4: "ILL", 5: "TRAP", 6: "ABRT", 7: "BUS", 8: "FPE",
		9: "KILL", 10: "USR1", 11: "SEGV", 12: "USR2", 13: "PIPE", 14: "ALRM", 15: "TERM", 24: "XCPU", 25: "XFSZ", 31: "SYS"}
	if s, ok := names[n]; ok {
		return s
	}
	return "SIG" + strconv.Itoa(n)
}

// parsePerfStat reads perf stat -x, output (value,unit,event,...) and
// returns the user-mode instruction count. "<not supported>" or
// "<not counted>" (no PMU access, a VM) means no counts.
func parsePerfStat(data []byte) (uint64, bool) {
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) < 3 {
			continue
		}
		ev := f[2]
		if ev != "instructions:u" && ev != "instructions" && !strings.HasPrefix(ev, "instructions:") {
			continue
		}
		v, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, false
		}
		return v, true
	}
	return 0, false
}

// Cleanup removes the working directory on the board and closes the
// connection. Safe to call twice and after a failed Prepare.
func (s *SSH) Cleanup() error {
	s.mu.Lock()
	client, dir := s.client, s.workDir
	s.client, s.workDir, s.perf = nil, "", false
	s.mu.Unlock()
	if client == nil {
		return nil
	}
	var err error
	if dir != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err = remoteOutput(ctx, client, "rm -rf "+ShellQuote(dir), nil)
		cancel()
		if err != nil {
			err = &InfraError{Op: s.op(), Err: fmt.Errorf("remove %s: %w", dir, err)}
		}
	}
	if cerr := client.Close(); cerr != nil && err == nil && !errors.Is(cerr, net.ErrClosed) {
		err = &InfraError{Op: s.op(), Err: fmt.Errorf("close: %w", cerr)}
	}
	return err
}

// Check connects to the board and reports its health, whether perf is
// there, and its kernel and architecture, for `tcbot target check`. The
// report is filled as far as it got; err says what failed.
func Check(ctx context.Context, s *SSH) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "board: %s@%s\n", s.User, s.target())
	client, err := s.connect(ctx)
	if err != nil {
		fmt.Fprintf(&b, "connect: FAILED\n")
		return b.String(), err
	}
	defer client.Close()
	fmt.Fprintf(&b, "connect: ok (host key verified against %s)\n", s.KnownHosts)
	uname, err := remoteOutput(ctx, client, "uname -m -r", nil)
	if err != nil {
		return b.String(), &InfraError{Op: s.op(), Err: fmt.Errorf("uname: %w", err)}
	}
	if f := strings.Fields(string(uname)); len(f) == 2 {
		fmt.Fprintf(&b, "kernel: %s\narch: %s\n", f[0], f[1])
	} else {
		fmt.Fprintf(&b, "uname: %s\n", strings.TrimSpace(string(uname)))
	}
	perf, err := hasPerf(ctx, client)
	if err != nil {
		return b.String(), &InfraError{Op: s.op(), Err: fmt.Errorf("look for perf: %w", err)}
	}
	if perf {
		fmt.Fprintf(&b, "perf: yes\n")
	} else {
		fmt.Fprintf(&b, "perf: no (wall time only)\n")
	}
	load, err := s.checkLoad(ctx, client)
	if err != nil {
		fmt.Fprintf(&b, "load: %.2f, BUSY (limit %.2f)\n", load, s.maxLoad())
		return b.String(), err
	}
	fmt.Fprintf(&b, "load: %.2f, ok (limit %.2f)\n", load, s.maxLoad())
	return b.String(), nil
}

// ShellQuote quotes s as one word for a POSIX shell (a board's sh, a
// guest's busybox sh): as is when it holds only safe characters, else in
// single quotes.
func ShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = ShellQuote(a)
	}
	return strings.Join(q, " ")
}
