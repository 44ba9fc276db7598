package executor

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"

	"github.com/tcbot/tcbot/bot/kernel"
)

// SystemReadyMarker is what a disk guest's second stage prints once its
// services are up (QEMUSystem.Disk), followed by a space and the guest's
// uptime in seconds; it replaces kernel.ReadyMarker, which the initramfs
// prints before it has even mounted the disk. Printed from two parts, so
// an echoed script never shows it.
const SystemReadyMarker = "TCBOT-SYSTEM-READY"

// diskTail is the initramfs /init tail of a disk guest: mount the root
// image, bring up loopback, put tcbot's files (and the overlay) on it,
// move the mounts over and switch root to the second stage, run by the
// image's own /bin/sh.
const diskTail = `mkdir -p /newroot
if ! mount -t ext4 /dev/vda /newroot 2>/tmp/.tcbot-mount && ! mount /dev/vda /newroot 2>>/tmp/.tcbot-mount; then
	echo "tcbot: cannot mount the root disk /dev/vda (does the kernel have CONFIG_VIRTIO_MMIO, CONFIG_VIRTIO_BLK and CONFIG_EXT4_FS?):"
	cat /tmp/.tcbot-mount
	poweroff -f
fi
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null
mkdir -p /newroot` + guestDir + `
cp -a ` + guestDir + `/. /newroot` + guestDir + `/
mkdir -p /newroot` + guestDir + `/.bin
cp /bin/busybox /newroot` + guestDir + `/.bin/busybox
cp /stage2 /newroot` + guestDir + `/.stage2
if [ -d /overlay ]; then cp -a /overlay/. /newroot/; fi
for d in dev proc sys run; do mkdir -p /newroot/$d; mount --move /$d /newroot/$d; done
umount /tmp
exec switch_root /newroot /bin/sh ` + guestDir + `/.stage2
`

// stage2Script is the disk guest's second stage: the mounts a Debian
// userspace expects, the caller's services, the ready marker with the
// uptime, then the command loop of serveTail.
func stage2Script(services string) string {
	half := len(SystemReadyMarker) / 2
	return `#!/bin/sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb LC_ALL=C
bb=` + guestDir + `/.bin/busybox
[ -r /proc/self/stat ] || mount -t proc proc /proc
[ -d /sys/kernel ] || mount -t sysfs sysfs /sys
mkdir -p /dev/shm /dev/pts /tmp /run /run/lock
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
chmod 1777 /tmp /dev/shm
[ -w /run ] || mount -t tmpfs tmpfs /run
mkdir -p /run/lock
"$bb" hostname tcbot 2>/dev/null
if [ -e /sys/class/net/eth0 ]; then
	"$bb" ip addr add 10.0.2.15/24 dev eth0 && "$bb" ip link set eth0 up && "$bb" ip route add default via 10.0.2.2
fi
tcbot_services() {
` + services + `
}
if ! tcbot_services >/tmp/.tcbot-stage2 2>&1; then
	echo "tcbot: the system did not start; its output ends:"
	tail -n 60 /tmp/.tcbot-stage2
	"$bb" poweroff -f
fi
if [ -r /proc/timer_list ]; then
	{ read -r _; read -r _; read -r _ _ tcbot_ns _; } </proc/timer_list
	tcbot_up=$(printf '%d.%09d' $((tcbot_ns / 1000000000)) $((tcbot_ns % 1000000000)))
else
	read -r tcbot_up _ </proc/uptime
fi
printf '%s%s %s\n' '` + SystemReadyMarker[:half] + `' '` + SystemReadyMarker[half:] + `' "$tcbot_up"
` + serveTail + `
"$bb" poweroff -f
`
}

// overlayFiles are the initramfs entries of a host tree, under prefix:
// directories, regular files (with their permissions) and symlinks. The
// tree's root itself is left out (prefix is made 0755), so laying it over
// the image's root keeps /'s mode; its subdirectories carry theirs.
func overlayFiles(dir, prefix string) ([]kernel.File, error) {
	var out []kernel.File
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if rel == "." {
			// The tree's own directory is the image's root: its mode
			// (a temporary directory's 0700, say) must not become /'s.
			return nil
		}
		guest := path.Join(prefix, filepath.ToSlash(rel))
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case info.IsDir():
			out = append(out, kernel.File{Path: guest, Mode: fs.ModeDir | info.Mode().Perm()})
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out = append(out, kernel.File{Path: guest, Data: []byte(target), Mode: fs.ModeSymlink | 0o777})
		case info.Mode().IsRegular():
			out = append(out, kernel.File{Path: guest, Source: p, Mode: info.Mode().Perm()})
		default:
			return fmt.Errorf("%s: not a file, directory or symlink (mode %s)", p, strconv.Quote(info.Mode().String()))
		}
		return nil
	})
	return out, err
}
