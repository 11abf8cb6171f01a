/*
 * forkproxy endpoints: parsing "tcp:ADDR:PORT" style addresses and making
 * the listening and connecting sockets.
 * Man pages: inet_pton(3), socket(2), bind(2), listen(2), connect(2),
 * setsockopt(2) (SO_REUSEADDR), unix(7), chown(2), chmod(2).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proxy.h"

#define PX_BACKLOG 128

static int parse_port(const char *s, unsigned short *port)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 0 || v > 65535)
		return -1;
	*port = (unsigned short)v;
	return 0;
}

static int parse_inet(const char *hostport, struct px_addr *a)
{
	char host[64];
	const char *colon, *h = hostport;
	size_t hl;
	unsigned short port;

	if (hostport[0] == '[') {
		const char *close = strchr(hostport, ']');

		if (!close || close[1] != ':')
			return -1;
		h = hostport + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(hostport, ':');
		if (!colon)
			return -1;
		hl = (size_t)(colon - hostport);
	}
	if (hl >= sizeof(host) || parse_port(colon + 1, &port) < 0)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';

	memset(&a->sa, 0, sizeof(a->sa));
	if (hl == 0 || strchr(host, ':') == NULL) {
		struct sockaddr_in *in = (struct sockaddr_in *)&a->sa;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		if (hl == 0)
			in->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return -1;
		a->len = sizeof(*in);
		return 0;
	}
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->sa;

	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(port);
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
		return -1;
	a->len = sizeof(*in6);
	return 0;
}

int px_parse(const char *text, struct px_addr *a)
{
	a->text = text;
	if (strncmp(text, "tcp:", 4) == 0) {
		a->kind = PX_TCP;
		return parse_inet(text + 4, a);
	}
	if (strncmp(text, "udp:", 4) == 0) {
		a->kind = PX_UDP;
		return parse_inet(text + 4, a);
	}
	if (strncmp(text, "unix:", 5) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)&a->sa;
		const char *p = text + 5;
		size_t len = strlen(p);

		a->kind = PX_UNIX;
		memset(&a->sa, 0, sizeof(a->sa));
		un->sun_family = AF_UNIX;
		if (len == 0 || len >= sizeof(un->sun_path))
			return -1;
		memcpy(un->sun_path, p, len);
		/* "@name" is the abstract namespace: a leading NUL, no terminator. */
		if (p[0] == '@') {
			un->sun_path[0] = '\0';
			a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
		} else {
			if (p[0] != '/')
				return -1;
			a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
		}
		return 0;
	}
	return -1;
}

static int family_of(const struct px_addr *a)
{
	return a->sa.ss_family;
}

static int type_of(const struct px_addr *a)
{
	return a->kind == PX_UDP ? SOCK_DGRAM : SOCK_STREAM;
}

static int fail(char *msg, size_t msglen, const char *what, const struct px_addr *a)
{
	int err = errno;

	snprintf(msg, msglen, "%s %s: %s", what, a->text, strerror(err));
	errno = err;
	return -1;
}

int px_listen(const struct px_addr *a, const struct px_sockperm *perm, char *msg, size_t msglen)
{
	const struct sockaddr_un *un = (const struct sockaddr_un *)&a->sa;
	int named = a->kind == PX_UNIX && un->sun_path[0] != '\0';
	int one = 1, fd;
	struct stat st;

	fd = socket(family_of(a), type_of(a) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(msg, msglen, "socket for", a);
	if (a->kind != PX_UNIX)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* A socket file left by an earlier run would make bind fail. */
	if (named && lstat(un->sun_path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(un->sun_path);
	if (bind(fd, (const struct sockaddr *)&a->sa, a->len) < 0) {
		fail(msg, msglen, "bind", a);
		close(fd);
		return -1;
	}
	if (named && perm) {
		if (chown(un->sun_path, (uid_t)perm->uid, (gid_t)perm->gid) < 0 ||
		    chmod(un->sun_path, perm->mode) < 0) {
			fail(msg, msglen, "setting owner and mode of", a);
			close(fd);
			return -1;
		}
	}
	if (a->kind != PX_UDP && listen(fd, PX_BACKLOG) < 0) {
		fail(msg, msglen, "listen", a);
		close(fd);
		return -1;
	}
	return fd;
}

int px_connect(const struct px_addr *a)
{
	int fd = socket(family_of(a), type_of(a) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	/* EAGAIN (a unix listener's full backlog) is a failure, not progress. */
	if (connect(fd, (const struct sockaddr *)&a->sa, a->len) < 0 && errno != EINPROGRESS) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}
