//go:build ignore

// (The line above only keeps the Go tool from treating this C file as part of
// package loadgen_test; it is built with a C compiler.)

/*
 * loadgen - a small HTTP/1.1 load generator for tcbot's LAMP benchmark.
 *
 *   loadgen [-c connections] [-d seconds] [-n requests] [-t timeout]
 *           [-e text] [-w requests] [-M] http://host[:port]/path
 *
 * Opens `connections` keep-alive connections and, on each, sends GET
 * requests for the path one after another (no pipelining) until `seconds`
 * have passed (default 10) or `requests` requests have been started
 * (whichever comes first; -n alone runs without a time limit). Requests
 * already under way when the time is up are finished, so the server has
 * seen exactly the requests counted here. A reply counts as an error unless
 * its status is 200 and, with -e, its body contains `text`; a connection
 * that fails, or a reply that is late by more than `timeout` seconds
 * (default 10) or malformed, is an error too.
 *
 * -w N first sends N warm-up requests the same way, on the same
 * connections (kept alive into the measurement), and waits for all of
 * them; they are neither counted nor timed, and -d's time starts after
 * them. Warm-up errors are only summarised on stderr.
 *
 * -M executes a "mark" instruction, a no-op that QEMU's instruction-count
 * plugin (benchmarks/plugin/insncount.c, marks=PATH) records with the
 * guest's instruction count so far, right before the first counted request
 * is started and right after the last counted reply has been received (or
 * the last counted request has failed); the difference of the two counts
 * is the work of the whole guest system for the counted requests. The
 * mark is hint #126 (0xD5032FDF) on aarch64, hint #126 (0xE320F07E) in
 * ARM state, and nop.w hint #126 (0xF3AF 0x807E) in Thumb-2 state; -M is a
 * usage error in a loadgen built for any other target.
 *
 * At the end it prints exactly these lines to stdout (tcbot's parser,
 * bot/oe/lamp.go, relies on them):
 *
 *   requests: N               requests completed (including errors)
 *   errors: N                 of those, how many failed
 *   seconds: F                wall time from the first request to the last reply
 *   requests-per-second: F    (requests - errors) / seconds
 *   latency-p50-ms: F         median latency of the replies received
 *   latency-p99-ms: F         99th percentile (nearest rank)
 *
 * and, only with -M, one more line after them:
 *
 *   marked: N                 requests between the two marks (all counted
 *                             requests, so equal to requests: N)
 *
 * Exit status: 0 after a measurement (errors are reported, not fatal);
 * 1 if the server cannot be reached at all (nothing answered before the
 * first connection failed) or nothing completed; 2 for a usage error.
 * Messages go to stderr. http:// only; C11 + POSIX, no other dependency,
 * so it links statically for any target.
 */

#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 4096
#define MAX_HEADER 65536            /* bytes of status line + headers */
#define MAX_KEPT_BODY (8u << 20)    /* bytes of body kept for the -e check */

/* The mark instruction of -M for this target, if it has one. */
#if defined(__aarch64__)
#define MARK_INSN ".inst 0xd5032fdf"      /* hint #126 */
#elif defined(__arm__) && defined(__thumb2__)
#define MARK_INSN ".inst.w 0xf3af807e"    /* nop.w hint #126, T32 */
#elif defined(__arm__) && !defined(__thumb__)
#define MARK_INSN ".inst 0xe320f07e"      /* hint #126, A32 */
#endif

enum cstate { C_IDLE, C_CONNECTING, C_SENDING, C_READING };
enum bstate { B_HEADERS, B_LENGTH, B_CHUNK_SIZE, B_CHUNK_DATA, B_CHUNK_CRLF, B_TRAILER, B_UNTIL_CLOSE, B_DONE };

struct conn {
	int fd;
	enum cstate st;
	int reused;           /* at least one reply already came on this fd */
	int retried;          /* current request was retried on a new connection */
	int got_bytes;        /* bytes of the current reply arrived */
	size_t sent;
	double t_start;
	/* reply */
	char *buf;
	size_t len, cap, pos;
	enum bstate bs;
	int status;
	int close_after;
	unsigned long long left;      /* body or chunk bytes still to come */
	char *body;                   /* kept body for -e */
	size_t blen, bcap;
	int body_overflow;
};

static struct {
	const char *host;             /* as given, for Host: and messages */
	char hostport[300];
	const char *path;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char *request;
	size_t reqlen;
	const char *expect;
	double timeout;
} cfg;

/* Counts of the current phase (warm-up, then measurement). */
static struct {
	long long started, completed, errors;
	double *lat;
	size_t nlat, caplat;
	double first_start, last_end;
	int have_first;
	char first_error[512];
} stats;

/* Some reply has arrived, in the warm-up or the measurement. */
static int answered;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(int code, const char *fmt, ...)
{
	va_list ap;
	fputs("loadgen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static void usage(void)
{
	fputs("usage: loadgen [-c connections] [-d seconds] [-n requests] [-t timeout] [-e text] [-w requests] [-M] http://host[:port]/path\n", stderr);
	exit(2);
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	if (q == NULL)
		die(1, "out of memory");
	return q;
}

static double parse_positive(const char *opt, const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v > 0) || v > 1e9)
		die(2, "%s %s: want a positive number", opt, s);
	return v;
}

static long long parse_count(const char *opt, const char *s, long long max)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 1 || v > max)
		die(2, "%s %s: want a whole number from 1 to %lld", opt, s, max);
	return v;
}

/* parse_url splits http://host[:port]/path and resolves host. */
static void parse_url(const char *url)
{
	static char host[256];
	const char *p, *h, *hend, *port = "80";
	static char portbuf[8];

	if (strncasecmp(url, "http://", 7) != 0)
		die(2, "%s: only http:// URLs are supported", url);
	h = url + 7;
	if (*h == '[') {
		hend = strchr(h, ']');
		if (hend == NULL)
			die(2, "%s: unterminated [IPv6 address]", url);
		p = hend + 1;
		h++;
	} else {
		p = h + strcspn(h, ":/?#");
		hend = p;
	}
	if (hend == h || (size_t)(hend - h) >= sizeof host)
		die(2, "%s: bad host", url);
	memcpy(host, h, (size_t)(hend - h));
	host[hend - h] = '\0';
	if (*p == ':') {
		const char *ps = p + 1;
		size_t n = strspn(ps, "0123456789");
		if (n == 0 || n > 5)
			die(2, "%s: bad port", url);
		memcpy(portbuf, ps, n);
		portbuf[n] = '\0';
		long v = strtol(portbuf, NULL, 10);
		if (v < 1 || v > 65535)
			die(2, "%s: bad port", url);
		port = portbuf;
		p = ps + n;
	}
	if (*p == '#' || (*p != '\0' && *p != '/' && *p != '?'))
		die(2, "%s: bad URL after the host", url);
	cfg.path = *p == '\0' ? "/" : p;
	if (strpbrk(cfg.path, " \r\n#") != NULL)
		die(2, "%s: the path must not contain spaces, line breaks or a fragment", url);
	cfg.host = host;
	if (strchr(host, ':') != NULL)
		snprintf(cfg.hostport, sizeof cfg.hostport, "[%s]%s%s", host, strcmp(port, "80") ? ":" : "", strcmp(port, "80") ? port : "");
	else
		snprintf(cfg.hostport, sizeof cfg.hostport, "%s%s%s", host, strcmp(port, "80") ? ":" : "", strcmp(port, "80") ? port : "");

	/* Numeric addresses need no resolver (and no NSS in a static binary). */
	struct sockaddr_in *in4 = (struct sockaddr_in *)&cfg.addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&cfg.addr;
	memset(&cfg.addr, 0, sizeof cfg.addr);
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((unsigned short)atoi(port));
		cfg.addrlen = sizeof *in4;
		return;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((unsigned short)atoi(port));
		cfg.addrlen = sizeof *in6;
		return;
	}
	struct addrinfo hints, *res;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0)
		die(1, "resolve %s: %s", host, gai_strerror(rc));
	memcpy(&cfg.addr, res->ai_addr, res->ai_addrlen);
	cfg.addrlen = res->ai_addrlen;
	freeaddrinfo(res);
}

static void note_error(const char *fmt, ...)
{
	if (stats.first_error[0] != '\0')
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(stats.first_error, sizeof stats.first_error, fmt, ap);
	va_end(ap);
}

static void close_conn(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->reused = 0;
	c->st = C_IDLE;
}

static void reset_reply(struct conn *c)
{
	c->len = c->pos = 0;
	c->bs = B_HEADERS;
	c->status = 0;
	c->close_after = 0;
	c->left = 0;
	c->blen = 0;
	c->body_overflow = 0;
	c->got_bytes = 0;
	c->sent = 0;
}

/* open_conn starts a non-blocking connect; returns 0, or -1 with errno. */
static int open_conn(struct conn *c)
{
	int fd = socket(cfg.addr.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	int fl = fcntl(fd, F_GETFL, 0);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->fd = fd;
	c->reused = 0;
	if (connect(fd, (struct sockaddr *)&cfg.addr, cfg.addrlen) == 0) {
		c->st = C_SENDING;
		return 0;
	}
	if (errno == EINPROGRESS) {
		c->st = C_CONNECTING;
		return 0;
	}
	int e = errno;
	close(fd);
	c->fd = -1;
	errno = e;
	return -1;
}

static void fatal_unreachable(int err)
{
	die(1, "connect %s (%s): %s", cfg.hostport, cfg.host, strerror(err));
}

static void record_latency(double d)
{
	if (stats.nlat == stats.caplat) {
		stats.caplat = stats.caplat ? stats.caplat * 2 : 4096;
		stats.lat = xrealloc(stats.lat, stats.caplat * sizeof *stats.lat);
	}
	stats.lat[stats.nlat++] = d;
}

/* finish_request ends the current request of c; ok is 1 for a good reply. */
static void finish_request(struct conn *c, int replied, int ok, const char *why)
{
	double t = now();
	stats.completed++;
	if (replied) {
		answered = 1;
		record_latency(t - c->t_start);
	}
	if (!ok) {
		stats.errors++;
		note_error("%s", why);
	}
	stats.last_end = t;
	if (!replied || c->close_after || c->bs != B_DONE)
		close_conn(c);
	else {
		c->reused = 1;
		c->st = C_IDLE;
	}
}

/*
 * fail handles a broken connection. A reused keep-alive connection that the
 * server closed before any byte of the reply arrived is retried once on a
 * new connection, as HTTP clients do (the server saw no request); before any
 * reply at all, a connect failure means the server is unreachable.
 */
static void fail(struct conn *c, int connecting, int err, const char *what)
{
	if (connecting && !answered)
		fatal_unreachable(err);
	if (!connecting && c->reused && !c->got_bytes && !c->retried) {
		close_conn(c);
		c->retried = 1;
		reset_reply(c);
		if (open_conn(c) == 0)
			return;
		err = errno;
		connecting = 1;
	}
	char msg[512];
	snprintf(msg, sizeof msg, "%s %s: %s", what, cfg.hostport, err ? strerror(err) : "connection closed");
	finish_request(c, 0, 0, msg);
}

static void start_request(struct conn *c)
{
	reset_reply(c);
	c->retried = 0;
	c->t_start = now();
	if (!stats.have_first) {
		stats.first_start = c->t_start;
		stats.have_first = 1;
	}
	stats.started++;
	if (c->fd >= 0) {
		c->st = C_SENDING;
		return;
	}
	if (open_conn(c) != 0)
		fail(c, 1, errno, "connect");
}

static void keep_body(struct conn *c, const char *p, size_t n)
{
	if (cfg.expect == NULL || n == 0)
		return;
	if (c->blen + n > MAX_KEPT_BODY) {
		c->body_overflow = 1;
		return;
	}
	if (c->blen + n > c->bcap) {
		size_t nc = c->bcap ? c->bcap : 4096;
		while (nc < c->blen + n)
			nc *= 2;
		c->body = xrealloc(c->body, nc);
		c->bcap = nc;
	}
	memcpy(c->body + c->blen, p, n);
	c->blen += n;
}

static int body_has_expect(const struct conn *c)
{
	if (cfg.expect == NULL)
		return 1;
	size_t n = strlen(cfg.expect);
	if (c->body_overflow || n > c->blen)
		return 0;
	for (size_t i = 0; i + n <= c->blen; i++)
		if (memcmp(c->body + i, cfg.expect, n) == 0)
			return 1;
	return 0;
}

/* find_crlf returns the offset of "\r\n" at or after from, or -1. */
static long find_crlf(const struct conn *c, size_t from)
{
	for (size_t i = from; i + 1 < c->len; i++)
		if (c->buf[i] == '\r' && c->buf[i + 1] == '\n')
			return (long)i;
	return -1;
}

static int header_is(const char *line, size_t n, const char *name, const char **val)
{
	size_t k = strlen(name);
	if (n < k + 1 || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return 0;
	const char *v = line + k + 1;
	while (v < line + n && (*v == ' ' || *v == '\t'))
		v++;
	*val = v;
	return 1;
}

static int token_in(const char *v, size_t n, const char *tok)
{
	size_t k = strlen(tok);
	for (size_t i = 0; i + k <= n; i++) {
		if (strncasecmp(v + i, tok, k) == 0 &&
		    (i == 0 || v[i - 1] == ',' || v[i - 1] == ' ' || v[i - 1] == '\t') &&
		    (i + k == n || v[i + k] == ',' || v[i + k] == ' ' || v[i + k] == '\t' || v[i + k] == '\r'))
			return 1;
	}
	return 0;
}

/*
 * parse advances the reply parser over c->buf. Returns 1 when the reply is
 * complete, 0 when more bytes are needed, -1 (with *why) when malformed.
 */
static int parse(struct conn *c, const char **why)
{
	for (;;) {
		switch (c->bs) {
		case B_HEADERS: {
			const char *end = NULL;
			for (size_t i = 3; i < c->len; i++)
				if (memcmp(c->buf + i - 3, "\r\n\r\n", 4) == 0) {
					end = c->buf + i + 1;
					break;
				}
			if (end == NULL) {
				if (c->len > MAX_HEADER) {
					*why = "reply headers too long";
					return -1;
				}
				return 0;
			}
			if (c->len < 12 || memcmp(c->buf, "HTTP/1.", 7) != 0 || c->buf[8] != ' ') {
				*why = "reply is not HTTP/1.x";
				return -1;
			}
			int st = 0;
			for (int i = 9; i < 12; i++) {
				if (c->buf[i] < '0' || c->buf[i] > '9') {
					*why = "bad status code";
					return -1;
				}
				st = st * 10 + (c->buf[i] - '0');
			}
			c->status = st;
			int http10 = c->buf[7] == '0';
			int chunked = 0, have_len = 0, keep_alive = 0;
			unsigned long long clen = 0;
			size_t off = (size_t)find_crlf(c, 0) + 2;
			size_t hend = (size_t)(end - c->buf);
			while (off + 2 < hend) {
				long e = find_crlf(c, off);
				const char *line = c->buf + off, *v;
				size_t n = (size_t)e - off;
				if (header_is(line, n, "Content-Length", &v)) {
					char *q;
					errno = 0;
					clen = strtoull(v, &q, 10);
					if (errno != 0 || q == v) {
						*why = "bad Content-Length";
						return -1;
					}
					have_len = 1;
				} else if (header_is(line, n, "Transfer-Encoding", &v)) {
					chunked = token_in(v, (size_t)(line + n - v), "chunked");
				} else if (header_is(line, n, "Connection", &v)) {
					if (token_in(v, (size_t)(line + n - v), "close"))
						c->close_after = 1;
					if (token_in(v, (size_t)(line + n - v), "keep-alive"))
						keep_alive = 1;
				}
				off = (size_t)e + 2;
			}
			if (http10 && !keep_alive)
				c->close_after = 1;
			c->pos = hend;
			if (c->status >= 100 && c->status < 200) {
				/* Interim reply (100 Continue): drop it, read the next. */
				memmove(c->buf, c->buf + hend, c->len - hend);
				c->len -= hend;
				c->pos = 0;
				continue;
			}
			if (c->status == 204 || c->status == 304) {
				c->bs = B_DONE;
			} else if (chunked) {
				c->bs = B_CHUNK_SIZE;
			} else if (have_len) {
				c->left = clen;
				c->bs = B_LENGTH;
			} else {
				c->close_after = 1;
				c->bs = B_UNTIL_CLOSE;
			}
			break;
		}
		case B_LENGTH: {
			size_t avail = c->len - c->pos;
			size_t n = avail < c->left ? avail : (size_t)c->left;
			keep_body(c, c->buf + c->pos, n);
			c->pos += n;
			c->left -= n;
			if (c->left > 0)
				return 0;
			c->bs = B_DONE;
			break;
		}
		case B_CHUNK_SIZE: {
			long e = find_crlf(c, c->pos);
			if (e < 0) {
				if (c->len - c->pos > 1024) {
					*why = "bad chunk size line";
					return -1;
				}
				return 0;
			}
			char *q;
			errno = 0;
			unsigned long long n = strtoull(c->buf + c->pos, &q, 16);
			if (errno != 0 || q == c->buf + c->pos || (q != c->buf + e && *q != ';' && *q != ' ' && *q != '\t')) {
				*why = "bad chunk size";
				return -1;
			}
			c->pos = (size_t)e + 2;
			c->left = n;
			c->bs = n == 0 ? B_TRAILER : B_CHUNK_DATA;
			break;
		}
		case B_CHUNK_DATA: {
			size_t avail = c->len - c->pos;
			size_t n = avail < c->left ? avail : (size_t)c->left;
			keep_body(c, c->buf + c->pos, n);
			c->pos += n;
			c->left -= n;
			if (c->left > 0)
				return 0;
			c->bs = B_CHUNK_CRLF;
			break;
		}
		case B_CHUNK_CRLF:
			if (c->len - c->pos < 2)
				return 0;
			if (c->buf[c->pos] != '\r' || c->buf[c->pos + 1] != '\n') {
				*why = "chunk not followed by CRLF";
				return -1;
			}
			c->pos += 2;
			c->bs = B_CHUNK_SIZE;
			break;
		case B_TRAILER: {
			long e = find_crlf(c, c->pos);
			if (e < 0)
				return 0;
			int empty = (size_t)e == c->pos;
			c->pos = (size_t)e + 2;
			if (empty)
				c->bs = B_DONE;
			break;
		}
		case B_UNTIL_CLOSE:
			keep_body(c, c->buf + c->pos, c->len - c->pos);
			c->pos = c->len;
			return 0;
		case B_DONE:
			if (c->pos != c->len) {
				*why = "unexpected bytes after the reply";
				return -1;
			}
			return 1;
		}
		/* Drop what has been consumed once the headers are behind us. */
		if (c->bs != B_HEADERS && c->pos > 0) {
			memmove(c->buf, c->buf + c->pos, c->len - c->pos);
			c->len -= c->pos;
			c->pos = 0;
		}
	}
}

static void complete_reply(struct conn *c)
{
	char why[160];
	int ok = c->status == 200 && body_has_expect(c);
	if (c->status != 200)
		snprintf(why, sizeof why, "HTTP status %d", c->status);
	else if (!ok)
		snprintf(why, sizeof why, "reply without the expected text \"%.60s\"", cfg.expect);
	else
		why[0] = '\0';
	c->bs = B_DONE;
	finish_request(c, 1, ok, why);
}

static void on_readable(struct conn *c)
{
	for (;;) {
		if (c->cap - c->len < 16384) {
			c->cap = c->cap ? c->cap * 2 : 32768;
			c->buf = xrealloc(c->buf, c->cap);
		}
		ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			fail(c, 0, errno, "read from");
			return;
		}
		if (n == 0) {
			if (c->bs == B_UNTIL_CLOSE) {
				c->bs = B_DONE;
				c->close_after = 1;
				complete_reply(c);
			} else {
				fail(c, 0, 0, "read from");
			}
			return;
		}
		c->got_bytes = 1;
		c->len += (size_t)n;
		const char *why = NULL;
		int r = parse(c, &why);
		if (r < 0) {
			char msg[512];
			snprintf(msg, sizeof msg, "reply from %s: %s", cfg.hostport, why);
			c->close_after = 1;
			finish_request(c, 0, 0, msg);
			return;
		}
		if (r == 1) {
			complete_reply(c);
			return;
		}
		if (c->len > MAX_HEADER && c->bs == B_HEADERS) {
			finish_request(c, 0, 0, "reply headers too long");
			return;
		}
	}
}

static void on_writable(struct conn *c)
{
	if (c->st == C_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof err;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err != 0) {
			fail(c, 1, err, "connect");
			return;
		}
		c->st = C_SENDING;
	}
	while (c->sent < cfg.reqlen) {
		ssize_t n = send(c->fd, cfg.request + c->sent, cfg.reqlen - c->sent, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			fail(c, 0, errno, "write to");
			return;
		}
		c->sent += (size_t)n;
	}
	c->st = C_READING;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double percentile_ms(double p)
{
	if (stats.nlat == 0)
		return 0;
	double want = p * (double)stats.nlat;
	size_t rank = (size_t)want;
	if ((double)rank < want)
		rank++;
	if (rank < 1)
		rank = 1;
	if (rank > stats.nlat)
		rank = stats.nlat;
	return stats.lat[rank - 1] * 1e3;
}

/*
 * run_phase sends requests on conns until maxreq have been started (0: no
 * limit) or seconds have passed (0: no time limit), then waits for those
 * under way. It returns with every connection idle (kept alive) or closed.
 */
static void run_phase(struct conn *conns, long long nconns, struct pollfd *pfds, int *idx, long long maxreq, double seconds)
{
	double t0 = now();
	double deadline = seconds > 0 ? t0 + seconds : 0;
	for (;;) {
		double t = now();
		int stopping = (deadline > 0 && t >= deadline) || (maxreq > 0 && stats.started >= maxreq);
		if (!stopping)
			for (long long i = 0; i < nconns; i++)
				if (conns[i].st == C_IDLE && (maxreq == 0 || stats.started < maxreq))
					start_request(&conns[i]);

		int np = 0;
		double wake = deadline > 0 && !stopping ? deadline : 0;
		for (long long i = 0; i < nconns; i++) {
			struct conn *c = &conns[i];
			if (c->fd < 0 || c->st == C_IDLE)
				continue;
			pfds[np].fd = c->fd;
			pfds[np].events = c->st == C_READING ? POLLIN : POLLOUT;
			pfds[np].revents = 0;
			idx[np++] = (int)i;
			double late = c->t_start + cfg.timeout;
			if (wake == 0 || late < wake)
				wake = late;
		}
		if (np == 0) {
			if (stopping || (maxreq > 0 && stats.started >= maxreq))
				break;
			/* Every connection failed at once: back off a little, retry. */
			poll(NULL, 0, 10);
			continue;
		}
		int ms = 1000;
		if (wake > 0) {
			double d = (wake - now()) * 1e3;
			ms = d <= 0 ? 0 : d > 1000 ? 1000 : (int)d + 1;
		}
		int r = poll(pfds, (nfds_t)np, ms);
		if (r < 0 && errno != EINTR)
			die(1, "poll: %s", strerror(errno));
		for (int k = 0; r > 0 && k < np; k++) {
			struct conn *c = &conns[idx[k]];
			if (pfds[k].revents == 0 || c->fd != pfds[k].fd || c->st == C_IDLE)
				continue;
			if (c->st == C_READING)
				on_readable(c);
			else
				on_writable(c);
		}
		t = now();
		for (long long i = 0; i < nconns; i++) {
			struct conn *c = &conns[i];
			if (c->fd >= 0 && c->st != C_IDLE && t - c->t_start > cfg.timeout) {
				char msg[512];
				snprintf(msg, sizeof msg, "no reply from %s within %g s", cfg.hostport, cfg.timeout);
				c->close_after = 1;
				finish_request(c, 0, 0, msg);
			}
		}
	}
}

/* reset_stats starts a new phase's counts, keeping the latency buffer. */
static void reset_stats(void)
{
	double *lat = stats.lat;
	size_t caplat = stats.caplat;
	memset(&stats, 0, sizeof stats);
	stats.lat = lat;
	stats.caplat = caplat;
}

/* mark executes the mark instruction (-M); see the top of the file. */
static void mark(void)
{
#ifdef MARK_INSN
	__asm__ volatile(MARK_INSN ::: "memory");
#endif
}

int main(int argc, char **argv)
{
	long long nconns = 1, maxreq = 0, warmup = 0;
	double seconds = 10;
	int have_d = 0, marks = 0;
	int opt;

	cfg.timeout = 10;
	while ((opt = getopt(argc, argv, "c:d:n:t:e:w:Mh")) != -1) {
		switch (opt) {
		case 'c': nconns = parse_count("-c", optarg, MAX_CONNS); break;
		case 'd': seconds = parse_positive("-d", optarg); have_d = 1; break;
		case 'n': maxreq = parse_count("-n", optarg, LLONG_MAX / 2); break;
		case 't': cfg.timeout = parse_positive("-t", optarg); break;
		case 'e':
			if (optarg[0] == '\0')
				die(2, "-e: want a non-empty text");
			cfg.expect = optarg;
			break;
		case 'w': warmup = parse_count("-w", optarg, LLONG_MAX / 2); break;
		case 'M':
#ifndef MARK_INSN
			die(2, "-M: this loadgen was built for a target without a mark instruction; "
			    "-M needs a build for aarch64, or arm in ARM or Thumb-2 state");
#endif
			marks = 1;
			break;
		default: usage();
		}
	}
	if (optind != argc - 1)
		usage();
	if (maxreq > 0 && !have_d)
		seconds = 0; /* -n alone: no time limit */
	parse_url(argv[optind]);
	signal(SIGPIPE, SIG_IGN);

	size_t rq = strlen(cfg.path) + strlen(cfg.hostport) + 128;
	cfg.request = xrealloc(NULL, rq);
	cfg.reqlen = (size_t)snprintf(cfg.request, rq,
		"GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: tcbot-loadgen\r\nAccept: */*\r\n\r\n",
		cfg.path, cfg.hostport);

	struct conn *conns = calloc((size_t)nconns, sizeof *conns);
	struct pollfd *pfds = calloc((size_t)nconns, sizeof *pfds);
	int *idx = calloc((size_t)nconns, sizeof *idx);
	if (conns == NULL || pfds == NULL || idx == NULL)
		die(1, "out of memory");
	for (long long i = 0; i < nconns; i++)
		conns[i].fd = -1;

	if (warmup > 0) {
		run_phase(conns, nconns, pfds, idx, warmup, 0);
		if (stats.errors > 0)
			fprintf(stderr, "loadgen: warm-up: %lld of %lld requests failed; first: %s\n", stats.errors, stats.completed, stats.first_error);
		reset_stats();
	}
	if (marks)
		mark();
	run_phase(conns, nconns, pfds, idx, maxreq, seconds);
	if (marks)
		mark();
	for (long long i = 0; i < nconns; i++)
		close_conn(&conns[i]);

	if (stats.completed == 0)
		die(1, "no request completed");
	double elapsed = stats.last_end - stats.first_start;
	if (elapsed <= 0)
		elapsed = 1e-9;
	qsort(stats.lat, stats.nlat, sizeof *stats.lat, cmp_double);
	printf("requests: %lld\n", stats.completed);
	printf("errors: %lld\n", stats.errors);
	printf("seconds: %.6f\n", elapsed);
	printf("requests-per-second: %.3f\n", (double)(stats.completed - stats.errors) / elapsed);
	printf("latency-p50-ms: %.3f\n", percentile_ms(0.50));
	printf("latency-p99-ms: %.3f\n", percentile_ms(0.99));
	if (marks)
		printf("marked: %lld\n", stats.completed);
	if (stats.errors > 0)
		fprintf(stderr, "loadgen: %lld of %lld requests failed; first: %s\n", stats.errors, stats.completed, stats.first_error);
	if (fflush(stdout) != 0 || ferror(stdout))
		die(1, "write results: %s", strerror(errno));
	return 0;
}
