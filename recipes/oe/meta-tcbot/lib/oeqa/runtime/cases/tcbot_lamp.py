#
# tcbot_lamp: testimage case for tcbot-lamp-image (TEST_SUITES in the
# image recipe). tcbot-lamp measures the LAMP stack at boot; this case
# waits for it, checks the result, and copies it into the build directory
# as tcbot-lamp.txt, where tcbot reads it (bot/oe/lamp.go).
#

import os
import time

from oeqa.runtime.case import OERuntimeTestCase
from oeqa.core.decorator.depends import OETestDepends
from oeqa.runtime.decorator.package import OEHasPackage

RESULT = '/var/lib/tcbot/tcbot-lamp.txt'
FAILED = '/var/lib/tcbot/tcbot-lamp.failed'
KEYS = ['requests', 'errors', 'seconds', 'requests-per-second',
        'latency-p50-ms', 'latency-p99-ms']


class TcbotLampTest(OERuntimeTestCase):

    @OETestDepends(['ssh.SSHTest.test_ssh'])
    @OEHasPackage(['tcbot-lamp'])
    def test_tcbot_lamp(self):
        # MariaDB's first start, then 5 s of warm-up and 30 s of load:
        # minutes under QEMU without KVM.
        limit = int(self.td.get('TCBOT_LAMP_TEST_TIMEOUT') or 1800)
        deadline = time.time() + limit
        while True:
            status, _ = self.target.run('test -s %s' % RESULT)
            if status == 0:
                break
            status, why = self.target.run('cat %s' % FAILED)
            if status == 0:
                _, log = self.target.run('tail -n 30 /var/log/tcbot-lamp.log')
                self.fail('tcbot-lamp failed in the image: %s\n%s' % (why, log))
            if time.time() > deadline:
                _, log = self.target.run('tail -n 30 /var/log/tcbot-lamp.log')
                self.fail('no %s after %d s\n%s' % (RESULT, limit, log))
            time.sleep(10)

        status, output = self.target.run('cat %s' % RESULT)
        self.assertEqual(status, 0, msg=output)
        values = {}
        for line in output.splitlines():
            key, sep, value = line.partition(':')
            self.assertTrue(sep, msg='not "key: value": %r' % line)
            values[key.strip()] = float(value)
        self.assertEqual(sorted(values), sorted(KEYS), msg=output)
        self.assertGreater(values['requests'], 0, msg=output)
        self.assertEqual(values['errors'], 0, msg=output)

        dst = os.path.join(self.td['TOPDIR'], 'tcbot-lamp.txt')
        self.target.copyFrom(RESULT, dst)
        self.logger.info('tcbot-lamp: %s' % ' '.join(output.split()))
