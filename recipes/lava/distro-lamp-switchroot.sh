# The /init tail of tcbot's distro-lamp ramdisk for LAVA, run by busybox
# after tcbot's standard /init (proc, sys, devtmpfs, /tmp and /run are
# mounted). LAVA has appended its test overlay (/lava-<job>) and the load
# generator (/tcbot/loadgen) to this ramdisk, so neither LAVA nor the guest
# needs libguestfs or a second disk. Here: mount the Debian image named by
# root= (default /dev/vda, the virtio-mmio disk), bring loopback up, copy
# the overlay and /tcbot onto the image, and switch root to an interactive
# bash of the image on the console, prompt "root@tcbot:~# " (the job's
# boot prompt). Nothing of the image runs before the test shell starts it.
root=/dev/vda
for a in $(cat /proc/cmdline); do
	case "$a" in root=*) root=${a#root=} ;; esac
done
# A board's MMC or USB disk may appear a little after the kernel starts
# init (rootwait); a virtio disk is there at once.
i=0
while [ ! -b "$root" ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
mkdir -p /newroot
if ! mount -t ext4 -o rw "$root" /newroot 2>/tmp/.tcbot-mount; then
	echo "tcbot: cannot mount the root image $root (does the kernel have CONFIG_VIRTIO_MMIO, CONFIG_VIRTIO_BLK and CONFIG_EXT4_FS?):"
	cat /tmp/.tcbot-mount
	poweroff -f
fi
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up
for d in /lava-*; do
	[ -d "$d" ] && cp -a "$d" /newroot/
done
mkdir -p /newroot/tcbot
cp -a /tcbot/. /newroot/tcbot/
# Named busybox: busybox runs the applet its name says, and as "busybox"
# the one its first argument says.
cp /bin/busybox /newroot/tcbot/busybox
for d in dev proc sys run; do
	mkdir -p /newroot/$d
	mount --move /$d /newroot/$d
done
umount /tmp
exec switch_root /newroot /tcbot/busybox sh -c 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb PS1="root@tcbot:~# "
while true; do /tcbot/busybox setsid /tcbot/busybox cttyhack /bin/bash --noprofile --norc -i; done'
