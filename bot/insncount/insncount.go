// Package insncount provides the QEMU plugin that counts guest
// instructions: it builds the plugin from the C source shipped inside the
// tcbot binary (benchmarks/plugin) with the host C compiler, once per
// source version, into a cache directory.
package insncount

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"
)

// Build returns the path of the plugin built from the plugin sources in
// fsys (the directory holding insncount.c), building it under cacheDir
// when it is not there yet. Concurrent callers are safe: the build goes to
// a temporary file renamed into place.
func Build(ctx context.Context, fsys fs.FS, cacheDir string) (string, error) {
	names, err := fs.Glob(fsys, "*.[ch]")
	if err != nil || len(names) == 0 {
		return "", fmt.Errorf("plugin sources missing from this tcbot build")
	}
	sort.Strings(names)
	h := sha256.New()
	files := map[string][]byte{}
	for _, n := range names {
		data, err := fs.ReadFile(fsys, n)
		if err != nil {
			return "", err
		}
		files[n] = data
		fmt.Fprintf(h, "%s %d\n", n, len(data))
		h.Write(data)
	}
	dir := filepath.Join(cacheDir, "plugin", hex.EncodeToString(h.Sum(nil))[:16])
	out := filepath.Join(dir, "insncount.so")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("build plugin: %w", err)
	}
	src, err := os.MkdirTemp(dir, "src-")
	if err != nil {
		return "", fmt.Errorf("build plugin: %w", err)
	}
	defer os.RemoveAll(src)
	for n, data := range files {
		if err := os.WriteFile(filepath.Join(src, n), data, 0o644); err != nil {
			return "", fmt.Errorf("build plugin: %w", err)
		}
	}
	cc := "cc"
	if _, err := exec.LookPath(cc); err != nil {
		cc = "gcc"
	}
	tmp := filepath.Join(src, "insncount.so")
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cc, "-O2", "-shared", "-fPIC", "-fvisibility=hidden", "-o", tmp, "insncount.c")
	cmd.Dir = src
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the QEMU instruction-counting plugin with %s: %v: %s (install gcc, or build it with make and set plugin: in the config)", cc, err, msg)
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", fmt.Errorf("build plugin: %w", err)
	}
	return out, nil
}
