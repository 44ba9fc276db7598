//go:build ignore

// (The constraint above only keeps the Go tool from treating this C file as
// part of the Go package; tcbot compiles it with the host's cc.)

/* tcbot's sandbox init: the last step before a sandboxed command starts,
 * inside bwrap. One static program instead of prlimit, setpriv and env:
 *
 *   init AS NPROC UID GID -- COMMAND [ARGS...]
 *
 * sets RLIMIT_AS and RLIMIT_NPROC (and no core files), drops to UID:GID
 * with no supplementary groups, no capabilities and no_new_privs when
 * UID is not -1, removes the PWD bwrap sets (the command gets exactly the
 * caller's environment) and executes COMMAND from the PATH. */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

static void die(const char *what) {
	fprintf(stderr, "tcbot sandbox: %s: %s\n", what, strerror(errno));
	_exit(127);
}

static void limit(int res, const char *v) {
	rlim_t n = strtoull(v, NULL, 10);
	struct rlimit r = {n, n};
	if (setrlimit(res, &r) != 0)
		die("setrlimit");
}

int main(int argc, char **argv) {
	if (argc < 7 || strcmp(argv[5], "--") != 0) {
		fprintf(stderr, "usage: %s AS NPROC UID GID -- COMMAND...\n", argv[0]);
		return 127;
	}
	limit(RLIMIT_AS, argv[1]);
	limit(RLIMIT_NPROC, argv[2]);
	limit(RLIMIT_CORE, "0");
	long uid = strtol(argv[3], NULL, 10), gid = strtol(argv[4], NULL, 10);
	if (uid >= 0) {
		for (int cap = 0; cap <= 63; cap++)
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
				die("drop capabilities");
		if (setgroups(0, NULL) != 0)
			die("setgroups");
		if (setresgid(gid, gid, gid) != 0)
			die("setgid");
		/* From uid 0 to another: the kernel clears every capability. */
		if (setresuid(uid, uid, uid) != 0)
			die("setuid");
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		die("no_new_privs");
	unsetenv("PWD");
	execvp(argv[6], argv + 6);
	fprintf(stderr, "tcbot sandbox: %s: %s\n", argv[6], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
