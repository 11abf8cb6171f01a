/*
 * forkexec-server: a small, single-threaded process that forks one
 * `forkexec` helper per request, so that an exec costs a fork of this
 * process instead of a fork of the (large, multi-threaded) daemon.
 *
 *   incusd-helper forkexec-server        (fd 3: SOCK_SEQPACKET to the daemon)
 *
 * Each request is one datagram: the forkexec arguments ("forkexec", NAME,
 * LXCPATH, ...) as NUL-terminated strings, with four fds attached
 * (SCM_RIGHTS): the command's stdin, stdout and stderr and the request's
 * control socket. The child gets them as fds 0-3 and runs exactly what
 * `incusd-helper forkexec` runs, which reports on the control socket
 * ("pid N", "exit N" or "ECODE message"). A request that cannot be served
 * gets "ECODE message" on its control socket. Children are reaped here; the
 * server exits when the daemon closes its end.
 * Man pages: unix(7) (SCM_RIGHTS, SOCK_SEQPACKET), recvmsg(2), fork(2),
 * signalfd(2), poll(2), waitpid(2), dup2(2), sigprocmask(2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper.h"

#define SERVER_FD 3
#define REQUEST_FDS 4
/* Largest request: arguments plus environment. */
#define REQUEST_MAX (256 * 1024)
#define ARGS_MAX 8192

static char request[REQUEST_MAX];

/* Writes "<code> <message>\n" to a request's control socket. */
static void refuse(int control, const char *code, const char *msg)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "%s %s\n", code, msg);

	if (n > 0)
		(void)!send(control, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Child side: fds 0-3 from the request, default signals, then forkexec. */
__attribute__((noreturn)) static void run_child(int fds[REQUEST_FDS], int argc, char **argv)
{
	sigset_t none;
	int i;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGCHLD, SIG_DFL);
	for (i = 0; i < REQUEST_FDS; i++) {
		if (dup2(fds[i], i) < 0)
			_exit(HELPER_FAIL);
	}
	/* cmd_forkexec closes everything above fd 3 (the received copies, the server socket). */
	_exit(cmd_forkexec(argc, argv));
}

/* Splits the NUL-terminated strings of a request into argv (argv[0] is ours). */
static int split_args(char *buf, size_t len, char **argv, int max)
{
	int argc = 0;
	size_t i = 0;

	argv[argc++] = "incusd-helper";
	while (i < len) {
		if (argc >= max - 1)
			return -1;
		argv[argc++] = &buf[i];
		i += strnlen(&buf[i], len - i) + 1;
	}
	argv[argc] = NULL;
	return argc;
}

/* Receives and serves one request; returns 0 when the daemon has gone. */
static int serve_one(void)
{
	static char *argv[ARGS_MAX];
	char cbuf[CMSG_SPACE(sizeof(int) * REQUEST_FDS)];
	struct iovec iov = { .iov_base = request, .iov_len = sizeof(request) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cmsg;
	int fds[REQUEST_FDS] = { -1, -1, -1, -1 };
	int nfds = 0, argc, i;
	ssize_t n;
	pid_t pid;

	n = recvmsg(SERVER_FD, &msg, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : 0;
	if (n == 0)
		return 0;
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
			nfds = (int)((cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			if (nfds > REQUEST_FDS)
				nfds = REQUEST_FDS;
			memcpy(fds, CMSG_DATA(cmsg), sizeof(int) * (size_t)nfds);
		}
	}
	if (nfds != REQUEST_FDS || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		if (nfds == REQUEST_FDS)
			refuse(fds[3], "E2BIG", "exec request too large");
		goto out;
	}
	if (n == 0 || request[n - 1] != '\0' ||
	    (argc = split_args(request, (size_t)n, argv, ARGS_MAX)) < 2) {
		refuse(fds[3], "EINVAL", "malformed exec request");
		goto out;
	}
	pid = fork();
	if (pid == 0)
		run_child(fds, argc, argv);
	if (pid < 0)
		refuse(fds[3], helper_errno_name(errno), "cannot fork the exec helper");
out:
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	return 1;
}

int cmd_forkexec_server(int argc, char **argv)
{
	struct pollfd pfd[2];
	sigset_t chld;
	int sigfd;

	(void)argc;
	(void)argv;
	if (fcntl(SERVER_FD, F_SETFD, FD_CLOEXEC) < 0) {
		helper_report(STDERR_FILENO, helper_errno_name(errno), "fd 3 is not open");
		return HELPER_FAIL;
	}
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0) {
		helper_report(STDERR_FILENO, helper_errno_name(errno), "cannot watch children");
		return HELPER_FAIL;
	}
	for (;;) {
		pfd[0] = (struct pollfd){ .fd = SERVER_FD, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = sigfd, .events = POLLIN };
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return HELPER_FAIL;
		}
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				;
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (!serve_one())
				break;
		}
	}
	/* Helpers still running carry on: they report straight to the daemon. */
	return HELPER_OK;
}
