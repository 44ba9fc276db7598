SUMMARY = "tcbot's LAMP benchmark: a MariaDB table, a PHP page, measured at boot"
DESCRIPTION = "Creates a MariaDB database with one table of 200 rows, serves \
/tcbot/index.php (PHP-FPM behind Apache) that prints them, and at boot \
measures that page with tcbot-loadgen, writing /var/lib/tcbot/tcbot-lamp.txt \
(requests, errors, seconds, requests-per-second, latency-p50-ms, \
latency-p99-ms). Works with sysvinit and systemd."
HOMEPAGE = "https://github.com/tcbot/tcbot"
# tcbot's repository carries no licence file yet: replace with its licence
# and LIC_FILES_CHKSUM when it does.
LICENSE = "CLOSED"

SRC_URI = "\
    file://tcbot-lamp \
    file://tcbot-lamp.init \
    file://tcbot-lamp.service \
    file://tcbot-lamp.default \
    file://tcbot-lamp.sql \
    file://index.php \
"

S = "${WORKDIR}"

inherit allarch update-rc.d systemd

do_configure[noexec] = "1"
do_compile[noexec] = "1"

# php-fpm-apache2 hands *.php under this directory to PHP-FPM.
TCBOT_LAMP_HTDOCS = "${datadir}/apache2/htdocs/tcbot"

do_install() {
	for f in tcbot-lamp tcbot-lamp.init tcbot-lamp.service; do
		sed -e 's,@BINDIR@,${bindir},g' \
		    -e 's,@SBINDIR@,${sbindir},g' \
		    -e 's,@DATADIR@,${datadir},g' \
		    -e 's,@SYSCONFDIR@,${sysconfdir},g' \
		    -e 's,@LOCALSTATEDIR@,${localstatedir},g' \
		    ${S}/$f > ${B}/$f.out
	done
	install -D -m 0755 ${B}/tcbot-lamp.out ${D}${sbindir}/tcbot-lamp
	install -D -m 0644 ${S}/tcbot-lamp.default ${D}${sysconfdir}/default/tcbot-lamp
	install -D -m 0644 ${S}/tcbot-lamp.sql ${D}${datadir}/tcbot-lamp/tcbot-lamp.sql
	install -D -m 0644 ${S}/index.php ${D}${TCBOT_LAMP_HTDOCS}/index.php
	if ${@bb.utils.contains('DISTRO_FEATURES', 'sysvinit', 'true', 'false', d)}; then
		install -D -m 0755 ${B}/tcbot-lamp.init.out ${D}${sysconfdir}/init.d/tcbot-lamp
	fi
	if ${@bb.utils.contains('DISTRO_FEATURES', 'systemd', 'true', 'false', d)}; then
		install -D -m 0644 ${B}/tcbot-lamp.service.out ${D}${systemd_system_unitdir}/tcbot-lamp.service
	fi
}

# After MariaDB (S45 in runlevel 5 only), PHP-FPM (S60) and Apache (S91).
INITSCRIPT_NAME = "tcbot-lamp"
INITSCRIPT_PARAMS = "start 99 5 ."

SYSTEMD_SERVICE:${PN} = "tcbot-lamp.service"

CONFFILES:${PN} = "${sysconfdir}/default/tcbot-lamp"
FILES:${PN} += "${TCBOT_LAMP_HTDOCS} ${datadir}/tcbot-lamp"

RDEPENDS:${PN} = "\
    apache2 \
    php-fpm \
    php-fpm-apache2 \
    mariadb-server \
    mariadb-client \
    tcbot-loadgen \
"
