/*
 * forkfile: file access inside a container for the daemon (REST files API,
 * SFTP). Usage:
 *   incusd-helper forkfile pid PID
 *   incusd-helper forkfile rootfs PATH [UIDMAP GIDMAP]
 * with the daemon's end of a SOCK_SEQPACKET socketpair on fd 3. The helper
 * enters the container (forkfile-enter.c), says so in a first reply, then
 * answers requests (forkfile-ops.c) one at a time until the daemon closes
 * its end. File contents never cross the socket: OPEN hands the opened fd
 * to the daemon, which reads and writes it itself.
 * Man pages: recvmsg(2), sendmsg(2), cmsg(3), unix(7), close_range(2),
 * prctl(2), umask(2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "forkfile.h"
#include "helper.h"

#define FF_SOCK 3
/* Most fds a request may carry; any beyond the first are closed. */
#define FF_MAX_FDS 4

int ff_send(int sock, const struct ff_resp *resp, const void *payload, size_t len, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov[2] = {
		{ .iov_base = (void *)resp, .iov_len = sizeof(*resp) },
		{ .iov_base = (void *)payload, .iov_len = len },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	ssize_t n;

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -1 : 0;
}

int ff_send_err(int sock, int err)
{
	struct ff_resp r;

	memset(&r, 0, sizeof(r));
	r.err = err;
	return ff_send(sock, &r, NULL, 0, -1);
}

/* Takes the fds out of a received message: the first one is kept, others closed. */
static int take_fds(struct msghdr *mh)
{
	int keep = -1;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n;
		int fds[FF_MAX_FDS];

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (n > FF_MAX_FDS)
			n = FF_MAX_FDS;
		memcpy(fds, CMSG_DATA(c), n * sizeof(int));
		for (size_t i = 0; i < n; i++) {
			if (keep < 0)
				keep = fds[i];
			else
				close(fds[i]);
		}
	}
	return keep;
}

/* Serves requests until the daemon closes its end; returns the exit code. */
static int serve(int sock)
{
	static char buf[FF_MAX_REQ + 1];
	static char p1[FF_PATH_MAX + 1], p2[FF_PATH_MAX + 1];
	char cbuf[CMSG_SPACE(FF_MAX_FDS * sizeof(int))];

	for (;;) {
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr mh = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = cbuf,
			.msg_controllen = sizeof(cbuf),
		};
		struct ff_req req;
		ssize_t n;
		int fd;

		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return HELPER_FAIL;
		if (n == 0)
			return HELPER_OK;
		fd = take_fds(&mh);
		if (mh.msg_flags & MSG_TRUNC) {
			if (fd >= 0)
				close(fd);
			if (ff_send_err(sock, EINVAL) < 0)
				return HELPER_FAIL;
			continue;
		}
		if (ff_parse_request(buf, (size_t)n, &req, p1, p2)) {
			if (fd >= 0)
				close(fd);
			if (ff_send_err(sock, EINVAL) < 0)
				return HELPER_FAIL;
			continue;
		}
		if (ff_dispatch(sock, &req, p1, p2, fd) < 0)
			return HELPER_FAIL;
	}
}

int cmd_forkfile(int argc, char **argv)
{
	char msg[512] = "";
	struct ff_resp hello;
	struct stat st;
	int rc;

	if (fstat(FF_SOCK, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		helper_report(STDERR_FILENO, "EBADF", "forkfile: fd %d is not the daemon's socket",
			      FF_SOCK);
		return HELPER_FAIL;
	}
	/* Nothing else of the daemon's may follow us into the container. */
	syscall(SYS_close_range, FF_SOCK + 1, ~0U, 0);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* Modes are always explicit (0644 / 0755 by default, as the daemon asks). */
	umask(0);

	if (argc == 4 && strcmp(argv[2], "pid") == 0) {
		char *end;
		long pid = strtol(argv[3], &end, 10);

		if (*end != '\0' || pid <= 0) {
			helper_report(STDERR_FILENO, "EINVAL", "forkfile: bad pid %s", argv[3]);
			return HELPER_FAIL;
		}
		rc = forkfile_enter_pid((int)pid, msg, sizeof(msg));
	} else if ((argc == 4 || argc == 6) && strcmp(argv[2], "rootfs") == 0) {
		rc = forkfile_enter_rootfs(argv[3], argc == 6 ? argv[4] : NULL,
					   argc == 6 ? argv[5] : NULL, msg, sizeof(msg));
	} else {
		helper_report(STDERR_FILENO, "EINVAL",
			      "usage: incusd-helper forkfile pid PID | rootfs PATH [UIDMAP GIDMAP]");
		return HELPER_FAIL;
	}

	memset(&hello, 0, sizeof(hello));
	hello.err = rc;
	if (ff_send(FF_SOCK, &hello, msg, rc ? strlen(msg) : 0, -1) < 0 || rc != 0)
		return HELPER_FAIL;
	return serve(FF_SOCK);
}
