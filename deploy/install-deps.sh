#!/bin/sh
# Installs the Debian packages tcbot needs, and only those that are missing:
# QEMU user-mode emulation (with plugin support), the two cross
# compilers and bubblewrap (the sandbox). Safe to run again. Needs root or
# sudo when something is missing.
set -eu

need=""
have() { command -v "$1" >/dev/null 2>&1; }
have qemu-aarch64 || need="$need qemu-user"
have qemu-arm || case "$need" in *qemu-user*) ;; *) need="$need qemu-user" ;; esac
have arm-linux-gnueabihf-gcc || need="$need gcc-arm-linux-gnueabihf libc6-dev-armhf-cross"
have aarch64-linux-gnu-gcc || need="$need gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
have gcc || need="$need gcc libc6-dev"
have git || need="$need git"
# The sandbox for code from revisions under test (bot/sandbox).
have bwrap || need="$need bubblewrap"
have make || need="$need make"
for extra in "$@"; do
	dpkg -s "$extra" >/dev/null 2>&1 || need="$need $extra"
done

if [ -z "$need" ]; then
	echo "deps: everything tcbot needs is installed"
	exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
	if have sudo; then SUDO=sudo; else
		echo "deps: missing packages:$need; run this as root (or install them yourself)" >&2
		exit 1
	fi
fi
echo "deps: installing$need"
export DEBIAN_FRONTEND=noninteractive
# Debian's mirror sometimes fails for a while: retry, then carry on with the
# package lists we have.
i=0
until $SUDO apt-get update -q >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -ge 3 ]; then echo "deps: apt-get update failed 3 times; trying the lists we have" >&2; break; fi
	sleep $((i * 5))
done
i=0
until $SUDO apt-get install -y -q --no-install-recommends $need; do
	i=$((i + 1))
	if [ $i -ge 3 ]; then echo "deps: apt-get install$need failed" >&2; exit 1; fi
	sleep $((i * 5))
	$SUDO apt-get update -q >/dev/null 2>&1 || true
done
