/*
 * Entering a running container's namespaces (see dev-ns.h). setns() with a
 * pidfd joins several namespaces at once (Linux 5.8); older kernels take
 * the /proc/<pid>/ns files, user namespace first. After joining a user
 * namespace the helper becomes uid/gid 0 of it, so that the files it
 * creates belong to the container's root.
 * Man pages: setns(2), pidfd_open(2), user_namespaces(7), setresuid(2),
 * setgroups(2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dev-ns.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

int dev_pidfd_open(pid_t pid)
{
	/* pidfds are close-on-exec from birth. */
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

int dev_other_userns(pid_t pid)
{
	struct stat a, b;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	if (stat("/proc/self/ns/user", &a) < 0 || stat(path, &b) < 0)
		return -1;
	return !(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
}

static int failed(char *msg, size_t msglen, const char *what)
{
	int err = errno ? errno : EIO;

	snprintf(msg, msglen, "%s: %s", what, strerror(err));
	return err;
}

static int setns_paths(pid_t pid, int flags, char *msg, size_t msglen)
{
	static const struct {
		int flag;
		const char *name;
	} order[] = { { CLONE_NEWUSER, "user" }, { CLONE_NEWNS, "mnt" }, { CLONE_NEWNET, "net" } };
	int fds[3] = { -1, -1, -1 };
	char path[64];
	int err = 0;

	/* Open every file first: /proc changes meaning once the mount namespace does. */
	for (size_t i = 0; i < 3; i++) {
		if (!(flags & order[i].flag))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, order[i].name);
		fds[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0) {
			err = failed(msg, msglen, path);
			goto out;
		}
	}
	for (size_t i = 0; i < 3; i++) {
		if (fds[i] >= 0 && setns(fds[i], order[i].flag) < 0) {
			err = failed(msg, msglen, "setns");
			goto out;
		}
	}
out:
	for (size_t i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return err;
}

int dev_enter(int pidfd, pid_t pid, int which, char *msg, size_t msglen)
{
	int flags = 0, other, err;

	other = dev_other_userns(pid);
	if (other < 0)
		return failed(msg, msglen, "cannot read the container's user namespace");
	if ((which & DEV_NS_USER) && other)
		flags |= CLONE_NEWUSER;
	if (which & DEV_NS_MNT)
		flags |= CLONE_NEWNS;
	if (which & DEV_NS_NET)
		flags |= CLONE_NEWNET;
	if (flags == 0)
		return 0;

	if (setns(pidfd, flags) < 0) {
		if (errno != EINVAL)
			return failed(msg, msglen, "setns");
		err = setns_paths(pid, flags, msg, msglen);
		if (err)
			return err;
	}
	if (flags & CLONE_NEWUSER) {
		if (setresgid(0, 0, 0) < 0)
			return failed(msg, msglen, "setresgid");
		/* Refused where the namespace has setgroups "deny"; harmless then. */
		if (setgroups(0, NULL) < 0 && errno != EPERM)
			return failed(msg, msglen, "setgroups");
		if (setresuid(0, 0, 0) < 0)
			return failed(msg, msglen, "setresuid");
	}
	if ((flags & CLONE_NEWNS) && chdir("/") < 0)
		return failed(msg, msglen, "chdir");
	return 0;
}
