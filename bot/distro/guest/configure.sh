#!/bin/sh
# Configures Apache for PHP-FPM; run once in the image, on the host
# (chroot with qemu-user in binfmt_misc) or at the first boot.
set -e
a2enmod -q proxy_fcgi setenvif
a2enconf -q php8.2-fpm
echo 'ServerName tcbot' >/etc/apache2/conf-available/tcbot.conf
a2enconf -q tcbot
# No daemon starts on its own: tcbot-lamp-start starts them.
rm -f /etc/rc?.d/S* 2>/dev/null || true
