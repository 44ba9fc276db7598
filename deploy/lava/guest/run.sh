#!/bin/sh
# /tcbot/run INDEX BENCHMARK TIMEOUT DIR [NAME=VALUE...] -- ARGV...
#
# One benchmark run inside a LAVA job, one step of the job's inline test
# definition. /tcbot/timer runs ARGV in DIR with exactly the given
# environment, kills it after TIMEOUT seconds and measures it; this script
# reports the run as LAVA test cases in test set "run-INDEX":
#
#   BENCHMARK-status  pass|fail, measurement: the exit status
#   BENCHMARK-signal  only when a signal killed it, measurement: its number
#   BENCHMARK-time    wall time in seconds
#   BENCHMARK-cpu     user+system CPU time in seconds
#
# and prints the tail of its stdout and stderr, base64-encoded, between
# "tcbot-output INDEX" markers for tcbot to read back from the job log
# (the suite's checksum line, the reason for a failure).
i=$1
bench=$2
shift 2
out=/tmp/tcbot-$i.out
err=/tmp/tcbot-$i.err
limit=$1
dir=$2
shift 2
status=125 signal=0 timedout=0 wall=0 cpu=0
eval "$(/tcbot/timer "$limit" "$dir" "$out" "$err" "$@")"
echo "tcbot-output $i stdout $(tail -c 4096 "$out" 2>/dev/null | base64 -w 0)"
echo "tcbot-output $i stderr $(tail -c 2048 "$err" 2>/dev/null | base64 -w 0)"
rm -f "$out" "$err"
result=pass
[ "$status" = 0 ] && [ "$signal" = 0 ] && [ "$timedout" = 0 ] || result=fail
# The signals lava-test-set and lava-test-case would print, printed by the
# shell itself: under emulation each helper process costs ~80 ms, and a
# run reported through the helpers cost ~0.4 s. Same protocol: the
# dispatcher reads these lines from the console (or /dev/kmsg with KMSG).
signal() { if [ -z "${KMSG}" ]; then echo "$1"; else echo "<0>$1" > /dev/kmsg; fi; }
case_() { signal "<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=$1 RESULT=$2 UNITS=$4 MEASUREMENT=$3>"; }
signal "<LAVA_SIGNAL_TESTSET START run-$i>"
case_ "$bench-status" "$result" "$status" status
[ "$signal" = 0 ] || case_ "$bench-signal" fail "$signal" signal
case_ "$bench-time" "$result" "$wall" seconds
case_ "$bench-cpu" "$result" "$cpu" seconds
[ "$timedout" = 0 ] || case_ "$bench-timeout" fail "$limit" seconds
signal "<LAVA_SIGNAL_TESTSET STOP>"
