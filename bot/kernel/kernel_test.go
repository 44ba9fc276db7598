package kernel_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcbot/tcbot/bot/kernel"
	"github.com/tcbot/tcbot/bot/kernel/kerneltest"
)

// entry is one member of a cpio newc archive as read back.
type entry struct {
	name         string
	mode         uint32
	nlink        uint32
	rmaj, rmin   uint32
	data         []byte
	headerOffset int
}

// readNewc is an independent reader of the cpio "newc" format (cpio(5)),
// strict about what the kernel is strict about: the magic, hex fields,
// 4-byte alignment of names and data, and the trailer.
func readNewc(t *testing.T, gz []byte) []entry {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var out []entry
	off := 0
	for {
		if off%4 != 0 {
			t.Fatalf("header at %d is not 4-byte aligned", off)
		}
		if off+110 > len(raw) {
			t.Fatalf("archive ends at %d without a trailer", off)
		}
		h := raw[off : off+110]
		if string(h[:6]) != "070701" {
			t.Fatalf("bad magic %q at %d", h[:6], off)
		}
		field := func(i int) uint32 {
			v, err := strconv.ParseUint(string(h[6+8*i:6+8*i+8]), 16, 32)
			if err != nil {
				t.Fatalf("field %d at %d: %v", i, off, err)
			}
			return uint32(v)
		}
		mode, nlink, size, rmaj, rmin, namesize := field(1), field(4), field(6), field(9), field(10), field(11)
		nameStart := off + 110
		name := raw[nameStart : nameStart+int(namesize)]
		if name[len(name)-1] != 0 {
			t.Fatalf("name at %d not NUL-terminated", nameStart)
		}
		e := entry{name: string(name[:len(name)-1]), mode: mode, nlink: nlink, rmaj: rmaj, rmin: rmin, headerOffset: off}
		dataStart := (nameStart + int(namesize) + 3) &^ 3
		for _, b := range raw[nameStart+int(namesize) : dataStart] {
			if b != 0 {
				t.Fatalf("name padding of %s is not NUL", e.name)
			}
		}
		e.data = raw[dataStart : dataStart+int(size)]
		off = (dataStart + int(size) + 3) &^ 3
		if e.name == "TRAILER!!!" {
			if off != len(raw) {
				t.Fatalf("%d bytes after the trailer", len(raw)-off)
			}
			return out
		}
		out = append(out, e)
	}
}

func TestWriteInitramfsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "prog")
	// 4097 bytes: data that needs padding after it.
	payload := bytes.Repeat([]byte("x"), 4097)
	if err := os.WriteFile(src, payload, 0o751); err != nil {
		t.Fatal(err)
	}
	files := []kernel.File{
		{Path: "/tcbot/bench/prog", Source: src},
		{Path: "etc/motd", Data: []byte("hi\n")},
		{Path: "/init", Data: []byte("#!/bin/sh\n"), Mode: 0o755},
		{Path: "/bin/sh", Data: []byte("busybox"), Mode: fs.ModeSymlink},
		{Path: "/dev/console", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, Major: 5, Minor: 1},
		{Path: "/empty", Data: []byte{}},
	}
	var buf bytes.Buffer
	if err := kernel.WriteInitramfs(&buf, files); err != nil {
		t.Fatal(err)
	}
	got := readNewc(t, buf.Bytes())
	byName := map[string]entry{}
	for i, e := range got {
		if _, dup := byName[e.name]; dup {
			t.Errorf("%s twice", e.name)
		}
		byName[e.name] = e
		// Every parent comes before its children.
		if d := filepath.Dir(e.name); d != "." {
			p, ok := byName[d]
			if !ok {
				t.Errorf("%s (entry %d) comes before its directory %s", e.name, i, d)
			} else if p.mode&0o170000 != 0o040000 {
				t.Errorf("parent %s of %s has mode %o, want a directory", d, e.name, p.mode)
			}
		}
	}
	want := map[string]struct {
		mode uint32
		data string
	}{
		"bin":              {0o040755, ""},
		"bin/sh":           {0o120777, "busybox"},
		"dev":              {0o040755, ""},
		"dev/console":      {0o020600, ""},
		"empty":            {0o100644, ""},
		"etc":              {0o040755, ""},
		"etc/motd":         {0o100644, "hi\n"},
		"init":             {0o100755, "#!/bin/sh\n"},
		"tcbot":            {0o040755, ""},
		"tcbot/bench":      {0o040755, ""},
		"tcbot/bench/prog": {0o100751, string(payload)},
	}
	if len(got) != len(want) {
		var names []string
		for _, e := range got {
			names = append(names, e.name)
		}
		t.Errorf("entries %v, want %d", names, len(want))
	}
	for name, w := range want {
		e, ok := byName[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if e.mode != w.mode {
			t.Errorf("%s: mode %o, want %o", name, e.mode, w.mode)
		}
		if string(e.data) != w.data {
			t.Errorf("%s: %d bytes of data, want %d", name, len(e.data), len(w.data))
		}
	}
	if c := byName["dev/console"]; c.rmaj != 5 || c.rmin != 1 {
		t.Errorf("/dev/console is %d:%d, want 5:1", c.rmaj, c.rmin)
	}
	if d := byName["tcbot"]; d.nlink != 2 {
		t.Errorf("directory nlink %d, want 2", d.nlink)
	}

	// Same files, same bytes.
	var again bytes.Buffer
	if err := kernel.WriteInitramfs(&again, files); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("writing the same files twice gave different archives")
	}
}

func TestWriteInitramfsRejects(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []kernel.File
		want  string
	}{
		{"a path twice", []kernel.File{{Path: "/a", Data: []byte("1")}, {Path: "a", Data: []byte("2")}}, "twice"},
		{"a file used as a directory", []kernel.File{{Path: "/a", Data: []byte("1")}, {Path: "/a/b", Data: []byte("2")}}, "both a file and a directory"},
		{"a missing source", []kernel.File{{Path: "/a", Source: "/nonexistent/tcbot"}}, "no such file"},
		{"the root", []kernel.File{{Path: "/", Data: []byte("x")}}, "no path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := kernel.WriteInitramfs(io.Discard, tc.files)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func TestInitScript(t *testing.T) {
	s := kernel.InitScript("echo tail-runs-here\n")
	if strings.Contains(s, kernel.ReadyMarker) {
		t.Error("the script holds the ready marker whole: a console echoing it would look ready")
	}
	for _, w := range []string{"#!/bin/busybox sh\n", "busybox --install -s", "mount -t proc", "mount -t sysfs", "mount -t devtmpfs", "mount -t tmpfs tmpfs /tmp", "echo tail-runs-here", "poweroff -f"} {
		if !strings.Contains(s, w) {
			t.Errorf("init script lacks %q", w)
		}
	}
	if strings.Index(s, "mount -t proc") > strings.Index(s, "tail-runs-here") {
		t.Error("the tail runs before the mounts")
	}
}

// TestBusyboxCached fetches busybox into a fresh cache (the real apt
// path: private lists, apt-get download, extraction), then fetches it
// again with no apt on PATH: the second call must not need it.
func TestBusyboxCached(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cache := t.TempDir()
	start := time.Now()
	bb, err := kernel.Busybox(ctx, cache, "armv8")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first fetch: %s", time.Since(start).Round(time.Millisecond))
	f, err := elf.Open(bb)
	if err != nil {
		t.Fatalf("busybox is not an ELF file: %v", err)
	}
	if f.Machine != elf.EM_AARCH64 || f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		t.Errorf("busybox is %s %s, want an AArch64 executable", f.Machine, f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("busybox has an interpreter: it is not static")
		}
	}
	f.Close()
	if !strings.Contains(bb, "busybox-static_") {
		t.Errorf("cached at %s: want the package and version in the path", bb)
	}
	// Nothing of the download is left behind but the file and the lists.
	left, _ := filepath.Glob(filepath.Join(cache, ".download-*"))
	debs, _ := filepath.Glob(filepath.Join(cache, "*", "*", "*.deb"))
	if len(left)+len(debs) > 0 {
		t.Errorf("download leftovers: %v %v", left, debs)
	}

	t.Setenv("PATH", t.TempDir())
	if _, err := exec.LookPath("apt-get"); err == nil {
		t.Fatal("apt-get still on PATH")
	}
	start = time.Now()
	again, err := kernel.Busybox(ctx, cache, "armv8")
	if err != nil {
		t.Fatalf("second fetch needed apt: %v", err)
	}
	if again != bb {
		t.Errorf("second fetch %s, first %s", again, bb)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("second fetch took %s", d)
	}
	// The other arch is not cached: without apt it fails, saying so.
	if _, err := kernel.Busybox(ctx, cache, "armv7"); err == nil || !strings.Contains(err.Error(), "apt-get") {
		t.Errorf("armv7 without apt: %v", err)
	}
	if _, err := kernel.Busybox(ctx, cache, "x86"); err == nil || !strings.Contains(err.Error(), "want armv7 or armv8") {
		t.Errorf("unknown arch: %v", err)
	}
}

// TestDebianKernels fetches both Debian kernels (shared test cache) and
// checks each is the boot format QEMU expects: an arm64 Image (magic
// "ARM\x64" at 0x38) and an ARM zImage (magic 0x016f2818 at 0x24).
func TestDebianKernels(t *testing.T) {
	for _, tc := range []struct {
		arch, format, pkg string
		check             func([]byte) error
	}{
		{"armv8", "Image", "-arm64", func(h []byte) error {
			if string(h[0x38:0x3c]) != "ARM\x64" {
				return fmt.Errorf("no arm64 Image magic at 0x38: % x", h[0x38:0x3c])
			}
			return nil
		}},
		{"armv7", "zImage", "-armmp", func(h []byte) error {
			if m := binary.LittleEndian.Uint32(h[0x24:]); m != 0x016f2818 {
				return fmt.Errorf("zImage magic %#x at 0x24, want 0x016f2818", m)
			}
			return nil
		}},
	} {
		t.Run(tc.arch, func(t *testing.T) {
			g := kerneltest.Fetch(t, tc.arch)
			k := g.Kernel
			if k.Arch != tc.arch || k.Format != tc.format || !strings.HasPrefix(k.Package, "linux-image-") || !strings.HasSuffix(k.Package, tc.pkg) || k.Version == "" {
				t.Errorf("image %+v", k)
			}
			data, err := os.ReadFile(k.Path)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(data)) != k.Size || k.Size < 1<<20 {
				t.Errorf("size %d, file %d bytes", k.Size, len(data))
			}
			if err := tc.check(data[:64]); err != nil {
				t.Error(err)
			}
			t.Logf("%s %s: %d bytes", k.Package, k.Version, k.Size)
		})
	}
}
