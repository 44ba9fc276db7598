package kernel

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
)

// File is one entry of an initramfs.
type File struct {
	// Path is where the file is in the guest ("/bin/busybox"). Parent
	// directories are created as needed.
	Path string
	// Source is a host file to copy; used when Data is nil.
	Source string
	// Data is the file's content.
	Data []byte
	// Mode is the guest file's mode. Zero means the Source file's
	// permissions, or 0644 for Data. Type bits make directories
	// (fs.ModeDir), symlinks (fs.ModeSymlink: Data is the link target) and
	// character devices (fs.ModeDevice|fs.ModeCharDevice, see Major/Minor).
	Mode os.FileMode
	// Major and Minor number a device node.
	Major, Minor uint32
}

// cpio "newc" mode bits (see cpio(5)).
const (
	cpioDir     = 0o040000
	cpioReg     = 0o100000
	cpioSymlink = 0o120000
	cpioChar    = 0o020000
	cpioTrailer = "TRAILER!!!"
)

// WriteInitramfs writes files as a gzip-compressed cpio archive in the
// "newc" format the kernel unpacks into its root file system. Parent
// directories are created (mode 0755) before the files in them; the
// archive holds every path once, in a stable order, with fixed owners
// (root) and times, so the same files give the same bytes.
func WriteInitramfs(w io.Writer, files []File) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	if err := writeCPIO(zw, files); err != nil {
		return err
	}
	return zw.Close()
}

func writeCPIO(w io.Writer, files []File) error {
	bw := bufio.NewWriter(w)
	entries := map[string]File{}
	dirs := map[string]bool{}
	for _, f := range files {
		p := path.Clean("/" + f.Path)
		if p == "/" {
			return fmt.Errorf("initramfs: file %q: no path in the guest", f.Path)
		}
		name := strings.TrimPrefix(p, "/")
		if _, dup := entries[name]; dup {
			return fmt.Errorf("initramfs: %s given twice", p)
		}
		f.Path = name
		entries[name] = f
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	for d := range dirs {
		if e, ok := entries[d]; ok {
			if e.Mode&fs.ModeDir == 0 {
				return fmt.Errorf("initramfs: /%s is both a file and a directory", d)
			}
			continue
		}
		entries[d] = File{Path: d, Mode: fs.ModeDir | 0o755}
	}
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	// A parent sorts before its children ("a" < "a/b"), so the kernel
	// always meets a directory before what is in it.
	sort.Strings(names)
	ino := uint32(1)
	for _, n := range names {
		if err := writeEntry(bw, entries[n], ino); err != nil {
			return err
		}
		ino++
	}
	if err := writeHeader(bw, cpioTrailer, 0, 0, 1, 0, 0, 0); err != nil {
		return err
	}
	return bw.Flush()
}

func writeEntry(w *bufio.Writer, f File, ino uint32) error {
	mode := f.Mode
	var src *os.File
	size := int64(len(f.Data))
	if f.Data == nil && f.Source != "" {
		var err error
		src, err = os.Open(f.Source)
		if err != nil {
			return fmt.Errorf("initramfs: /%s: %w", f.Path, err)
		}
		defer src.Close()
		st, err := src.Stat()
		if err != nil {
			return fmt.Errorf("initramfs: /%s: %w", f.Path, err)
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("initramfs: /%s: source %s is not a regular file", f.Path, f.Source)
		}
		size = st.Size()
		if mode == 0 {
			mode = st.Mode().Perm()
		}
	}
	if mode == 0 {
		mode = 0o644
	}
	perm := uint32(mode.Perm())
	var kind uint32
	var major, minor uint32
	switch {
	case mode&fs.ModeDir != 0:
		kind, size = cpioDir, 0
	case mode&fs.ModeSymlink != 0:
		kind = cpioSymlink
		perm = 0o777
	case mode&fs.ModeDevice != 0 && mode&fs.ModeCharDevice != 0:
		kind, size = cpioChar, 0
		major, minor = f.Major, f.Minor
	case mode.Type() == 0:
		kind = cpioReg
	default:
		return fmt.Errorf("initramfs: /%s: unsupported file type %s", f.Path, mode.Type())
	}
	if size > 0xffffffff {
		return fmt.Errorf("initramfs: /%s: %d bytes is too big for cpio newc", f.Path, size)
	}
	nlink := uint32(1)
	if kind == cpioDir {
		nlink = 2
	}
	if err := writeHeader(w, f.Path, ino, kind|perm, nlink, uint32(size), major, minor); err != nil {
		return err
	}
	if kind != cpioReg && kind != cpioSymlink {
		return nil
	}
	var n int64
	var err error
	if src != nil {
		n, err = io.Copy(w, io.LimitReader(src, size))
		if err == nil && n != size {
			err = fmt.Errorf("%s changed while being read", f.Source)
		}
	} else {
		var k int
		k, err = w.Write(f.Data)
		n = int64(k)
	}
	if err != nil {
		return fmt.Errorf("initramfs: /%s: %w", f.Path, err)
	}
	return pad(w, n)
}

// writeHeader writes a newc header and the NUL-terminated, padded name.
func writeHeader(w *bufio.Writer, name string, ino, mode, nlink, size, rmajor, rminor uint32) error {
	// magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
	// devminor, rdevmajor, rdevminor, namesize, check
	_, err := fmt.Fprintf(w, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		ino, mode, 0, 0, nlink, 0, size, 0, 0, rmajor, rminor, len(name)+1, 0)
	if err != nil {
		return err
	}
	if _, err := w.WriteString(name); err != nil {
		return err
	}
	if err := w.WriteByte(0); err != nil {
		return err
	}
	return pad(w, int64(110+len(name)+1))
}

// pad writes the NULs that align n bytes to 4.
func pad(w *bufio.Writer, n int64) error {
	if r := n % 4; r != 0 {
		_, err := w.Write(make([]byte, 4-r))
		return err
	}
	return nil
}

// ReadyMarker is the line tcbot's standard /init prints (on the console)
// when the guest is up, followed by a space and the guest's uptime in
// seconds (from /proc/timer_list, to the nanosecond, where the kernel has
// it). The /init script prints it from two parts, so a console that
// echoes the script or the kernel command line never shows it by accident.
const ReadyMarker = "TCBOT-GUEST-READY"

// ShellLoop is an /init tail that keeps an interactive shell with the
// prompt "/ # " on the console, as LAVA's boot action expects.
const ShellLoop = `export PS1='/ # '
while true; do setsid cttyhack sh -l; done
`

// InitScript is tcbot's standard /init: install busybox's applets, mount
// proc, sys, devtmpfs and a tmpfs on /tmp and /run, quiet the kernel's
// console messages (only emergencies, such as a panic, still print), say
// ReadyMarker, then run tail (shell code: what the guest is for). If tail
// returns, the guest powers off.
func InitScript(tail string) string {
	half := len(ReadyMarker) / 2
	return `#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root TERM=dumb
mkdir -p /proc /sys /dev /tmp /run /root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
dmesg -n 1 2>/dev/null
if [ -r /proc/timer_list ]; then
	{ read -r _; read -r _; read -r _ _ tcbot_ns _; } </proc/timer_list
	tcbot_up=$(printf '%d.%09d' $((tcbot_ns / 1000000000)) $((tcbot_ns % 1000000000)))
else
	read -r tcbot_up _ </proc/uptime
fi
printf '%s%s %s\n' '` + ReadyMarker[:half] + `' '` + ReadyMarker[half:] + `' "$tcbot_up"
` + tail + `
poweroff -f
`
}

// StandardFiles is tcbot's standard initramfs: the static busybox (a host
// file) as /bin/busybox, the directories its applets are installed into,
// /dev/console, and /init running InitScript(tail). Add the guest's own
// files and write it all with WriteInitramfs.
func StandardFiles(busybox, tail string) []File {
	return []File{
		{Path: "/bin/busybox", Source: busybox, Mode: 0o755},
		{Path: "/init", Data: []byte(InitScript(tail)), Mode: 0o755},
		{Path: "/sbin", Mode: fs.ModeDir | 0o755},
		{Path: "/usr/bin", Mode: fs.ModeDir | 0o755},
		{Path: "/usr/sbin", Mode: fs.ModeDir | 0o755},
		{Path: "/dev/console", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, Major: 5, Minor: 1},
	}
}
