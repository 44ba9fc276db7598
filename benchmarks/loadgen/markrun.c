//go:build ignore

// (The line above only keeps the Go tool from treating this C file as part of
// package loadgen_test; it is built with a C compiler.)

/*
 * markrun - run one program between two marks, for tcbot's distribution
 * scenario (a toolchain's benchmarks run inside a booted Debian system).
 *
 *   markrun PROGRAM [ARG...]
 *
 * Executes the mark instruction (the one of loadgen -M: hint #126 on
 * aarch64, in ARM and in Thumb-2 state), forks, runs PROGRAM with ARGs and
 * markrun's own environment in the child, waits for it, executes the mark
 * again, and prints one line to stdout after everything PROGRAM printed:
 *
 *   tcbot-markrun: exit N      PROGRAM exited with status N
 *   tcbot-markrun: signal N    PROGRAM was killed by signal N
 *
 * then exits as PROGRAM did (N, or 128+N after a signal), so a caller that
 * does not read the line still sees how it ended. Under qemu-system with
 * tcbot's instruction-counting plugin (benchmarks/plugin/insncount.c,
 * marks=PATH) the plugin records the whole system's instruction count at
 * each mark: their difference is what the system executed for the run (the
 * fork, the exec, PROGRAM, its exit and the wait, and whatever else ran
 * meanwhile: the kernel's timer ticks and threads). Built for a target
 * without a mark instruction (the host, for tests) it marks nothing.
 *
 * The child dies with markrun (PR_SET_PDEATHSIG): a markrun killed at a
 * timeout leaves nothing running into the next measurement. A PROGRAM
 * that cannot be executed exits 127 (a message on stderr); markrun's own
 * failures (usage, fork, wait) exit 125 without the line.
 *
 * C11 + POSIX + Linux's prctl, no other dependency: it links statically.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__aarch64__)
#define MARK_INSN ".inst 0xd5032fdf"      /* hint #126 */
#elif defined(__arm__) && defined(__thumb2__)
#define MARK_INSN ".inst.w 0xf3af807e"    /* nop.w hint #126, T32 */
#elif defined(__arm__) && !defined(__thumb__)
#define MARK_INSN ".inst 0xe320f07e"      /* hint #126, A32 */
#endif

static void mark(void)
{
#ifdef MARK_INSN
	__asm__ volatile(MARK_INSN ::: "memory");
#endif
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: markrun PROGRAM [ARG...]\n");
		return 125;
	}
	pid_t parent = getpid();
	fflush(NULL);
	mark();
	pid_t pid = fork();
	if (pid < 0) {
		mark();
		fprintf(stderr, "markrun: fork: %s\n", strerror(errno));
		return 125;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(125); /* markrun died before the prctl */
		execv(argv[1], argv + 1);
		fprintf(stderr, "markrun: exec %s: %s\n", argv[1], strerror(errno));
		_exit(127);
	}
	int status;
	pid_t got;
	do
		got = waitpid(pid, &status, 0);
	while (got < 0 && errno == EINTR);
	mark();
	if (got < 0) {
		fprintf(stderr, "markrun: wait: %s\n", strerror(errno));
		return 125;
	}
	if (WIFSIGNALED(status)) {
		printf("tcbot-markrun: signal %d\n", WTERMSIG(status));
		fflush(stdout);
		return 128 + WTERMSIG(status);
	}
	printf("tcbot-markrun: exit %d\n", WEXITSTATUS(status));
	fflush(stdout);
	return WEXITSTATUS(status);
}
