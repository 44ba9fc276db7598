// Package insncount provides the QEMU plugin that counts guest
// instructions: it builds the plugin from the C source shipped inside the
// tcbot binary (benchmarks/plugin) with the host C compiler, once per
// source version, into a cache directory, and reads the plugin's marks
// file (marks=PATH), the instruction counts at the points where the guest
// executed the magic mark instruction.
package insncount

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
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

// ReadMarks reads the file the plugin writes with marks=PATH and returns
// the guest's instruction count at each mark, in order. The file holds one
// line "mark <N> <count>" per executed mark instruction, N counting from 1
// and counts never decreasing; a file without marks yet is empty (no
// counts, no error). The difference of two counts is the exact number of
// instructions executed between the marks, each mark's count including the
// rest of its translation block (see benchmarks/plugin/insncount.c).
//
// The plugin appends while QEMU runs, so a file read meanwhile may end in
// the middle of a line; that is reported as an error like any other
// malformed content, naming the file and the line. Callers expecting a
// pair of marks must check the number of counts themselves: a stray mark
// instruction adds a line.
func ReadMarks(path string) ([]uint64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read instruction-count marks: %w", err)
	}
	return parseMarks(path, data)
}

// parseMarks parses the contents of a marks file; name is used in errors.
func parseMarks(name string, data []byte) ([]uint64, error) {
	var counts []uint64
	for n := 1; len(data) > 0; n++ {
		line, rest, ok := bytes.Cut(data, []byte("\n"))
		if !ok {
			return nil, fmt.Errorf("%s:%d: %.80q has no newline: the file ends mid-line (was QEMU still writing it?)", name, n, line)
		}
		data = rest
		f := bytes.Split(line, []byte(" "))
		if len(f) != 3 || string(f[0]) != "mark" {
			return nil, fmt.Errorf("%s:%d: %.80q: want \"mark <N> <count>\"", name, n, line)
		}
		seq, ok := parseNumber(f[1])
		if !ok || seq != uint64(n) {
			return nil, fmt.Errorf("%s:%d: mark number %.30q, want %d (marks are numbered 1, 2, ... in order)", name, n, f[1], n)
		}
		c, ok := parseNumber(f[2])
		if !ok {
			return nil, fmt.Errorf("%s:%d: count %.30q is not a whole number of instructions", name, n, f[2])
		}
		if len(counts) > 0 && c < counts[len(counts)-1] {
			return nil, fmt.Errorf("%s:%d: count %d is below mark %d's %d; instruction counts never decrease", name, n, c, n-1, counts[len(counts)-1])
		}
		counts = append(counts, c)
	}
	return counts, nil
}

// parseNumber parses a decimal number as the plugin prints it ("%" PRIu64):
// digits only, no sign, no leading zeros.
func parseNumber(b []byte) (uint64, bool) {
	v, err := strconv.ParseUint(string(b), 10, 64)
	return v, err == nil && strconv.FormatUint(v, 10) == string(b)
}
