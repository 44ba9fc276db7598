SUMMARY = "tcbot's HTTP load generator"
DESCRIPTION = "A small HTTP/1.1 keep-alive load generator (C11, POSIX \
sockets, poll): N connections for D seconds or N requests against one URL, \
then requests, errors, seconds, requests-per-second and latency percentiles. \
The client of tcbot's LAMP benchmark; tcbot-loadgen-native runs it from the \
build host."
HOMEPAGE = "https://github.com/tcbot/tcbot"
# tcbot's repository carries no licence file yet: replace with its licence
# and LIC_FILES_CHKSUM when it does.
LICENSE = "CLOSED"

# benchmarks/loadgen/loadgen.c in tcbot's repository (conf/layer.conf).
FILESEXTRAPATHS:prepend := "${TCBOT_BENCHMARKS_DIR}/loadgen:"
SRC_URI = "file://loadgen.c"

S = "${WORKDIR}"

do_configure[noexec] = "1"

do_compile() {
	${CC} ${CFLAGS} -std=c11 ${LDFLAGS} -o ${B}/tcbot-loadgen ${S}/loadgen.c
}

do_install() {
	install -D -m 0755 ${B}/tcbot-loadgen ${D}${bindir}/tcbot-loadgen
}

BBCLASSEXTEND = "native nativesdk"
