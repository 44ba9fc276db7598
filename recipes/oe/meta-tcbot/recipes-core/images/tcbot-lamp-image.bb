SUMMARY = "tcbot's LAMP image: Apache, PHP-FPM, MariaDB and tcbot's benchmarks"
DESCRIPTION = "Every binary in this image comes from the toolchain under test \
(gcc, binutils, glibc) or runs on the kernel under test. At boot tcbot-lamp \
creates a MariaDB table and measures a PHP page reading it through Apache \
with tcbot-loadgen; tcbot-bench-run runs tcbot's benchmark suite."
LICENSE = "MIT"

inherit core-image

IMAGE_INSTALL = "\
    packagegroup-core-boot \
    ${CORE_IMAGE_EXTRA_INSTALL} \
    apache2 \
    php-fpm \
    php-fpm-apache2 \
    php-cli \
    mariadb-server \
    mariadb-client \
    tcbot-bench \
    tcbot-loadgen \
    tcbot-lamp \
"

# A benchmark image, not a product: testimage and tcbot's executors log in
# as root over ssh without a password.
IMAGE_FEATURES += "ssh-server-dropbear empty-root-password allow-empty-password allow-root-login"

# The ptest packages of everything in the image (mariadb's, apache2's...),
# run by ptest-runner and by testimage's ptest suite. Off by default: it
# makes the build much longer.
# IMAGE_FEATURES += "ptest-pkgs"

# Room for MariaDB's data and logs.
IMAGE_ROOTFS_EXTRA_SPACE = "524288"

# MariaDB, PHP-FPM and Apache do not fit in runqemu's default 256 MiB.
QB_MEM = "-m 1024"

# bitbake -c testimage tcbot-lamp-image (IMAGE_CLASSES += "testimage" in
# recipes/oe/base.yml): tcbot_lamp waits for the boot-time LAMP benchmark
# and copies its result to ${TOPDIR}/tcbot-lamp.txt; ptest is skipped
# unless ptest-pkgs is on.
TEST_SUITES = "ping ssh ptest tcbot_lamp"
