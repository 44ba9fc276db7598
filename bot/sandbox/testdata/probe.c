/* A hostile program for tcbot's sandbox tests: it tries to reach what a
 * pull request's compiler or benchmark must never reach, and reports what
 * it got on one line of stderr ("PROBE key=value ..."), then exits 3.
 *
 * Built by the tests with -D definitions (each a string):
 *   CANARY   a secret value the test put in tcbot's environment and files
 *   PID      tcbot's (the test process's) pid
 *   READS    ':'-separated files that must not be readable
 *   WRITES   ':'-separated files that must not be writable (on the host)
 *   PORTS    ':'-separated loopback TCP ports that must not be reachable
 *   FORKS    how many processes to try to start (10000)
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char line[8192];

static void add(const char *key, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#include <stdarg.h>
static void add(const char *key, const char *fmt, ...) {
	size_t n = strlen(line);
	snprintf(line + n, sizeof line - n, " %s=", key);
	n = strlen(line);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - n, fmt, ap);
	va_end(ap);
}

/* leaks reports whether the file at path can be read and holds CANARY. */
static const char *readable(const char *path) {
	static char buf[1 << 16];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return errno == ENOENT ? "absent" : "denied";
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0)
		return "denied";
	buf[n] = 0;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == 0)
			buf[i] = '\n';
	return strstr(buf, CANARY) ? "LEAK" : "clean";
}

static void each(const char *list, void (*fn)(int, const char *)) {
	char *copy = strdup(list), *save = NULL;
	int i = 0;
	for (char *p = strtok_r(copy, ":", &save); p; p = strtok_r(NULL, ":", &save))
		fn(i++, p);
	free(copy);
}

static void read_one(int i, const char *path) {
	char key[32];
	snprintf(key, sizeof key, "read%d", i);
	add(key, "%s", readable(path));
}

static void write_one(int i, const char *path) {
	char key[32];
	snprintf(key, sizeof key, "write%d", i);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		add(key, "denied");
		return;
	}
	(void)!write(fd, "escaped\n", 8);
	close(fd);
	add(key, "done");
}

static void port_one(int i, const char *port) {
	char key[32];
	snprintf(key, sizeof key, "tcp%d", i);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0) {
		add(key, "nosocket");
		return;
	}
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(port))};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	add(key, connect(s, (struct sockaddr *)&a, sizeof a) == 0 ? "OPEN" : "refused");
	close(s);
}

int main(void) {
	strcpy(line, "PROBE");

	/* 1. tcbot's environment. */
	int vars = 0, leak = 0;
	for (char **e = environ; *e; e++) {
		vars++;
		if (strstr(*e, CANARY) || strncmp(*e, "TCBOT_", 6) == 0)
			leak = 1;
	}
	add("env", "%s", leak ? "LEAK" : "clean");
	add("vars", "%d", vars);

	/* 2. tcbot's /proc, and every /proc/N/environ visible. */
	char path[256];
	snprintf(path, sizeof path, "/proc/%s/environ", PID);
	add("tcbotproc", "%s", readable(path));
	snprintf(path, sizeof path, "/proc/%d/environ", (int)getppid());
	add("parentproc", "%s", readable(path));
	int procs = 0, procleak = 0;
	DIR *d = opendir("/proc");
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			if (de->d_name[0] < '0' || de->d_name[0] > '9')
				continue;
			procs++;
			snprintf(path, sizeof path, "/proc/%s/environ", de->d_name);
			if (strcmp(readable(path), "LEAK") == 0)
				procleak = 1;
		}
		closedir(d);
	}
	add("procs", "%d", procs);
	add("procenv", "%s", procleak ? "LEAK" : "clean");

	/* 3. Files: secrets, the database, ~/.ssh, another job's build. */
	each(READS, read_one);

	/* 4. The network: tcbot's listener and another loopback port. */
	each(PORTS, port_one);

	/* 5. Processes (in a process group of its own, so that stopping them
	 * spares the compiler driver that started the probe). */
	setpgid(0, 0);
	int want = atoi(FORKS), got = 0;
	for (; got < want; got++) {
		pid_t p = fork();
		if (p < 0)
			break;
		if (p == 0) {
			sleep(30);
			_exit(0);
		}
	}
	add("forks", "%d", got);
	signal(SIGTERM, SIG_IGN);
	kill(0, SIGTERM);
	while (wait(NULL) > 0 || errno == EINTR)
		;

	/* 6. Writing outside its directory. */
	each(WRITES, write_one);

	fprintf(stderr, "%s\n", line);
	printf("%s\n", line);
	return 3;
}
