// Package sandbox runs code that comes from a revision under test — a
// compiler named by a manifest, a toolchain's or kernel's configure and
// make, kas and bitbake, the benchmark binaries and the probes that
// identify a compiler — where it can reach nothing of tcbot's.
//
// With Kind "bubblewrap" every command runs under bwrap (Debian package
// bubblewrap) with:
//
//   - a cleared environment: exactly the variables the caller passes;
//   - its own mount namespace whose root is an empty tmpfs holding the
//     host's /usr read-only (and the /bin, /lib, /sbin links of a
//     merged-/usr system), a few read-only files of /etc that programs
//     need to start (the dynamic loader's cache, alternatives, passwd),
//     a fresh /proc, a minimal /dev, an empty /tmp, and only the
//     directories the caller names — each read-only unless the caller
//     asks for write access — at their own paths;
//   - its own PID namespace (no /proc of tcbot or of other jobs; every
//     process of the sandbox dies with it), IPC, UTS and network
//     namespaces (loopback only, and not the host's: no listener of the
//     host is reachable);
//   - an unprivileged uid: when tcbot runs as root the command runs as
//     UID:GID (65534, nobody, by default) with no capabilities and
//     no_new_privs; as an ordinary user it stays that user inside a user
//     namespace;
//   - limits: RLIMIT_AS (memory per process), RLIMIT_NPROC (processes of
//     the sandbox user) and, from the caller, a wall-clock timeout.
//
// With Kind "none" commands run on the host with the caller's environment
// only (nothing inherited), which is what tcbot did before sandboxes: fit
// only for code whose every author is trusted.
package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	sandboxinit "github.com/tcbot/tcbot/bot/sandbox/init"
)

// Kinds.
const (
	Bubblewrap = "bubblewrap"
	None       = "none"
)

// Defaults for the limits.
const (
	DefaultMemory    = 8 << 30
	DefaultProcesses = 1024
	// NobodyID is the uid and gid a root tcbot runs sandboxed code as.
	NobodyID = 65534
)

// Sandbox describes how untrusted commands run. The zero value of the
// limits means the defaults. A nil *Sandbox runs nothing in a sandbox
// (like Kind none).
type Sandbox struct {
	Kind string
	// Memory is RLIMIT_AS in bytes: the address space of each process.
	Memory int64
	// Processes is RLIMIT_NPROC: how many processes the sandbox user may
	// have at once.
	Processes int
	// UID and GID run sandboxed code when tcbot is root (default 65534).
	UID, GID int
	// CacheDir is where the sandbox's init program is built (default:
	// the user's cache directory).
	CacheDir string
	// Network keeps the host's network (only for steps that fetch
	// sources, such as OpenEmbedded's fetch, which see nothing but their
	// download directories). Use WithNetwork.
	Network bool

	once    sync.Once
	mu      sync.Mutex
	bwrap   string
	prlimit string
	setpriv string
	init    string // the built init program; "" falls back to prlimit, setpriv and env
	err     error
}

// WithNetwork returns the same sandbox with the host's network, for a
// fetch step.
func (s *Sandbox) WithNetwork() *Sandbox {
	if s == nil {
		return nil
	}
	if err := s.locate(); err != nil {
		return &Sandbox{Kind: s.Kind, Memory: s.Memory, Processes: s.Processes, UID: s.UID, GID: s.GID, CacheDir: s.CacheDir, Network: true}
	}
	n := &Sandbox{Kind: s.Kind, Memory: s.Memory, Processes: s.Processes, UID: s.UID, GID: s.GID, CacheDir: s.CacheDir, Network: true}
	n.mu.Lock()
	n.bwrap, n.prlimit, n.setpriv, n.init = s.bwrap, s.prlimit, s.setpriv, s.init
	n.mu.Unlock()
	return n
}

// Mount is a host directory (or file) the sandboxed command sees at the
// same path.
type Mount struct {
	Path  string
	Write bool
}

// RO and RW make mounts.
func RO(path string) Mount { return Mount{Path: path} }
func RW(path string) Mount { return Mount{Path: path, Write: true} }

// Enabled reports whether commands run inside a sandbox.
func (s *Sandbox) Enabled() bool { return s != nil && s.Kind == Bubblewrap }

// Describe says in a few words what the sandbox is, for logs and
// `tcbot config check`.
func (s *Sandbox) Describe() string {
	if !s.Enabled() {
		return "none: code from revisions under test runs on the host as tcbot's user"
	}
	who := "tcbot's user in a user namespace"
	if os.Geteuid() == 0 {
		who = fmt.Sprintf("uid %d", s.uid())
	}
	return fmt.Sprintf("bubblewrap: no network, own PID namespace, read-only /usr, %s, %s memory per process, %d processes",
		who, humanBytes(s.memory()), s.processes())
}

func (s *Sandbox) memory() int64 {
	if s.Memory > 0 {
		return s.Memory
	}
	return DefaultMemory
}

func (s *Sandbox) processes() int {
	if s.Processes > 0 {
		return s.Processes
	}
	return DefaultProcesses
}

func (s *Sandbox) uid() int {
	if s.UID > 0 {
		return s.UID
	}
	return NobodyID
}

func (s *Sandbox) gid() int {
	if s.GID > 0 {
		return s.GID
	}
	return NobodyID
}

// Check finds bwrap (and, as root, setpriv and prlimit) and starts one
// trivial sandbox, so a host that cannot run sandboxes is found at start
// rather than on the first pull request. The result is cached.
func (s *Sandbox) Check() error {
	if !s.Enabled() {
		return nil
	}
	s.once.Do(func() { s.err = s.check() })
	return s.err
}

func (s *Sandbox) check() error {
	if err := s.locate(); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "tcbot-sandbox-check-")
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	defer os.RemoveAll(dir)
	cmd, err := s.Command(context.Background(), []string{"/bin/sh", "-c", "echo ok > out"}, []string{"PATH=/usr/bin:/bin"}, dir, []Mount{RW(dir)})
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("sandbox: bwrap does not work on this host (%v: %s): it needs user namespaces (sysctl user.max_user_namespaces > 0) or root", err, strings.TrimSpace(stderr.String()))
	}
	if data, err := os.ReadFile(filepath.Join(dir, "out")); err != nil || string(data) != "ok\n" {
		return fmt.Errorf("sandbox: a test command in bwrap wrote nothing to its directory (%v)", err)
	}
	return nil
}

// Command returns the command that runs argv in the sandbox with exactly
// env, in dir, seeing mounts. dir must be one of the mounts (or below
// one). As root, Prepare must have made the writable mounts the sandbox
// user's (Command does it too). The caller sets Stdout, Stderr and
// SysProcAttr as it likes; ctx kills bwrap, and with it the sandbox.
func (s *Sandbox) Command(ctx context.Context, argv, env []string, dir string, mounts []Mount) (*exec.Cmd, error) {
	if len(argv) == 0 {
		return nil, errors.New("sandbox: empty command")
	}
	if !s.Enabled() {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Dir, cmd.Env = dir, env
		if cmd.Env == nil {
			cmd.Env = []string{}
		}
		return cmd, nil
	}
	if err := s.locate(); err != nil {
		return nil, err
	}
	args, err := s.args(argv, dir, mounts)
	if err != nil {
		return nil, err
	}
	if err := s.Prepare(mounts); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, s.bwrap, args...)
	cmd.Env = env // bwrap passes its environment on, and only that
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Dir = "/"
	return cmd, nil
}

// locate finds the programs a sandbox needs, once: bwrap, and the init
// program built from init.c (or, without a C compiler, prlimit, setpriv
// and env).
func (s *Sandbox) locate() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bwrap != "" {
		return nil
	}
	bwrap, err := exec.LookPath("bwrap")
	if err != nil {
		return fmt.Errorf("sandbox: bwrap not found: install Debian's bubblewrap (make deps does), or set sandbox: none in the config if every author of the code tcbot measures is trusted")
	}
	if init, err := buildInit(s.CacheDir); err == nil {
		s.init = init
	} else {
		if s.prlimit, err = exec.LookPath("prlimit"); err != nil {
			return fmt.Errorf("sandbox: prlimit not found (Debian's util-linux) and no C compiler to build tcbot's sandbox init: one of them sets the sandbox's memory and process limits")
		}
		if os.Geteuid() == 0 {
			if s.setpriv, err = exec.LookPath("setpriv"); err != nil {
				return fmt.Errorf("sandbox: setpriv not found (Debian's util-linux): a root tcbot needs it (or a C compiler) to run sandboxed code as uid %d", s.uid())
			}
		}
	}
	s.bwrap = bwrap
	return nil
}

var initSource = sandboxinit.Source

// initPath is where the init program is mounted in every sandbox.
const initPath = "/.tcbot-init"

// buildInit compiles init.c (statically, so it needs nothing of the
// sandbox's /usr) into dir once per source, with the host's cc.
func buildInit(dir string) (string, error) {
	if dir == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(d, "tcbot")
	}
	sum := sha256.Sum256(initSource)
	out := filepath.Join(dir, "sandbox-init-"+hex.EncodeToString(sum[:])[:12])
	if st, err := os.Stat(out); err == nil && st.Mode()&0o111 != 0 {
		return out, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		return "", err
	}
	src := out + ".c"
	if err := os.WriteFile(src, initSource, 0o644); err != nil {
		return "", err
	}
	defer os.Remove(src)
	tmp := fmt.Sprintf("%s.tmp-%d", out, os.Getpid())
	if b, err := exec.Command(cc, "-O2", "-static", "-o", tmp, src).CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("build sandbox init: %v: %s", err, b)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	return out, os.Rename(tmp, out)
}

// etcFiles are the parts of /etc that programs need to start and that
// hold no secret.
var etcFiles = []string{
	"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives",
	"/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/localtime",
	"/etc/debian_version", "/etc/os-release", "/etc/mime.types",
}

// netEtcFiles are what a fetch step needs to resolve names and check
// certificates.
var netEtcFiles = []string{"/etc/resolv.conf", "/etc/hosts", "/etc/host.conf", "/etc/gai.conf", "/etc/ssl/certs", "/etc/ca-certificates", "/etc/ca-certificates.conf", "/etc/gitconfig"}

func (s *Sandbox) args(argv []string, dir string, mounts []Mount) ([]string, error) {
	a := []string{
		"--die-with-parent", "--new-session",
		"--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try",
		"--hostname", "tcbot-sandbox",
	}
	if !s.Network {
		a = append(a, "--unshare-net")
	}
	root := os.Geteuid() == 0
	if !root {
		a = append(a, "--unshare-user")
	}
	a = append(a,
		"--ro-bind", "/usr", "/usr",
		"--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
		"--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
		"--symlink", "usr/lib32", "/lib32", "--symlink", "usr/libx32", "/libx32",
		"--proc", "/proc", "--dev", "/dev",
		"--perms", "1777", "--tmpfs", "/tmp",
		"--perms", "0755", "--dir", "/etc",
	)
	etc := etcFiles
	if s.Network {
		etc = append(append([]string(nil), etc...), netEtcFiles...)
	}
	for _, f := range etc {
		a = append(a, "--ro-bind-try", f, f)
	}
	// Mount parents first, and give every directory bwrap makes on the way
	// to a mount a mode the sandbox user can walk through.
	ms := append([]Mount(nil), mounts...)
	sort.SliceStable(ms, func(i, j int) bool { return len(ms[i].Path) < len(ms[j].Path) })
	made := map[string]bool{"/": true, "/tmp": true, "/etc": true, "/usr": true, "/proc": true, "/dev": true}
	inDir := false
	for _, m := range ms {
		p := filepath.Clean(m.Path)
		if err := checkMount(m); err != nil {
			return nil, err
		}
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("sandbox: mount %s: %w", p, err)
		}
		var parents []string
		for d := filepath.Dir(p); !made[d]; d = filepath.Dir(d) {
			parents = append(parents, d)
		}
		for i := len(parents) - 1; i >= 0; i-- {
			a = append(a, "--perms", "0755", "--dir", parents[i])
			made[parents[i]] = true
		}
		if m.Write {
			a = append(a, "--bind", p, p)
		} else {
			a = append(a, "--ro-bind", p, p)
		}
		made[p] = true
		if dir == p || strings.HasPrefix(dir, p+"/") {
			inDir = true
		}
	}
	if dir == "" {
		dir = "/tmp"
		inDir = true
	}
	if !inDir {
		return nil, fmt.Errorf("sandbox: working directory %s is not inside a mount", dir)
	}
	if s.init != "" {
		uid, gid := -1, -1
		if root {
			uid, gid = s.uid(), s.gid()
		}
		a = append(a, "--ro-bind", s.init, initPath, "--chdir", dir, "--",
			initPath, strconv.FormatInt(s.memory(), 10), strconv.Itoa(s.processes()), strconv.Itoa(uid), strconv.Itoa(gid), "--")
		return append(a, argv...), nil
	}
	a = append(a, "--chdir", dir, "--",
		s.prlimit, fmt.Sprintf("--as=%d", s.memory()), fmt.Sprintf("--nproc=%d", s.processes()), "--core=0", "--")
	if root {
		a = append(a, s.setpriv, "--reuid", strconv.Itoa(s.uid()), "--regid", strconv.Itoa(s.gid()),
			"--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--")
	}
	// bwrap sets PWD; the command gets exactly the caller's environment
	// (glibc's start-up reads it, so an extra variable would move
	// instruction counts with the length of the path).
	a = append(a, "/usr/bin/env", "-u", "PWD", "--")
	return append(a, argv...), nil
}

// systemDirs are never mounted writable, nor anything below them; / and
// the top-level directories are never mounted at all.
var systemDirs = []string{"/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/boot", "/dev", "/proc", "/sys", "/run", "/var/lib/dpkg"}

func checkMount(m Mount) error {
	p := filepath.Clean(m.Path)
	if !filepath.IsAbs(p) {
		return fmt.Errorf("sandbox: mount %q is not an absolute path", m.Path)
	}
	if filepath.Dir(p) == "/" {
		return fmt.Errorf("sandbox: refusing to mount %s into a sandbox: mount the job's own directories", p)
	}
	for _, d := range systemDirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			if m.Write || d == "/proc" || d == "/sys" || d == "/dev" || d == "/run" {
				return fmt.Errorf("sandbox: refusing to mount %s into a sandbox%s", p, map[bool]string{true: " writable", false: ""}[m.Write])
			}
		}
	}
	return nil
}

// Prepare gives the sandbox user the writable mounts (a root tcbot runs
// sandboxed code as another uid, which must be able to write there). It
// changes owners only below mounts that tcbot made for the job.
func (s *Sandbox) Prepare(mounts []Mount) error {
	if !s.Enabled() || os.Geteuid() != 0 {
		return nil
	}
	uid, gid := s.uid(), s.gid()
	for _, m := range mounts {
		if !m.Write {
			continue
		}
		if err := checkMount(m); err != nil {
			return err
		}
		top, err := os.Lstat(m.Path)
		if err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
		dev := top.Sys().(*syscall.Stat_t).Dev
		err = filepath.WalkDir(m.Path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type()&fs.ModeSymlink != 0 {
				return os.Lchown(p, uid, gid)
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			st, ok := info.Sys().(*syscall.Stat_t)
			if ok && st.Dev != dev {
				return fs.SkipDir // another file system mounted below: not ours
			}
			if ok && int(st.Uid) == uid && int(st.Gid) == gid {
				return nil
			}
			return os.Chown(p, uid, gid)
		})
		if err != nil {
			return fmt.Errorf("sandbox: give %s to uid %d: %w", m.Path, uid, err)
		}
	}
	return nil
}

// Run runs argv in the sandbox and returns its combined output; for
// short probes (compiler identity).
func (s *Sandbox) Output(ctx context.Context, timeout time.Duration, argv, env []string, dir string, mounts []Mount) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd, err := s.Command(ctx, argv, env, dir, mounts)
	if err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, lastLine(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// HostMounts returns the read-only mounts that make the host program
// path visible in a sandbox when it lives outside /usr (e.g. a
// compiler under /opt): its directory, and its link target's.
func HostMounts(path string) []Mount {
	var out []Mount
	add := func(p string) {
		d := filepath.Dir(p)
		if d == "/usr" || strings.HasPrefix(d, "/usr/") || d == "/bin" || d == "/sbin" || d == "/lib" || strings.HasPrefix(d, "/bin/") || strings.HasPrefix(d, "/lib/") {
			return
		}
		for _, m := range out {
			if m.Path == d {
				return
			}
		}
		out = append(out, RO(d))
	}
	if filepath.IsAbs(path) {
		add(path)
		if r, err := filepath.EvalSymlinks(path); err == nil && r != path {
			add(r)
		}
	}
	return out
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func humanBytes(n int64) string {
	switch {
	case n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
