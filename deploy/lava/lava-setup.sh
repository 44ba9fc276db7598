#!/bin/bash
# lava-setup.sh — a single-host LAVA 2023.01 lab for tcbot's tests and for
# trying tcbot's LAVA executor: Debian's lava-server and lava-dispatcher on
# Debian 12, PostgreSQL started first, every daemon started by this script
# (no systemd needed), everything on 127.0.0.1, and QEMU devices of device
# type "qemu" (qemu01, qemu02: an armv7 and an armv8 job can run at once).
#
#   usage: deploy/lava/lava-setup.sh install|start|stop|status|all
#
#   install  apt-get install the packages (only when missing), loopback-only settings
#   start    PostgreSQL, gunicorn (:8000), publisher (:8001, events on :5500),
#            scheduler, admin user and REST token, worker, device type and devices,
#            lava-worker (--ping-interval 5); waits until the worker is Online
#   stop     kills exactly the daemons this script started (pid files in $STATE)
#   status   what runs, the REST API's answer, worker and device health
#   all      install, then start
#
# Every step is safe to repeat. Secrets (the admin's REST token and password,
# the worker token) are generated here, kept in files of mode 0600 under
# $STATE and never printed. tcbot's tests read the REST token from
# $STATE/admin-token; a tcbot config names an environment variable holding it:
#
#   export TCBOT_LAVA_TOKEN="$(cat /var/lib/tcbot-lava/admin-token)"
#
# Environment: STATE (default /var/lib/tcbot-lava), LAVA_DEVICES (default 2),
# LAVA_PORT (default 8000), LAVA_PING_INTERVAL (default 5 seconds).
set -euo pipefail

STATE=${STATE:-/var/lib/tcbot-lava}
DEVICES=${LAVA_DEVICES:-2}
PORT=${LAVA_PORT:-8000}
WS_PORT=$((PORT + 1))
PING=${LAVA_PING_INTERVAL:-5}
WORKER=tcbot-worker
ADMIN=admin
API=http://127.0.0.1:$PORT/api/v0.2
PACKAGES="lava-server lava-dispatcher qemu-system-arm qemu-utils cpio gzip curl postgresql"

# LAVA's entry points want /usr/bin/python3 and its modules; a pyenv or venv
# first on PATH must not leak into them.
CLEAN=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	LANG=C.UTF-8 LC_ALL=C.UTF-8 HOME=/root)
MANAGE=("${CLEAN[@]}" /usr/bin/lava-server manage)

log() { echo "lava-setup: [$(date +%T)] $*" >&2; }
die() { log "error: $*"; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "run as root"; }

# secret NAME: prints the secret stored in $STATE/NAME, creating it first.
# Only ever used in command substitutions; nothing here echoes it.
secret() {
	local f=$STATE/$1
	if [ ! -s "$f" ]; then
		(umask 077 && head -c 64 /dev/urandom | sha256sum | cut -c1-40 >"$f")
	fi
	cat "$f"
}

apt_update() { # the mirror can be mid-sync for a while: retry, then use what we have
	local i
	for i in 1 2 3; do
		"${CLEAN[@]}" apt-get -o DPkg::Lock::Timeout=600 update -q >"$STATE/apt-update.log" 2>&1 && return 0
		log "apt-get update failed (try $i): $(grep -m1 '^E:' "$STATE/apt-update.log" || true)"
		sleep $((i * 5))
	done
	log "apt-get update keeps failing; carrying on with the package lists we have"
}

pg_up() {
	local i
	if [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then pg_createcluster 15 main >/dev/null; fi
	pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster 15 main start
	for i in $(seq 60); do pg_isready -q -h 127.0.0.1 -p 5432 && return 0; sleep 1; done
	die "PostgreSQL (15/main, port 5432) did not come up"
}

installed() { # all of the packages installed?
	local p
	for p in "$@"; do
		[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || return 1
	done
}

# ------------------------------------------------------------------ install
do_install() {
	need_root
	mkdir -p "$STATE" && chmod 700 "$STATE"
	local t0=$SECONDS
	if installed $PACKAGES && [ -f /etc/lava-server/settings.d/00-database.yaml ]; then
		log "packages already installed"
	else
		export DEBIAN_FRONTEND=noninteractive
		apt_update
		# PostgreSQL must run BEFORE lava-server is configured: its postinst
		# checks pg_isready and otherwise skips the role, the database and the
		# migrations without failing.
		installed postgresql || "${CLEAN[@]}" DEBIAN_FRONTEND=noninteractive \
			apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends postgresql \
			>"$STATE/apt-install.log" 2>&1 || die "apt-get install postgresql failed, see $STATE/apt-install.log"
		pg_up
		log "apt-get install $PACKAGES (no recommends; this takes about 3 minutes)"
		# Without recommends: no apache2, nfs-kernel-server, tftpd-hpa, lxc, ser2net.
		local i=0
		until "${CLEAN[@]}" DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
			install -y -q --no-install-recommends $PACKAGES >>"$STATE/apt-install.log" 2>&1; do
			i=$((i + 1))
			[ $i -lt 3 ] || die "apt-get install failed 3 times, see $STATE/apt-install.log"
			log "apt-get install failed (try $i), retrying"
			sleep $((i * 5))
			apt_update
		done
		if [ ! -f /etc/lava-server/settings.d/00-database.yaml ]; then
			log "lava-server's postinst skipped the database; configuring it now"
			"${CLEAN[@]}" /usr/bin/python3 /usr/share/lava-server/postinst.py --config --db --fixup
		fi
	fi
	# Loopback only: the publisher's default event socket is tcp://*:5500.
	local settings=/etc/lava-server/settings.d/01-tcbot-local.yaml
	cat >"$settings.new" <<-YAML
		# written by tcbot's deploy/lava/lava-setup.sh: a single-host lab on loopback
		EVENT_NOTIFICATION: true
		EVENT_SOCKET: "tcp://127.0.0.1:5500"
		INTERNAL_EVENT_SOCKET: "ipc:///run/lava-server/events"
		ALLOWED_HOSTS: ["127.0.0.1", "localhost"]
	YAML
	chown lavaserver:lavaserver "$settings.new" && chmod 640 "$settings.new"
	mv "$settings.new" "$settings"
	log "install done in $((SECONDS - t0)) s"
}

# ------------------------------------------------------------------ daemons
running() { [ -f "$STATE/$1.pid" ] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }

start_bg() { # name command...: detached in its own session, pid in $STATE/name.pid
	local name=$1
	shift
	if running "$name"; then
		log "$name already running (pid $(cat "$STATE/$name.pid"))"
		return 0
	fi
	setsid "$@" >"$STATE/$name.out" 2>&1 </dev/null &
	echo $! >"$STATE/$name.pid"
	log "started $name (pid $!)"
}

wait_for() { # seconds description command...
	local n=$1 what=$2 i
	shift 2
	for i in $(seq "$n"); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 1
	done
	die "timed out after ${n}s waiting for $what"
}

# api PATH: GET with the admin token; the token goes to curl on stdin, never
# on a command line.
api() {
	printf 'header = "Authorization: Token %s"\n' "$(secret admin-token)" |
		curl -fsS --max-time 10 -K - "$API/$1"
}

json_field() { /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$1"; }

do_start() {
	need_root
	[ -x /usr/bin/lava-server ] || die "LAVA is not installed; run: $0 install"
	mkdir -p "$STATE" /var/log/lava-dispatcher && chmod 700 "$STATE"
	local t0=$SECONDS
	pg_up
	# The publisher (as user lavaserver) makes its internal event socket
	# here; gunicorn sends it the events that wake the scheduler at once
	# instead of at its next 20 s round.
	install -d -o lavaserver -g lavaserver -m 750 /run/lava-server
	# The same command lines as /lib/systemd/system/lava-*.service, on loopback.
	start_bg gunicorn "${CLEAN[@]}" /usr/bin/gunicorn3 lava_server.wsgi \
		--log-level INFO --log-file /var/log/lava-server/gunicorn.log \
		-u lavaserver -g lavaserver --worker-class eventlet --workers 2 \
		--bind "127.0.0.1:$PORT"
	start_bg publisher "${CLEAN[@]}" /usr/bin/lava-server manage lava-publisher \
		--level INFO --log-file /var/log/lava-server/lava-publisher.log \
		--host 127.0.0.1 --port "$WS_PORT"
	start_bg scheduler "${CLEAN[@]}" /usr/bin/lava-server manage lava-scheduler \
		--level INFO --log-file /var/log/lava-server/lava-scheduler.log \
		--event-url tcp://127.0.0.1:5500
	wait_for 90 "the REST API on 127.0.0.1:$PORT" curl -fsS --max-time 5 "$API/system/version/"

	# Admin user and its REST token (the secret is generated here, imported
	# into LAVA, and stays in $STATE/admin-token).
	# (lists are captured first: grep -q closing the pipe early would make
	# pipefail report a failure)
	local users types
	users=$("${MANAGE[@]}" users list 2>/dev/null || true)
	if ! grep -qw "$ADMIN" <<<"$users"; then
		"${MANAGE[@]}" users add --superuser --staff --passwd "$(secret admin-password)" \
			--email "$ADMIN@localhost" "$ADMIN" >/dev/null
	fi
	if ! api system/whoami/ >/dev/null 2>&1; then
		"${MANAGE[@]}" tokens add --user "$ADMIN" --description tcbot \
			--secret "$(secret admin-token)" >/dev/null
	fi
	api system/whoami/ >/dev/null || die "the admin token is not accepted by $API"

	# The worker and its token (kept in a file; lava-worker reads it from there).
	if [ ! -s "$STATE/worker-token" ]; then
		local out
		if out=$("${MANAGE[@]}" workers details "$WORKER" 2>/dev/null); then
			(umask 077 && awk '/^token/{print $3}' <<<"$out" >"$STATE/worker-token")
		else
			out=$("${MANAGE[@]}" workers add --description "tcbot local qemu worker" "$WORKER")
			(umask 077 && awk '/^Token:/{print $2}' <<<"$out" >"$STATE/worker-token")
		fi
		[ -s "$STATE/worker-token" ] || die "could not read the token of worker $WORKER"
	fi

	# Device type qemu and its devices. No -no-reboot here: tcbot's jobs add it
	# in their context (extra_options), so a panicking kernel ends the job.
	types=$("${MANAGE[@]}" device-types list 2>/dev/null || true)
	grep -qw qemu <<<"$types" || "${MANAGE[@]}" device-types add qemu >/dev/null
	local i dev devs
	devs=$("${MANAGE[@]}" devices list --all 2>/dev/null || true)
	for i in $(seq "$DEVICES"); do
		dev=$(printf 'qemu%02d' "$i")
		cat >"/etc/lava-server/dispatcher-config/devices/$dev.jinja2" <<-JINJA
			{% extends 'qemu.jinja2' %}
			{% set mac_addr = '52:54:00:12:34:$(printf '%02x' $((0x58 + i)))' %}
			{% set memory = 1024 %}
		JINJA
		chown lavaserver:lavaserver "/etc/lava-server/dispatcher-config/devices/$dev.jinja2"
		grep -qw "$dev" <<<"$devs" ||
			"${MANAGE[@]}" devices add --device-type qemu --worker "$WORKER" "$dev" >/dev/null
	done

	# The dispatcher side runs as root. The worker reports the end of a job
	# only at its next ping, so a short ping interval makes jobs finish sooner.
	start_bg worker "${CLEAN[@]}" /usr/bin/lava-worker --level INFO \
		--log-file /var/log/lava-dispatcher/lava-worker.log --name "$WORKER" \
		--ping-interval "$PING" --url "http://127.0.0.1:$PORT/" \
		--ws-url "http://127.0.0.1:$WS_PORT/ws/" --token-file "$STATE/worker-token"
	wait_for 60 "worker $WORKER to be Online" worker_online
	# A device left at health Unknown by an earlier infrastructure error still
	# takes jobs, but a health check reads better as Good.
	for i in $(seq "$DEVICES"); do
		"${MANAGE[@]}" devices update --health GOOD "$(printf 'qemu%02d' "$i")" >/dev/null 2>&1 || true
	done
	log "LAVA is up at http://127.0.0.1:$PORT/ ($DEVICES qemu devices) in $((SECONDS - t0)) s; REST token in $STATE/admin-token"
}

worker_online() { [ "$(api "workers/$WORKER/" | json_field state)" = Online ]; }

do_stop() {
	local name pid i
	for name in worker scheduler publisher gunicorn; do
		running "$name" || { rm -f "$STATE/$name.pid"; continue; }
		pid=$(cat "$STATE/$name.pid")
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
		for i in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
		kill -0 "$pid" 2>/dev/null && { kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"; }
		rm -f "$STATE/$name.pid"
		log "stopped $name (pid $pid)"
	done
	# PostgreSQL is left running: other users of the cluster may need it.
}

do_status() {
	local name rc=0
	for name in gunicorn publisher scheduler worker; do
		if running "$name"; then echo "$name: running (pid $(cat "$STATE/$name.pid"))"; else echo "$name: stopped"; rc=1; fi
	done
	pg_isready -h 127.0.0.1 -p 5432 || rc=1
	if [ -s "$STATE/admin-token" ] && api system/version/ >/dev/null 2>&1; then
		echo "api: $API version $(api system/version/ | json_field version), user $(api system/whoami/ | json_field user)"
		api "workers/$WORKER/" | /usr/bin/python3 -c 'import json,sys; w=json.load(sys.stdin); print("worker: %s state %s health %s" % (w["hostname"], w["state"], w["health"]))'
		api "devices/?limit=100" | /usr/bin/python3 -c 'import json,sys
for d in json.load(sys.stdin)["results"]: print("device: %s type %s state %s health %s" % (d["hostname"], d["device_type"], d["state"], d["health"]))'
	else
		echo "api: $API not answering"
		rc=1
	fi
	return $rc
}

case "${1:-}" in
install) do_install ;;
start) do_start ;;
stop) do_stop ;;
status) do_status ;;
all)
	t=$SECONDS
	do_install
	do_start
	log "all done in $((SECONDS - t)) s"
	;;
*)
	echo "usage: $0 install|start|stop|status|all" >&2
	exit 2
	;;
esac
