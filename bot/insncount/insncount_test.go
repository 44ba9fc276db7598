package insncount

import (
	"context"
	"debug/elf"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/tcbot/tcbot/benchmarks"
)

func TestBuildOnceAndCache(t *testing.T) {
	src, err := fs.Sub(benchmarks.FS, "plugin")
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	p1, err := Build(context.Background(), src, cache)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(p1)
	if err != nil {
		t.Fatalf("the plugin is not an ELF shared object: %v", err)
	}
	syms, _ := f.DynamicSymbols()
	f.Close()
	found := map[string]bool{}
	for _, s := range syms {
		found[s.Name] = true
	}
	if !found["qemu_plugin_install"] || !found["qemu_plugin_version"] {
		t.Errorf("plugin exports lack qemu_plugin_install/qemu_plugin_version")
	}
	st1, _ := os.Stat(p1)
	p2, err := Build(context.Background(), src, cache)
	if err != nil || p2 != p1 {
		t.Fatalf("second build: %q, %v; want the cached %q", p2, err, p1)
	}
	st2, _ := os.Stat(p2)
	if !st1.ModTime().Equal(st2.ModTime()) {
		t.Error("the cached plugin was built again")
	}
}

func TestBuildErrorsSayWhatToDo(t *testing.T) {
	broken := fstest.MapFS{"insncount.c": {Data: []byte("this is not C\n")}}
	_, err := Build(context.Background(), broken, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "plugin") || !strings.Contains(err.Error(), "set plugin: in the config") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Build(context.Background(), fstest.MapFS{}, t.TempDir()); err == nil {
		t.Fatal("no sources, yet no error")
	}
}
