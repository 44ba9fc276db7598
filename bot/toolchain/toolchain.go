// Package toolchain decides which compiler and flags build a revision for
// an arch, and gives that choice an identity: a hash that changes whenever
// the compiler binary, its version or its flags change, so a stored
// measurement is reused only for the very same toolchain.
//
// Kinds register themselves (Register) and Resolve dispatches on the
// repository's toolchain key: "manifest" (manifest.go) reads
// tcbot-toolchain.yaml from the revision under test; "host" (host.go)
// takes fixed compilers from the config; "build" (package
// bot/toolchain/build) builds the toolchain from the revision.
package toolchain

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"gopkg.in/yaml.v3"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/sandbox"
)

// ManifestFile is the file a repository with toolchain: manifest holds.
const ManifestFile = "tcbot-toolchain.yaml"

// Toolchain is a resolved compiler for one arch.
type Toolchain struct {
	Arch    string
	CC      string // as written in the manifest or config
	CFlags  []string
	LDFlags []string
	// InTree is true when CC is a path inside the repository: the build
	// then needs the revision checked out, and CC is relative to it.
	InTree bool
	// ID is the identity hash (16 hex digits).
	ID string
	// Desc describes the toolchain for people ("aarch64-linux-gnu-gcc
	// (Debian 12.2.0-14) 12.2.0, -O2").
	Desc string
	// PathFlags are added to every compile after CFlags but are not part
	// of the identity: they name where a built toolchain lives (-B DIR/),
	// which differs by revision even when the toolchain does not.
	PathFlags []string
	// Mounts are directories the compiler needs (read-only) in the
	// sandbox beyond the host system: a built toolchain's.
	Mounts []string
	// Built is set for a toolchain built from the revision (kind build).
	Built *Built
}

// Built says how a toolchain of kind build was built.
type Built struct {
	Component string
	Recipe    string
	Use       string // overlay, full or sysroot
	// Install is the tree the component was installed into (make install
	// DESTDIR=), for use sysroot: a C library's shared objects are there,
	// under usr/lib.
	Install string
	// Wall is the build's wall time when it was built (not when it was
	// taken from the cache); Incremental says whether it followed a warm
	// tree.
	Wall        time.Duration
	Incremental bool
	Cached      bool
}

// BuildError is a toolchain that failed to build from its revision: the
// change's failure (at head) or a broken baseline (at base), never an
// infrastructure error.
type BuildError struct {
	Component, Arch, Step, Tail string
}

func (e *BuildError) Error() string {
	return fmt.Sprintf("%s for %s failed to build: %s: %s", e.Component, e.Arch, e.Step, e.Tail)
}

// Entry is one arch of a toolchain manifest.
type Entry struct {
	CC      string `yaml:"cc"`
	CFlags  string `yaml:"cflags"`
	LDFlags string `yaml:"ldflags"`
}

// ParseManifest parses tcbot-toolchain.yaml; where names it in errors
// ("toolchain@abc1234:tcbot-toolchain.yaml").
func ParseManifest(where string, data []byte) (map[string]Entry, error) {
	m := map[string]Entry{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil && err != io.EOF {
		return nil, fmt.Errorf("%s: %v (want e.g. armv8: {cc: aarch64-linux-gnu-gcc, cflags: \"-O2\"})", where, err)
	}
	var arches []string
	for a := range m {
		arches = append(arches, a)
	}
	sort.Strings(arches)
	for _, a := range arches {
		if _, ok := config.Arches[a]; !ok {
			return nil, fmt.Errorf("%s: %s: unknown arch (want armv7 or armv8)", where, a)
		}
		if m[a].CC == "" {
			return nil, fmt.Errorf("%s: %s.cc: missing compiler", where, a)
		}
	}
	return m, nil
}

// Source is what Resolve needs of the repository: a file at the revision
// and, for compilers kept in the tree, the tree's identity.
type Source interface {
	ReadFile(sha, path string) ([]byte, bool, error)
}

// Resolver resolves toolchains, caching compiler identities for the life
// of the process (a warm `tcbot run` must take well under a second).
type Resolver struct {
	// Sandbox runs the compiler's identity probes (--version, cc1's
	// path): a manifest names the compiler, so it may be anything.
	Sandbox *sandbox.Sandbox
	// Env is what kinds that build a toolchain need of the process.
	Env BuildEnv

	mu    sync.Mutex
	cache map[string]compilerInfo
}

// BuildEnv is where and how toolchains are built (kind build).
type BuildEnv struct {
	Workdir string
	Jobs    int
	// Recipes holds toolchain/NAME.yaml; RecipesWhere names it.
	Recipes      fs.FS
	RecipesWhere string
	// Progress returns the function a long build of what reports its
	// progress to (step, elapsed, the last line of its log; an empty step
	// when it ends); may be nil.
	Progress func(what string) func(step string, elapsed time.Duration, last string)
	Log      logrus.FieldLogger
}

// Identify returns the identity hash and version line of a compiler on
// the PATH or at an absolute path (cached for the process).
func (r *Resolver) Identify(ctx context.Context, cc string) (hash, version string, err error) {
	c := r.compiler(ctx, cc)
	return c.hash, c.version, c.err
}

type compilerInfo struct {
	hash, version string
	err           error
}

// Kind is one toolchain kind (config repos[].toolchain): how the compiler
// that builds a revision for an arch is found. Kinds register themselves
// (Register) under their name; Resolve dispatches on it, so a new kind is
// a file or folder of its own plus its registration.
type Kind interface {
	Resolve(ctx context.Context, r *Resolver, req Request) (*Toolchain, error)
}

// Request is one (repository, revision, arch) to resolve.
type Request struct {
	Repo   *config.Repo
	Source Source
	SHA    string
	Arch   string
}

var (
	kindsMu sync.RWMutex
	kinds   = map[string]Kind{}
)

// Register makes a toolchain kind known by name (from an init function).
func Register(name string, k Kind) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	if _, dup := kinds[name]; dup {
		panic("toolchain: kind " + name + " registered twice")
	}
	kinds[name] = k
}

// Kinds lists the registered kinds, sorted.
func Kinds() []string {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	var out []string
	for k := range kinds {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Checker is implemented by kinds that can check a repository's settings
// before anything is built (config check): their recipes load.
type Checker interface {
	Check(repo *config.Repo, recipes fs.FS, where string) error
}

// Check checks what repo's toolchain kind can check ahead (nil for kinds
// with nothing to check).
func Check(repo *config.Repo, recipes fs.FS, where string) error {
	kindsMu.RLock()
	k := kinds[repo.Toolchain]
	kindsMu.RUnlock()
	if c, ok := k.(Checker); ok {
		return c.Check(repo, recipes, where)
	}
	return nil
}

// Resolve returns the toolchain that builds repo at sha for arch.
func (r *Resolver) Resolve(ctx context.Context, repo *config.Repo, src Source, sha, arch string) (*Toolchain, error) {
	kindsMu.RLock()
	k, ok := kinds[repo.Toolchain]
	kindsMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("repo %s: unknown toolchain kind %q (known: %s)", repo.Name, repo.Toolchain, strings.Join(Kinds(), ", "))
	}
	return k.Resolve(ctx, r, Request{Repo: repo, Source: src, SHA: sha, Arch: arch})
}

// Identity adds to a toolchain's identity what a kind knows beyond the
// compiler and its flags.
type Identity struct {
	// Fixed leaves the compiler binary out of the identity (Salt then
	// identifies it): a built compiler lives at a path per revision.
	Fixed bool
	// Tree is set for a compiler kept in the repository: the revision
	// (any change of the tree may change it).
	Tree string
	// Salt is hashed into the identity (a built component's outputs).
	Salt string
	// Desc replaces the compiler's version line in descriptions.
	Desc string
}

// FromEntry makes the toolchain of compiler entry e: a compiler on the
// PATH or at an absolute path is identified by its binaries and version
// (cached for the process); a path inside the repository (id.Tree set)
// by the revision.
func (r *Resolver) FromEntry(ctx context.Context, req Request, e Entry, id Identity) (*Toolchain, error) {
	t := &Toolchain{Arch: req.Arch, CC: e.CC, CFlags: strings.Fields(e.CFlags), LDFlags: strings.Fields(e.LDFlags)}
	h := sha256.New()
	fmt.Fprintf(h, "arch %s\ncflags %q\nldflags %q\n", req.Arch, t.CFlags, t.LDFlags)
	if strings.Contains(e.CC, "/") && !filepath.IsAbs(e.CC) {
		if id.Tree == "" {
			return nil, fmt.Errorf("repo %s: host compiler %q must be a command name or an absolute path", req.Repo.Name, e.CC)
		}
		t.InTree = true
		fmt.Fprintf(h, "in-tree %s at %s\n", e.CC, id.Tree)
		t.Desc = fmt.Sprintf("%s (in tree at %s)", e.CC, short(req.SHA))
	} else if id.Fixed {
		t.Desc = e.CC
	} else {
		info := r.compiler(ctx, e.CC)
		if info.err != nil {
			return nil, fmt.Errorf("toolchain for %s of %s@%s: %w", req.Arch, req.Repo.Name, short(req.SHA), info.err)
		}
		fmt.Fprintf(h, "cc %s\n", info.hash)
		t.Desc = info.version
	}
	if id.Salt != "" {
		fmt.Fprintf(h, "salt %s\n", id.Salt)
	}
	if id.Desc != "" {
		t.Desc = id.Desc
	}
	if len(t.CFlags) > 0 && id.Desc == "" {
		t.Desc += ", " + strings.Join(t.CFlags, " ")
	}
	t.ID = hex.EncodeToString(h.Sum(nil))[:16]
	return t, nil
}

// compiler identifies a compiler on the PATH: the hash of the driver, the
// size and time of the compiler proper (cc1), and its version line.
func (r *Resolver) compiler(ctx context.Context, cc string) compilerInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cache == nil {
		r.cache = map[string]compilerInfo{}
	}
	if c, ok := r.cache[cc]; ok {
		return c
	}
	c := identify(ctx, r.Sandbox, cc)
	r.cache[cc] = c
	return c
}

func identify(ctx context.Context, sb *sandbox.Sandbox, cc string) compilerInfo {
	path, err := exec.LookPath(cc)
	if err != nil {
		return compilerInfo{err: fmt.Errorf("compiler %s not found in PATH: install it (make deps installs the Debian cross compilers gcc-arm-linux-gnueabihf and gcc-aarch64-linux-gnu) or fix cc", cc)}
	}
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return compilerInfo{err: fmt.Errorf("compiler %s: %w", cc, err)}
	}
	h := sha256.New()
	h.Write(data)
	// The probes run with a fixed environment (nothing of tcbot's) and,
	// with a sandbox, in it.
	env := []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	mounts := sandbox.HostMounts(path)
	dir := "" // the sandbox's own empty /tmp
	out, err := sb.Output(ctx, 30*time.Second, []string{path, "--version"}, env, dir, mounts)
	if err != nil {
		return compilerInfo{err: fmt.Errorf("compiler %s --version: %v", cc, err)}
	}
	version := strings.SplitN(string(out), "\n", 2)[0]
	fmt.Fprintf(h, "\nversion %s\n", version)
	if cc1, err := sb.Output(ctx, 30*time.Second, []string{path, "-print-prog-name=cc1"}, env, dir, mounts); err == nil {
		if st, err := os.Stat(strings.TrimSpace(string(cc1))); err == nil {
			fmt.Fprintf(h, "cc1 %d %d\n", st.Size(), st.ModTime().UnixNano())
		}
	}
	return compilerInfo{hash: hex.EncodeToString(h.Sum(nil)), version: version}
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
