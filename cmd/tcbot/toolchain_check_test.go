package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigCheckLoadsToolchainRecipes: a repository with toolchain: build
// names a toolchain recipe; config check loads and validates it (the llvm
// recipe is checked nowhere else) and names the available ones when it
// does not exist.
func TestConfigCheckLoadsToolchainRecipes(t *testing.T) {
	dir := t.TempDir()
	write := func(recipe string) string {
		p := filepath.Join(dir, recipe+".yaml")
		os.WriteFile(p, []byte(`workdir: work
repos:
  - name: tc
    url: /srv/git/tc
    toolchain: build
    build: {recipe: `+recipe+`}
targets:
  - {name: armv8-qemu, arch: armv8, executor: qemu-user}
`), 0o644)
		return p
	}
	for _, name := range []string{"llvm", "gcc", "binutils", "glibc"} {
		if code, _, stderr := tcbot(t, "config", "check", "--config", write(name)); code != 0 {
			t.Errorf("config check with the %s toolchain recipe: exit %d: %s", name, code, stderr)
		}
	}
	code, _, stderr := tcbot(t, "config", "check", "--config", write("gcc13"))
	if code != 1 || !strings.Contains(stderr, "build.recipe") || !strings.Contains(stderr, `toolchain recipe "gcc13"`) || !strings.Contains(stderr, "llvm") {
		t.Errorf("config check with a missing toolchain recipe: exit %d: %s", code, stderr)
	}
}
