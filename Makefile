# tcbot — see README.md.
GO      ?= go
BIN     := bin/tcbot
PLUGIN  := build/insncount.so
CC      ?= cc

.PHONY: all deps test-deps build build-plugin test test-real bench bench-real demo demo-gcc vet clean

all: build

## deps: install the Debian packages tcbot needs (only the missing ones)
deps:
	./deploy/install-deps.sh

## test-deps: also what the tests need: kas (its schema checks the
## OpenEmbedded files), binutils-source and linux-source-6.1 (a real
## binutils and a real kernel are built and measured), openssh-server
## (the SSH tests start their own sshd)
## qemu-system-arm (the qemu-system tests boot Debian's Arm kernels) and
## postgresql (the store's conformance suite and the scale-out tests),
## chromium (the dashboard's browser test), mmdebstrap, genext2fs,
## arch-test, qemu-user-static and uidmap (the distribution scenario's
## Debian image is built from Debian's archive)
test-deps: deps
	./deploy/install-deps.sh kas openssh-server qemu-system-arm postgresql binutils-source \
		linux-source-6.1 flex bison bc libssl-dev libelf-dev chromium \
		mmdebstrap genext2fs arch-test qemu-user-static uidmap

## build: the tcbot binary and the QEMU instruction-counting plugin
build: $(BIN) $(PLUGIN)

$(BIN): FORCE
	$(GO) build -o $(BIN) ./cmd/tcbot

build-plugin: $(PLUGIN)

$(PLUGIN): benchmarks/plugin/insncount.c benchmarks/plugin/qemu-plugin-api.h
	@mkdir -p build
	$(CC) -O2 -shared -fPIC -fvisibility=hidden -Wall -Wextra -o $@ benchmarks/plugin/insncount.c

## test: the whole test suite, as CI runs it
test: test-deps build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 85m ./...

## test-real: the opt-in tests on real upstream sources (TCBOT_TEST_REAL=1):
## GCC from gcc-12-source end to end, as overlay and as a whole compiler
## (use: full), and glibc from glibc-source; cold builds take 20-50 minutes
## each per arch on 2 cores, the build trees are kept under ~/.cache/tcbot-test.
## The distribution scenario on armv7 too (TestDistroLAMP builds the
## armhf image and kernel), its image configured in the guest (the way
## without root), and glibc built from glibc-source swapped into it
## (TestDistroLAMPWithGlibc).
## TCBOT_TEST_REAL_COLD=1 adds the cold-build checks (an incremental cc1
## byte-identical to a cold one; a cold build's cost against plain make).
test-real: test-deps build
	./deploy/install-deps.sh binutils-source gcc-12-source glibc-source linux-source-6.1 libgmp-dev libmpfr-dev libmpc-dev flex bison bc libssl-dev libelf-dev mmdebstrap genext2fs arch-test qemu-user-static uidmap
	TCBOT_TEST_REAL=1 $(GO) test -count=1 -v -timeout 6h -run 'Real|FromSource|Distro' ./bot/toolchain/build/ ./bot/measure/

## bench-real: bisection of a 32-commit GCC range (gcc-12-source) with one
## back-end regression, warm build tree: time and number of cc1 builds
## (a cold tree first costs a 20-minute build on 2 cores).
bench-real: test-deps build
	./deploy/install-deps.sh gcc-12-source libgmp-dev libmpfr-dev libmpc-dev flex bison
	TCBOT_TEST_REAL=1 $(GO) test -run '^$$' -bench BisectGCC -benchtime 1x -timeout 3h -v ./bot/toolchain/build/

## bench: speed of tcbot itself (cold run, warm rerun, overhead, webhook
## ingestion on SQLite and PostgreSQL, queue jobs/s with 1, 2, 4 workers,
## what per-function attribution costs the QEMU plugin: overhead-%;
## the distribution scenario: the Debian image fresh and cached, the boot
## to a ready web server, the spread of instructions per request over 5
## boots of one kernel)
bench: build
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 90m ./bot/measure/ ./bot/service/
	$(GO) test -run '^$$' -bench . -timeout 10m ./bot/webhook/
	$(GO) test -run '^$$' -bench AttributionOverhead -benchtime 1x -v ./bot/profile/
	$(GO) test -run '^$$' -bench QueueThroughput -benchtime 1x -timeout 20m ./cmd/tcbot/

## demo: install what is missing, build, and run the end-to-end demo
demo: deps build
	./$(BIN) demo

## demo-gcc: the GCC demo (tcbot demo --gcc): cc1 built from a GCC
## repository made of Debian's gcc-12-source, a documentation commit and
## a disabled pass measured on both arches
demo-gcc: deps build
	./deploy/install-deps.sh gcc-12-source libgmp-dev libmpfr-dev libmpc-dev
	./$(BIN) demo --gcc

clean:
	rm -rf bin build

FORCE:
