SUMMARY = "tcbot's benchmark suite, built with the image's own toolchain"
DESCRIPTION = "The self-checking C benchmarks of tcbot (benchmarks/ in tcbot's \
repository), each built from its sources with the image's cross compiler and \
flags, and tcbot-bench-run, which runs them with the arguments of the \
manifest (suite.yaml) and checks each checksum."
HOMEPAGE = "https://github.com/tcbot/tcbot"
# tcbot's repository carries no licence file yet: replace with its licence
# and LIC_FILES_CHKSUM when it does.
LICENSE = "CLOSED"

# The suite lives outside the layer (conf/layer.conf: TCBOT_BENCHMARKS_DIR).
# Plain file:// sources, found through FILESEXTRAPATHS, rather than
# externalsrc: the files are checksummed into the task signatures (an edited
# benchmark rebuilds, an unchanged one comes from sstate), the recipe behaves
# like any other (devtool, sstate, rm_work), and FILESEXTRAPATHS is not part
# of any signature, so sstate does not depend on where the checkout is.
# Every source of suite.yaml must be listed here: layercheck's tests fail
# when one is missing, and so does do_compile.
FILESEXTRAPATHS:prepend := "${TCBOT_BENCHMARKS_DIR}:"

SRC_URI = "\
           file://suite.yaml \
           file://bench.h \
           file://btree.c \
           file://crc32.c \
           file://fft.c \
           file://format.c \
           file://hashtable.c \
           file://http_parse.c \
           file://intdiv.c \
           file://interp.c \
           file://json_tokenize.c \
           file://lz77.c \
           file://matmul.c \
           file://regex.c \
           file://sha256.c \
           file://sort.c \
           file://string_ops.c \
           file://url_decode.c \
           file://suite2list.py \
           file://tcbot-bench-build.sh \
           file://tcbot-bench-run \
"

S = "${WORKDIR}"
B = "${WORKDIR}/build"

inherit python3native

do_configure[noexec] = "1"

# suite.yaml -> suite.list (name, checksum, sources, arguments, ldflags), then
# each benchmark as the suite builds it: $CC $CFLAGS -o name sources -lm,
# with OE's LDFLAGS (GNU hash, as-needed, relro). Linked dynamically against
# the image's glibc, so a glibc change is measured too.
do_compile() {
	${PYTHON} ${S}/suite2list.py ${S}/suite.yaml > ${B}/suite.list
	sh ${S}/tcbot-bench-build.sh ${B}/suite.list ${S} ${B}/bin
}

do_install() {
	install -d ${D}${bindir}/tcbot-bench ${D}${datadir}/tcbot-bench
	cut -d"|" -f1 ${B}/suite.list | while read -r name; do
		install -m 0755 ${B}/bin/$name ${D}${bindir}/tcbot-bench/$name
	done
	install -m 0644 ${B}/suite.list ${D}${datadir}/tcbot-bench/suite.list
	sed -e 's,@BENCHDIR@,${bindir}/tcbot-bench,g' \
	    -e 's,@SUITE@,${datadir}/tcbot-bench/suite.list,g' \
	    ${S}/tcbot-bench-run > ${D}${bindir}/tcbot-bench-run
	chmod 0755 ${D}${bindir}/tcbot-bench-run
}

FILES:${PN} += "${bindir}/tcbot-bench ${datadir}/tcbot-bench"
