#!/bin/sh
# /init of the initramfs tcbot builds for its LAVA jobs: a static busybox,
# tcbot's run helpers (/tcbot) and the benchmark binaries (/tcbot/d*). It
# mounts the pseudo file systems and keeps a root shell on the console with
# the prompt the job waits for ("/ # "). LAVA appends its test overlay
# (/lava-<job>) to this archive before booting (overlays: {lava: true}).
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
hostname tcbot-guest
export HOME=/root PATH=/bin:/sbin:/usr/bin:/usr/sbin
echo "tcbot: $(uname -srm), $(grep -c ^processor /proc/cpuinfo) cpu(s)"
while true; do
	setsid cttyhack /bin/sh -l
	echo "tcbot: shell exited, starting another"
done
