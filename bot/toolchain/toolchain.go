// Package toolchain decides which compiler and flags build a revision for
// an arch, and gives that choice an identity: a hash that changes whenever
// the compiler binary, its version or its flags change, so a stored
// measurement is reused only for the very same toolchain.
//
// Kinds: "manifest" reads tcbot-toolchain.yaml from the revision under test;
// "host" takes fixed compilers from the config; "build" (building the
// toolchain from the checked-out source) is a later addition behind the
// same Resolve.
package toolchain

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

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

	mu    sync.Mutex
	cache map[string]compilerInfo
}

type compilerInfo struct {
	hash, version string
	err           error
}

// Resolve returns the toolchain that builds repo at sha for arch.
func (r *Resolver) Resolve(ctx context.Context, repo *config.Repo, src Source, sha, arch string) (*Toolchain, error) {
	var e Entry
	var treeID string
	switch repo.Toolchain {
	case "manifest":
		where := fmt.Sprintf("%s@%s:%s", repo.Name, short(sha), ManifestFile)
		data, found, err := src.ReadFile(sha, ManifestFile)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, fmt.Errorf("%s: not found: a repository with toolchain: manifest must hold %s naming the compiler per arch, or configure toolchain: host", where, ManifestFile)
		}
		m, err := ParseManifest(where, data)
		if err != nil {
			return nil, err
		}
		var ok bool
		if e, ok = m[arch]; !ok {
			return nil, fmt.Errorf("%s: no entry for arch %s: add %s: {cc: %s, cflags: \"-O2\"}", where, arch, arch, config.Arches[arch].CC)
		}
		treeID = sha
	case "host":
		h, ok := repo.Host[arch]
		if !ok {
			return nil, fmt.Errorf("repo %s: toolchain host names no compiler for %s", repo.Name, arch)
		}
		e = Entry(h)
	case "build":
		return nil, fmt.Errorf("repo %s: toolchain kind build is not implemented in this version", repo.Name)
	default:
		return nil, fmt.Errorf("repo %s: unknown toolchain kind %q", repo.Name, repo.Toolchain)
	}
	t := &Toolchain{Arch: arch, CC: e.CC, CFlags: strings.Fields(e.CFlags), LDFlags: strings.Fields(e.LDFlags)}
	h := sha256.New()
	fmt.Fprintf(h, "arch %s\ncflags %q\nldflags %q\n", arch, t.CFlags, t.LDFlags)
	if strings.Contains(e.CC, "/") && !filepath.IsAbs(e.CC) {
		// A compiler kept in the repository: any change of the tree may
		// change it, so the revision is part of the identity.
		if repo.Toolchain != "manifest" {
			return nil, fmt.Errorf("repo %s: host compiler %q must be a command name or an absolute path", repo.Name, e.CC)
		}
		t.InTree = true
		fmt.Fprintf(h, "in-tree %s at %s\n", e.CC, treeID)
		t.Desc = fmt.Sprintf("%s (in tree at %s)", e.CC, short(sha))
	} else {
		info := r.compiler(ctx, e.CC)
		if info.err != nil {
			return nil, fmt.Errorf("toolchain for %s of %s@%s: %w", arch, repo.Name, short(sha), info.err)
		}
		fmt.Fprintf(h, "cc %s\n", info.hash)
		t.Desc = info.version
	}
	if len(t.CFlags) > 0 {
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
