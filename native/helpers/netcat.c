/*
 * netcat @NAME [ignored...]: relays stdin to an abstract Unix socket and
 * the socket to stdout. rsync runs it as its remote shell (-e) during a
 * migration, so that the daemon carries rsync's protocol over a websocket;
 * rsync appends its own arguments, which are ignored.
 *
 * netcat --pass-fds FD [ignored...]: the same job without the relay: hands
 * its stdin and stdout (rsync's ends, as they are) to the daemon as
 * SCM_RIGHTS over the inherited SOCK_SEQPACKET socket FD, then waits until
 * the daemon closes FD and exits 0. The daemon then reads and writes
 * rsync's stream itself, a copy and two processes' system calls fewer.
 * Man pages: unix(7), poll(2), shutdown(2), sendmsg(2), cmsg(3).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "helper.h"

static int write_all(int fd, const char *buf, ssize_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= n;
	}
	return 0;
}

/* --pass-fds FD: sends stdin and stdout over FD in one message, then waits for FD to close. */
static int pass_fds(const char *spec)
{
	int fds[2] = { STDIN_FILENO, STDOUT_FILENO };
	union {
		char buf[CMSG_SPACE(sizeof(fds))];
		struct cmsghdr align;
	} u;
	char tag = 'F', sink[64];
	struct iovec iov = { .iov_base = &tag, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;
	char *end;
	long sock = strtol(spec, &end, 10);

	if (*spec == '\0' || *end != '\0' || sock < 3 || sock > 1024) {
		helper_report(STDERR_FILENO, "EINVAL", "netcat --pass-fds: bad fd \"%s\"", spec);
		return HELPER_FAIL;
	}
	memset(u.buf, 0, sizeof(u.buf));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	while (sendmsg((int)sock, &msg, MSG_NOSIGNAL) < 0) {
		if (errno == EINTR)
			continue;
		helper_report(STDERR_FILENO, helper_errno_name(errno), "netcat --pass-fds: sendmsg: %s", strerror(errno));
		return HELPER_FAIL;
	}
	/* The daemon holds rsync's ends now: ours would keep the stream open past its close. */
	close(STDIN_FILENO);
	close(STDOUT_FILENO);
	/* rsync waits for its remote shell at the end: stay until the daemon is done with the stream. */
	for (;;) {
		ssize_t n = read((int)sock, sink, sizeof(sink));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
	}
}

int cmd_netcat(int argc, char **argv)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct pollfd fds[2];
	char buf[65536];
	size_t len;
	int sock, rc;

	if (argc >= 4 && strcmp(argv[2], "--pass-fds") == 0)
		return pass_fds(argv[3]);
	if (argc < 3 || argv[2][0] != '@') {
		helper_report(STDERR_FILENO, "EINVAL", "usage: incusd-helper netcat @NAME | --pass-fds FD");
		return HELPER_FAIL;
	}
	len = strlen(argv[2] + 1);
	if (len + 1 > sizeof(addr.sun_path)) {
		helper_report(STDERR_FILENO, "ENAMETOOLONG", "socket name too long");
		return HELPER_FAIL;
	}
	memcpy(addr.sun_path + 1, argv[2] + 1, len);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/*
	 * An abstract name is its exact bytes, but libuv (node's net.Server)
	 * binds it padded with zeros to the whole sun_path: try both lengths.
	 */
	rc = sock < 0 ? -1 : connect(sock, (struct sockaddr *)&addr, offsetof(struct sockaddr_un, sun_path) + 1 + len);
	if (rc < 0 && sock >= 0 && errno == ECONNREFUSED)
		rc = connect(sock, (struct sockaddr *)&addr, sizeof(addr));
	if (rc < 0) {
		helper_report(STDERR_FILENO, helper_errno_name(errno), "connect %s: %s", argv[2], strerror(errno));
		return HELPER_FAIL;
	}

	fds[0] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
	fds[1] = (struct pollfd){ .fd = sock, .events = POLLIN };
	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return HELPER_FAIL;
		}
		if (fds[0].revents) {
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				/* rsync is done talking: the peer sees EOF, its answer still comes back. */
				shutdown(sock, SHUT_WR);
				fds[0].fd = -1;
			} else if (write_all(sock, buf, n) < 0) {
				return HELPER_FAIL;
			}
		}
		if (fds[1].revents) {
			ssize_t n = read(sock, buf, sizeof(buf));

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return 0;
			if (write_all(STDOUT_FILENO, buf, n) < 0)
				return HELPER_FAIL;
		}
	}
}
