#!/bin/sh
# tcbot-bench-build.sh SUITE.LIST SRCDIR OUTDIR
#
# Builds each benchmark listed in SUITE.LIST (from suite2list.py) the way
# tcbot's suite is built, in SRCDIR (for bench.h), into OUTDIR:
#   $CC $CFLAGS $LDFLAGS -o OUTDIR/<name> <sources> -lm <ldflags>
# CC, CFLAGS and LDFLAGS come from the environment (BitBake exports the
# target's). Stops at the first failure.
set -eu
if [ $# -ne 3 ]; then
	echo "usage: tcbot-bench-build.sh SUITE.LIST SRCDIR OUTDIR" >&2
	exit 2
fi
list_file=$1
src=$2
out=$3
: "${CC:?CC is not set}"
CFLAGS=${CFLAGS:-}
LDFLAGS=${LDFLAGS:-}
mkdir -p "$out"
out=$(cd "$out" && pwd)
n=0
while IFS="|" read -r name checksum sources args ldflags; do
	[ -n "$name" ] || continue
	echo "tcbot-bench: $name: $CC $CFLAGS $LDFLAGS -o $out/$name $sources -lm $ldflags"
	# Word splitting of the flags and lists is intended (suite2list.py
	# allows no blanks or shell characters inside an entry).
	(cd "$src" && $CC $CFLAGS $LDFLAGS -o "$out/$name" $sources -lm $ldflags)
	n=$((n + 1))
done < "$list_file"
if [ "$n" -eq 0 ]; then
	echo "tcbot-bench: $list_file lists no benchmark" >&2
	exit 1
fi
echo "tcbot-bench: built $n benchmarks"
