/*
 * forkstart: start a container daemonized through liblxc from this small
 * single-threaded process (liblxc forks a long-lived monitor, which must not
 * be forked from Node), wait until RUNNING and print the init PID.
 * The monitor gets /dev/null as stdio and none of our other fds, so the
 * caller's pipes see EOF as soon as this process exits.
 * Man pages: fcntl(2) (F_DUPFD_CLOEXEC), dup2(2), open(2); liblxc lxccontainer.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <lxc/lxccontainer.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "helper.h"

/* Bound on the wait for RUNNING once liblxc reported the start. */
#define RUNNING_TIMEOUT_SEC 30

/*
 * Keeps private copies of stdout/stderr (liblxc closes every inherited fd in
 * the monitor because of want_close_all_fds) and points 0-2 at /dev/null, so
 * that no process liblxc forks holds the caller's pipes.
 */
static int detach_stdio(int *out, int *err)
{
	int null_fd;

	*out = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	*err = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (*out < 0 || *err < 0)
		return -1;
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd < 0)
		return -1;
	if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(null_fd, STDOUT_FILENO) < 0 ||
	    dup2(null_fd, STDERR_FILENO) < 0)
		return -1;
	close(null_fd);
	return 0;
}

int cmd_forkstart(int argc, char **argv)
{
	const char *name, *lxcpath, *config;
	struct lxc_container *c;
	int out, err, rc = HELPER_FAIL;
	pid_t pid;

	if (argc != 5) {
		helper_report(STDERR_FILENO, "EINVAL",
			      "usage: incusd-helper forkstart NAME LXCPATH CONFIG");
		return HELPER_FAIL;
	}
	name = argv[2];
	lxcpath = argv[3];
	config = argv[4];

	if (detach_stdio(&out, &err) < 0) {
		helper_report(STDERR_FILENO, helper_errno_name(errno),
			      "cannot redirect stdio: %s", strerror(errno));
		return HELPER_FAIL;
	}
	if (access(config, R_OK) < 0) {
		helper_report(err, helper_errno_name(errno), "cannot read config %s: %s",
			      config, strerror(errno));
		return HELPER_FAIL;
	}

	c = lxc_container_new(name, lxcpath);
	if (!c) {
		helper_report(err, "ELXC", "cannot open container in %s", lxcpath);
		return HELPER_FAIL;
	}
	/* lxc_container_new() may have loaded lxcpath/name/config already. */
	if (c->lxc_conf)
		c->clear_config(c);
	if (!c->load_config(c, config)) {
		helper_report(err, "EINVAL", "cannot load config %s", config);
		goto out;
	}
	if (c->is_running(c)) {
		helper_report(err, "EBUSY", "container is already running");
		goto out;
	}
	c->want_daemonize(c, true);
	c->want_close_all_fds(c, true);
	if (!c->start(c, 0, NULL)) {
		helper_report(err, "ELXC", "liblxc failed to start the container");
		goto out;
	}
	if (!c->wait(c, "RUNNING", RUNNING_TIMEOUT_SEC)) {
		helper_report(err, "ETIMEDOUT", "not RUNNING after %d s", RUNNING_TIMEOUT_SEC);
		goto out;
	}
	pid = c->init_pid(c);
	if (pid <= 0) {
		helper_report(err, "ELXC", "container stopped right after starting");
		goto out;
	}
	dprintf(out, "%d\n", (int)pid);
	rc = HELPER_OK;
out:
	lxc_container_put(c);
	return rc;
}
