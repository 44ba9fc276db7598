/*
 * tcbot-timer: runs one benchmark inside a LAVA job the way tcbot's other
 * executors run it, and measures it. tcbot cross-compiles this file
 * (static) for the guest's arch and puts it in the job's initramfs as
 * /tcbot/timer.
 *
 *   timer TIMEOUT DIR OUT ERR [NAME=VALUE...] -- ARGV...
 *
 * Runs ARGV in DIR with exactly the NAME=VALUE environment (nothing
 * inherited), stdin from /dev/null, stdout to OUT and stderr to ERR; kills
 * it with SIGKILL after TIMEOUT seconds. Prints one line of shell
 * assignments:
 *
 *   status=0 signal=0 timedout=0 wall=1.234567890 cpu=1.230000000
 *
 * wall is CLOCK_MONOTONIC around fork and wait, cpu the user+system time
 * of the benchmark (wait4's rusage). A failure of the timer itself exits
 * non-zero with a message on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long ns(struct timespec t) { return (long long)t.tv_sec * 1000000000LL + t.tv_nsec; }

static void redirect(const char *path, int fd, int flags)
{
	int f = open(path, flags, 0644);
	if (f < 0 || dup2(f, fd) < 0) {
		dprintf(2, "timer: %s: %s\n", path, strerror(errno));
		_exit(126);
	}
	close(f);
}

int main(int argc, char **argv)
{
	if (argc < 7) {
		fprintf(stderr, "usage: timer TIMEOUT DIR OUT ERR [NAME=VALUE...] -- ARGV...\n");
		return 2;
	}
	long limit = strtol(argv[1], NULL, 10);
	const char *dir = argv[2], *out = argv[3], *err = argv[4];
	int sep = 5;
	while (sep < argc && strcmp(argv[sep], "--") != 0)
		sep++;
	if (sep >= argc - 1) {
		fprintf(stderr, "timer: no -- ARGV\n");
		return 2;
	}
	char **env = calloc(sep - 5 + 1, sizeof(char *));
	for (int i = 5; i < sep; i++)
		env[i - 5] = argv[i];
	char **args = argv + sep + 1;

	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = fork();
	if (pid < 0) {
		perror("timer: fork");
		return 1;
	}
	if (pid == 0) {
		sigprocmask(SIG_UNBLOCK, &chld, NULL);
		redirect("/dev/null", 0, O_RDONLY);
		redirect(out, 1, O_WRONLY | O_CREAT | O_TRUNC);
		redirect(err, 2, O_WRONLY | O_CREAT | O_TRUNC);
		if (chdir(dir) != 0) {
			dprintf(2, "timer: cd %s: %s\n", dir, strerror(errno));
			_exit(126);
		}
		execve(args[0], args, env);
		dprintf(2, "timer: %s: %s\n", args[0], strerror(errno));
		_exit(127);
	}
	int timedout = 0;
	struct timespec wait = {limit > 0 ? limit : 0, 0};
	for (;;) {
		int s = limit > 0 ? sigtimedwait(&chld, NULL, &wait) : sigwaitinfo(&chld, NULL);
		if (s == SIGCHLD)
			break;
		if (s < 0 && errno == EAGAIN) {
			timedout = 1;
			kill(pid, SIGKILL);
			break;
		}
		if (s < 0 && errno != EINTR) {
			perror("timer: wait");
			kill(pid, SIGKILL);
			break;
		}
	}
	int st;
	struct rusage ru;
	while (wait4(pid, &st, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("timer: wait4");
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long long wall = ns(t1) - ns(t0);
	long long cpu = (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
			(long long)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
	printf("status=%d signal=%d timedout=%d wall=%lld.%09lld cpu=%lld.%09lld\n",
	       WIFEXITED(st) ? WEXITSTATUS(st) : 0, WIFSIGNALED(st) ? WTERMSIG(st) : 0, timedout,
	       wall / 1000000000LL, wall % 1000000000LL, cpu / 1000000000LL, cpu % 1000000000LL);
	return 0;
}
