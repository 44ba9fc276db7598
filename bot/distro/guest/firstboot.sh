#!/bin/sh
# The image's first boot under qemu-system (writable disk): configure the
# packages if they were only unpacked (no qemu-user on the host), create
# the application's database, check that the pages answer, stop, and
# record the versions. Output goes to the console log of the build.
set -e
logs() {
	for f in /var/log/tcbot-*.log /var/log/apache2/error.log; do
		[ -s "$f" ] && { echo "== $f"; tail -n 15 "$f"; }
	done
	return 0
}
trap 'status=$?; [ $status = 0 ] || logs' EXIT
# Maintainer scripts (mariadb-server's) need the host name to resolve.
echo tcbot >/etc/hostname
printf '127.0.0.1\tlocalhost tcbot\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >/etc/hosts
if [ -e /var/lib/tcbot-unconfigured ]; then
	echo "tcbot: configuring the packages in the guest"
	export DEBIAN_FRONTEND=noninteractive
	mkdir -p /var/lib/dpkg/info /var/lib/dpkg/updates /var/lib/dpkg/triggers
	[ -e /var/lib/dpkg/status ] || : >/var/lib/dpkg/status
	[ -e /var/lib/dpkg/available ] || : >/var/lib/dpkg/available
	# Like debootstrap's second stage: the Essential packages first,
	# then everything.
	dpkg --force-depends --force-confold --install $(cat /var/lib/tcbot-essential) >/var/log/tcbot-dpkg.log 2>&1 || { tail -n 30 /var/log/tcbot-dpkg.log; exit 1; }
	# All at once; what fails for want of a package configured later is
	# configured again below, and only a second failure is fatal.
	dpkg --force-depends --force-confold --install /var/cache/apt/archives/*.deb >>/var/log/tcbot-dpkg.log 2>&1 || true
	dpkg --configure -a >>/var/log/tcbot-dpkg.log 2>&1 || { tail -n 30 /var/log/tcbot-dpkg.log; exit 1; }
	rm -f /var/cache/apt/archives/*.deb /var/lib/tcbot-unconfigured /var/lib/tcbot-essential
	/usr/local/share/tcbot/configure.sh
fi
mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
# The system tables: mariadb-server's postinst makes them, but not when it
# ran under qemu-user in a chroot.
if [ ! -d /var/lib/mysql/mysql ]; then
	mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/var/log/tcbot-mariadb-install.log 2>&1
fi
/usr/sbin/mariadbd --user=mysql --skip-log-bin >/var/log/tcbot-mariadb-setup.log 2>&1 &
i=0
while ! [ -S /run/mysqld/mysqld.sock ]; do
	i=$((i + 1)); [ $i -lt 3000 ] || { echo "tcbot: mariadbd did not start"; tail /var/log/tcbot-mariadb-setup.log; exit 1; }
	sleep 0.1
done
mariadb </usr/local/share/tcbot/schema.sql
mariadb-admin shutdown
wait
/usr/local/sbin/tcbot-lamp-start
curl -fsS http://127.0.0.1/tcbot/read.php | grep -q tcbot-ok
curl -fsS http://127.0.0.1/tcbot/write.php | grep -q tcbot-ok
/usr/local/sbin/tcbot-lamp-stop
{
	printf 'kernel-built-for-first-boot %s\n' "$(uname -r)"
	dpkg-query -W -f='${Package} ${Version}\n' apache2 php8.2-fpm mariadb-server libc6 curl
} >/etc/tcbot-image
sync
echo "tcbot: image ready"
