/*
 * forkexec: run one command inside a running container and report how it
 * ended. liblxc's attach (LXC_ATTACH_DEFAULT: every namespace, the cgroup,
 * the LSM label, capability drop, personality) starts the command with a
 * cleared environment plus the one given, as uid/gid, in cwd (or $HOME).
 *
 *   incusd-helper forkexec NAME LXCPATH CONFIG CWD UID GID
 *                 -- env [K=V...] -- cmd PROGRAM [ARG...]
 *
 * fds: 0/1/2 become the command's stdin/stdout/stderr (pipes, or a pty
 * slave three times: liblxc then makes it the controlling terminal of a new
 * session). fd 3 is the control channel (a socket or pipe, may be absent):
 *   helper -> caller: "pid <N>\n" once the command runs, then
 *                     "exit <status>\n" when it has ended; or
 *                     "<ECODE> <message>\n" when it could not be started;
 *   caller -> helper: "signal <N>\n" delivers signal N to the command.
 * Catchable signals the helper itself receives (HUP INT QUIT TERM USR1 USR2
 * CONT TSTP TTIN TTOU WINCH) are forwarded to the command as well.
 * The helper waits on a pidfd and exits with the command's exit status, or
 * 128+N when signal N killed it (as Incus reports it); HELPER_FAIL (1) with
 * no "pid" line means the command never started.
 * Signals go through the pidfd of an unreaped child, so a recycled PID can
 * never be hit.
 * Man pages: pidfd_open(2), pidfd_send_signal(2), poll(2), signalfd(2),
 * sigprocmask(2), close_range(2), fcntl(2), dup2(2), waitpid(2), send(2);
 * liblxc attach_options.h, lxccontainer.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lxc/attach_options.h>
#include <lxc/lxccontainer.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper.h"

#define CONTROL_FD 3

/* Signals the helper forwards instead of acting on them. */
static const int FORWARDED[] = { SIGHUP,  SIGINT,  SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2,
				 SIGCONT, SIGTSTP, SIGTTIN, SIGTTOU, SIGWINCH };

struct exec_request {
	const char *name, *lxcpath, *config, *cwd;
	uid_t uid;
	gid_t gid;
	char **env; /* NULL-terminated */
	char **cmd; /* NULL-terminated */
};

static int control_open = 1;

/* Writes to the control fd without raising SIGPIPE when the caller is gone. */
static void control_write(const char *buf, size_t len)
{
	ssize_t n;

	if (!control_open)
		return;
	while (len > 0) {
		n = send(CONTROL_FD, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK)
			n = write(CONTROL_FD, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static void report_failure(const char *code, const char *msg)
{
	char line[1200];
	int n = snprintf(line, sizeof(line), "%s %s\n", code, msg);

	if (n > 0)
		control_write(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static int parse_id(const char *s, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v >= UINT_MAX)
		return -1;
	*out = (unsigned int)v;
	return 0;
}

/* Splits "-- env K=V... -- cmd PROGRAM ARGS..." (argv from index i). */
static int parse_sections(int argc, char **argv, int i, struct exec_request *req)
{
	static char *empty[] = { NULL };
	int env_start = -1, env_end = -1, cmd_start = -1;

	req->env = empty;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--") != 0 || i + 1 >= argc)
			return -1;
		if (strcmp(argv[i + 1], "env") == 0 && env_start < 0 && cmd_start < 0) {
			env_start = i + 2;
			for (i = env_start; i < argc && strcmp(argv[i], "--") != 0; i++)
				;
			env_end = i;
			i--;
		} else if (strcmp(argv[i + 1], "cmd") == 0) {
			/* Everything after "cmd" belongs to the command, "--" included. */
			cmd_start = i + 2;
			break;
		} else {
			return -1;
		}
	}
	if (cmd_start < 0 || cmd_start >= argc)
		return -1;
	if (env_start >= 0) {
		/* argv is writable and ours: NULL-terminate the env slice in place. */
		argv[env_end] = NULL;
		req->env = &argv[env_start];
	}
	req->cmd = &argv[cmd_start];
	return 0;
}

/*
 * Moves the command's stdio to close-on-exec fds above the control fd and
 * points 0-2 at /dev/null, so that after the attach only the command holds
 * the pipes or pty (the caller then sees EOF/EIO when the command is done).
 */
static int take_stdio(int out[3])
{
	int null_fd, i;

	for (i = 0; i < 3; i++) {
		out[i] = fcntl(i, F_DUPFD_CLOEXEC, CONTROL_FD + 1);
		if (out[i] < 0)
			return -1;
	}
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd < 0)
		return -1;
	for (i = 0; i < 3; i++)
		if (dup2(null_fd, i) < 0)
			return -1;
	close(null_fd);
	return 0;
}

/* Delivers a signal to the command through its pidfd. */
static void deliver(int pidfd, int sig)
{
	if (sig > 0 && sig < _NSIG)
		pidfd_send_signal(pidfd, sig, NULL, 0);
}

/* Handles the "signal <N>" lines the caller sent; returns 0 on EOF. */
static int read_control(int pidfd)
{
	static char buf[256];
	static size_t used;
	ssize_t n;
	char *line, *nl;

	n = read(CONTROL_FD, buf + used, sizeof(buf) - 1 - used);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : 0;
	if (n == 0)
		return 0;
	used += (size_t)n;
	buf[used] = '\0';
	line = buf;
	while ((nl = strchr(line, '\n'))) {
		unsigned int sig;

		*nl = '\0';
		if (strncmp(line, "signal ", 7) == 0 && parse_id(line + 7, &sig) == 0)
			deliver(pidfd, (int)sig);
		line = nl + 1;
	}
	used = strlen(line);
	memmove(buf, line, used);
	/* A line longer than the buffer is garbage: drop it. */
	if (used == sizeof(buf) - 1)
		used = 0;
	return 1;
}

/* Waits for the command while relaying signals; returns its exit status. */
static int supervise(pid_t pid)
{
	struct pollfd pfd[3];
	sigset_t mask;
	int pidfd, sigfd, status;
	size_t i;

	pidfd = pidfd_open(pid, 0);
	if (pidfd < 0)
		goto reap;

	sigemptyset(&mask);
	for (i = 0; i < sizeof(FORWARDED) / sizeof(FORWARDED[0]); i++)
		sigaddset(&mask, FORWARDED[i]);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

	for (;;) {
		pfd[0] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = control_open ? CONTROL_FD : -1, .events = POLLIN };
		pfd[2] = (struct pollfd){ .fd = sigfd, .events = POLLIN };
		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[2].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				deliver(pidfd, (int)si.ssi_signo);
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			/* The caller went away: the command keeps running, as with Incus. */
			if (!read_control(pidfd))
				control_open = 0;
		}
		if (pfd[0].revents & POLLIN)
			break;
	}

reap:
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return HELPER_FAIL;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return HELPER_FAIL;
}

int cmd_forkexec(int argc, char **argv)
{
	struct exec_request req = { 0 };
	lxc_attach_options_t opts = LXC_ATTACH_OPTIONS_DEFAULT;
	lxc_attach_command_t command;
	struct lxc_container *c = NULL;
	unsigned int uid, gid;
	int stdio[3], i, ret;
	pid_t pid = -1;
	char line[32];

	/* The control fd is optional; without it nothing is reported. */
	if (fcntl(CONTROL_FD, F_SETFD, FD_CLOEXEC) < 0)
		control_open = 0;

	if (argc < 10 || parse_id(argv[6], &uid) < 0 || parse_id(argv[7], &gid) < 0 ||
	    parse_sections(argc, argv, 8, &req) < 0) {
		report_failure("EINVAL", "usage: incusd-helper forkexec NAME LXCPATH CONFIG CWD UID GID "
					 "-- env [K=V...] -- cmd PROGRAM [ARG...]");
		return HELPER_FAIL;
	}
	req.name = argv[2];
	req.lxcpath = argv[3];
	req.config = argv[4];
	req.cwd = argv[5];
	req.uid = uid;
	req.gid = gid;

	/* Nothing but stdio and the control fd may reach the container. */
	if (close_range(CONTROL_FD + 1, ~0U, 0) < 0) {
		report_failure(helper_errno_name(errno), "cannot close inherited fds");
		return HELPER_FAIL;
	}
	if (take_stdio(stdio) < 0) {
		report_failure(helper_errno_name(errno), "cannot set up stdio");
		return HELPER_FAIL;
	}

	c = lxc_container_new(req.name, req.lxcpath);
	if (!c) {
		report_failure("ELXC", "cannot open container");
		return HELPER_FAIL;
	}
	if (c->lxc_conf)
		c->clear_config(c);
	if (!c->load_config(c, req.config)) {
		report_failure("EINVAL", "cannot load the container config");
		ret = HELPER_FAIL;
		goto out;
	}

	for (i = 0; req.env[i]; i++)
		if (strncmp(req.env[i], "HOME=", 5) == 0)
			opts.initial_cwd = req.env[i] + 5;
	if (req.cwd[0] != '\0')
		opts.initial_cwd = (char *)req.cwd;
	opts.env_policy = LXC_ATTACH_CLEAR_ENV;
	opts.extra_env_vars = req.env;
	opts.stdin_fd = stdio[0];
	opts.stdout_fd = stdio[1];
	opts.stderr_fd = stdio[2];
	opts.uid = req.uid;
	opts.gid = req.gid;
	command.program = req.cmd[0];
	command.argv = req.cmd;

	ret = c->attach(c, lxc_attach_run_command, &command, &opts, &pid);
	for (i = 0; i < 3; i++)
		close(stdio[i]);
	if (ret < 0 || pid <= 0) {
		report_failure("ELXC", "liblxc failed to attach to the container");
		ret = HELPER_FAIL;
		goto out;
	}
	snprintf(line, sizeof(line), "pid %d\n", (int)pid);
	control_write(line, strlen(line));
	ret = supervise(pid);
	snprintf(line, sizeof(line), "exit %d\n", ret);
	control_write(line, strlen(line));
out:
	lxc_container_put(c);
	return ret;
}
