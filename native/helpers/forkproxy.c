/*
 * forkproxy: the relay process of a `proxy` device.
 *   forkproxy LISTEN_PID CONNECT_PID LOG UID GID MODE SEC_UID SEC_GID -- L1 C1 [L2 C2 ...]
 * LISTEN_PID / CONNECT_PID: the container init whose namespaces the
 * listening / connecting side lives in, or 0 for the host. Listeners in a
 * container are made by a forked child that joins its user, network and
 * mount namespaces and hands the sockets back over SCM_RIGHTS (a process
 * cannot leave a user namespace it joined). When the connecting side is a
 * container, this process then joins its network namespace (and mount
 * namespace for unix paths) so every outgoing connection starts there.
 * UID/GID/MODE: owner (ids as seen on the listening side) and octal mode of
 * a listening unix socket file. SEC_UID/SEC_GID: ids to drop to once set up
 * (0: keep). Prints "ready" on stdout when listening, then sends its output
 * to LOG; on failure one line "<ECODE> <message>" on stderr. Exits when the
 * container init exits (pidfd) or on SIGTERM, removing host socket files
 * that are still its own (a file made since at the same path is left).
 * Man pages: fork(2), socketpair(2), unix(7) (SCM_RIGHTS), cmsg(3),
 * setns(2), pidfd_open(2), setresuid(2), setgroups(2), unlinkat(2), fstatat(2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dev-ns.h"
#include "helper.h"
#include "proxy.h"

struct px_cleanup {
	int dirfd;
	char name[108];
	/* The socket file as bound, so that only that file is removed. */
	dev_t dev;
	ino_t ino;
};

static int parse_long(const char *s, long min, long max, int base, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, base);
	if (*s == '\0' || *end != '\0' || errno || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int is_named_unix(const struct px_addr *a)
{
	return a->kind == PX_UNIX && ((const struct sockaddr_un *)&a->sa)->sun_path[0] != '\0';
}

/* Makes every listener here; on failure fills err with "<ECODE> <message>" and returns -1. */
static int make_listeners(struct px_pair *pairs, size_t n, const struct px_sockperm *perm, char *err,
			  size_t errlen)
{
	char msg[512];

	for (size_t i = 0; i < n; i++) {
		pairs[i].fd = px_listen(&pairs[i].listen, perm, msg, sizeof(msg));
		if (pairs[i].fd < 0) {
			snprintf(err, errlen, "%s %s", helper_errno_name(errno), msg);
			return -1;
		}
	}
	return 0;
}

/*
 * Listeners inside the container: a child joins its namespaces, makes them
 * and sends them back in one message; its report, if any, is the payload.
 */
static int listeners_in_container(pid_t pid, int pidfd, struct px_pair *pairs, size_t n,
				  const struct px_sockperm *perm)
{
	char buf[600] = { 0 };
	char cbuf[CMSG_SPACE(sizeof(int) * PX_MAX_PAIRS)];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int sp[2], status;
	pid_t child;
	ssize_t got;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		helper_report(STDERR_FILENO, helper_errno_name(errno), "socketpair: %s", strerror(errno));
		return -1;
	}
	child = fork();
	if (child < 0) {
		helper_report(STDERR_FILENO, helper_errno_name(errno), "fork: %s", strerror(errno));
		return -1;
	}
	if (child == 0) {
		char msg[256], report[600];
		int err, fds[PX_MAX_PAIRS];

		close(sp[0]);
		/* Errors go to the parent through the socket, as one message's payload. */
		err = dev_enter(pidfd, pid, DEV_NS_USER | DEV_NS_NET | DEV_NS_MNT, msg, sizeof(msg));
		if (err) {
			snprintf(report, sizeof(report), "%s entering the container: %s", helper_errno_name(err), msg);
			send(sp[1], report, strlen(report), 0);
			_exit(1);
		}
		if (make_listeners(pairs, n, perm, report, sizeof(report)) < 0) {
			send(sp[1], report, strlen(report), 0);
			_exit(1);
		}
		for (size_t i = 0; i < n; i++)
			fds[i] = pairs[i].fd;
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
		iov.iov_base = "OK";
		iov.iov_len = 2;
		_exit(sendmsg(sp[1], &mh, 0) < 0 ? 1 : 0);
	}
	close(sp[1]);
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	got = recvmsg(sp[0], &mh, MSG_CMSG_CLOEXEC);
	close(sp[0]);
	waitpid(child, &status, 0);
	if (got == 2 && memcmp(buf, "OK", 2) == 0) {
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

		if (c && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int) * n)) {
			int fds[PX_MAX_PAIRS];

			memcpy(fds, CMSG_DATA(c), sizeof(int) * n);
			for (size_t i = 0; i < n; i++)
				pairs[i].fd = fds[i];
			return 0;
		}
		helper_report(STDERR_FILENO, "EPROTO", "listener sockets did not come back from the container");
		return -1;
	}
	if (got > 0) {
		/* The child's "<ECODE> <message>" line, passed on as it is. */
		buf[got] = '\0';
		dprintf(STDERR_FILENO, "%s%s", buf, buf[got - 1] == '\n' ? "" : "\n");
	} else {
		helper_report(STDERR_FILENO, "ECHILD", "listener setup in the container failed");
	}
	return -1;
}

/* Remembers host socket files so they can be removed at exit, wherever we are then. */
static void remember_host_socket(const struct px_addr *a, struct px_cleanup *c)
{
	char copy[108], copy2[108];
	const char *path = ((const struct sockaddr_un *)&a->sa)->sun_path;

	c->dirfd = -1;
	if (!is_named_unix(a))
		return;
	snprintf(copy, sizeof(copy), "%s", path);
	snprintf(copy2, sizeof(copy2), "%s", path);
	c->dirfd = open(dirname(copy), O_PATH | O_DIRECTORY | O_CLOEXEC);
	snprintf(c->name, sizeof(c->name), "%s", basename(copy2));
	if (c->dirfd >= 0) {
		struct stat st;

		if (fstatat(c->dirfd, c->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			close(c->dirfd);
			c->dirfd = -1;
			return;
		}
		c->dev = st.st_dev;
		c->ino = st.st_ino;
	}
}

/* Removes a host socket file unless another process has put a new one at its path. */
static void remove_host_socket(const struct px_cleanup *c)
{
	struct stat st;

	if (c->dirfd < 0 || fstatat(c->dirfd, c->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (st.st_dev == c->dev && st.st_ino == c->ino)
		unlinkat(c->dirfd, c->name, 0);
}

static int drop_privileges(long uid, long gid)
{
	if (gid > 0 && (setgroups(0, NULL) < 0 || setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) < 0))
		return -1;
	if (uid > 0 && setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) < 0)
		return -1;
	return 0;
}

int cmd_forkproxy(int argc, char **argv)
{
	static struct px_pair pairs[PX_MAX_PAIRS];
	static struct px_cleanup cleanup[PX_MAX_PAIRS];
	long lpid, cpid, uid, gid, mode, suid, sgid;
	struct px_sockperm perm;
	size_t n = 0;
	int pidfd = -1, logfd, nullfd, rc, connect_unix = 0;
	char msg[256];

	if (argc < 13 || strcmp(argv[10], "--") != 0 || (argc - 11) % 2 != 0 ||
	    (size_t)(argc - 11) / 2 > PX_MAX_PAIRS || parse_long(argv[2], 0, 0x3fffffff, 10, &lpid) ||
	    parse_long(argv[3], 0, 0x3fffffff, 10, &cpid) || parse_long(argv[5], 0, 0xfffffffe, 10, &uid) ||
	    parse_long(argv[6], 0, 0xfffffffe, 10, &gid) || parse_long(argv[7], 0, 07777, 8, &mode) ||
	    parse_long(argv[8], 0, 0xfffffffe, 10, &suid) || parse_long(argv[9], 0, 0xfffffffe, 10, &sgid) ||
	    (lpid && cpid)) {
		helper_report(STDERR_FILENO, "EINVAL",
			      "usage: incusd-helper forkproxy LISTEN_PID CONNECT_PID LOG UID GID MODE "
			      "SEC_UID SEC_GID -- LISTEN CONNECT ...");
		return HELPER_FAIL;
	}
	for (int i = 11; i < argc; i += 2, n++) {
		if (px_parse(argv[i], &pairs[n].listen) < 0 || px_parse(argv[i + 1], &pairs[n].connect) < 0) {
			helper_report(STDERR_FILENO, "EINVAL", "invalid address pair %s %s", argv[i], argv[i + 1]);
			return HELPER_FAIL;
		}
		if (pairs[n].listen.kind == PX_UDP && pairs[n].connect.kind != PX_UDP) {
			helper_report(STDERR_FILENO, "EINVAL", "udp can only be proxied to udp (%s)", argv[i]);
			return HELPER_FAIL;
		}
		connect_unix |= is_named_unix(&pairs[n].connect);
	}
	perm = (struct px_sockperm){ uid, gid, (unsigned)mode };
	signal(SIGPIPE, SIG_IGN);

	/* The log is opened here, before any mount namespace change. */
	logfd = open(argv[4], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (logfd < 0) {
		helper_report(STDERR_FILENO, helper_errno_name(errno), "cannot open log %s: %s", argv[4],
			      strerror(errno));
		return HELPER_FAIL;
	}
	if (lpid || cpid) {
		pidfd = dev_pidfd_open((pid_t)(lpid ? lpid : cpid));
		if (pidfd < 0) {
			helper_report(STDERR_FILENO, helper_errno_name(errno),
				      "the container init %ld is gone: %s", lpid ? lpid : cpid, strerror(errno));
			return HELPER_FAIL;
		}
	}

	if (lpid) {
		if (listeners_in_container((pid_t)lpid, pidfd, pairs, n, &perm) < 0)
			return HELPER_FAIL;
		for (size_t i = 0; i < n; i++)
			cleanup[i].dirfd = -1;
	} else {
		char report[600];

		if (make_listeners(pairs, n, &perm, report, sizeof(report)) < 0) {
			dprintf(STDERR_FILENO, "%s\n", report);
			return HELPER_FAIL;
		}
		for (size_t i = 0; i < n; i++)
			remember_host_socket(&pairs[i].listen, &cleanup[i]);
	}
	if (cpid) {
		/* No user namespace: outgoing sockets only need the container's network (and paths). */
		rc = dev_enter(pidfd, (pid_t)cpid, DEV_NS_NET | (connect_unix ? DEV_NS_MNT : 0), msg, sizeof(msg));
		if (rc) {
			helper_report(STDERR_FILENO, helper_errno_name(rc), "entering the container: %s", msg);
			return HELPER_FAIL;
		}
	}
	if (drop_privileges(suid, sgid) < 0) {
		helper_report(STDERR_FILENO, helper_errno_name(errno), "cannot switch to uid %ld gid %ld: %s",
			      suid, sgid, strerror(errno));
		return HELPER_FAIL;
	}

	dprintf(STDOUT_FILENO, "ready\n");
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nullfd >= 0)
		dup2(nullfd, STDIN_FILENO);
	dup2(logfd, STDOUT_FILENO);
	dup2(logfd, STDERR_FILENO);

	rc = px_relay(pairs, n, pidfd);
	for (size_t i = 0; i < n; i++)
		remove_host_socket(&cleanup[i]);
	return rc;
}
