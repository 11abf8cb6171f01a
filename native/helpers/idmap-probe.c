/*
 * idmap-probe: check that an idmapped mount of DIR can be made, without
 * attaching it anywhere. A child in a fresh user namespace (uid/gid map
 * "0 1000000 65536") provides the idmap; open_tree(OPEN_TREE_CLONE) gives a
 * detached copy of DIR and mount_setattr(MOUNT_ATTR_IDMAP) applies the map.
 * Exit 0: works; 2: the kernel or filesystem refused (errno name printed);
 * 1: any other failure.
 * Man pages: user_namespaces(7), clone(2), open_tree(2), mount_setattr(2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper.h"

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif

struct probe_mount_attr {
	__u64 attr_set;
	__u64 attr_clr;
	__u64 propagation;
	__u64 userns_fd;
};

static int write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	size_t len = strlen(value);

	if (fd < 0)
		return -1;
	n = write(fd, value, len);
	close(fd);
	if (n != (ssize_t)len) {
		if (n >= 0)
			errno = EIO;
		return -1;
	}
	return 0;
}

/* Writes the maps of the child's user namespace; returns 0 or -1 (errno). */
static int write_maps(pid_t child)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)child);
	if (write_file(path, "deny") < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)child);
	if (write_file(path, "0 1000000 65536") < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)child);
	return write_file(path, "0 1000000 65536");
}

static int refused(int err)
{
	return err == EINVAL || err == EPERM || err == ENOSYS || err == EOPNOTSUPP ||
	       err == ENOTSUP || err == EACCES;
}

int cmd_idmap_probe(int argc, char **argv)
{
	int gate[2], ufd = -1, tfd = -1, rc = HELPER_FAIL, err;
	struct probe_mount_attr attr;
	char path[64];
	pid_t child;

	if (argc != 3) {
		helper_report(STDERR_FILENO, "EINVAL", "usage: incusd-helper idmap-probe DIR");
		return HELPER_FAIL;
	}
	if (pipe2(gate, O_CLOEXEC) < 0) {
		helper_report(STDERR_FILENO, helper_errno_name(errno), "pipe2: %s", strerror(errno));
		return HELPER_FAIL;
	}

	/* Like fork(), but the child starts in a new user namespace. */
	child = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
	if (child < 0) {
		err = errno;
		helper_report(STDERR_FILENO, helper_errno_name(err), "clone(CLONE_NEWUSER): %s",
			      strerror(err));
		return refused(err) ? HELPER_REFUSED : HELPER_FAIL;
	}
	if (child == 0) {
		char byte;

		/* Hold the namespace until the parent closes its end. */
		close(gate[1]);
		while (read(gate[0], &byte, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(gate[0]);

	if (write_maps(child) < 0) {
		err = errno;
		helper_report(STDERR_FILENO, helper_errno_name(err), "cannot write id maps: %s",
			      strerror(err));
		goto out;
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)child);
	ufd = open(path, O_RDONLY | O_CLOEXEC);
	if (ufd < 0) {
		err = errno;
		helper_report(STDERR_FILENO, helper_errno_name(err), "open %s: %s", path,
			      strerror(err));
		goto out;
	}
	tfd = (int)syscall(SYS_open_tree, AT_FDCWD, argv[2], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (tfd < 0) {
		err = errno;
		helper_report(STDERR_FILENO, helper_errno_name(err), "open_tree %s: %s", argv[2],
			      strerror(err));
		if (err == ENOSYS)
			rc = HELPER_REFUSED;
		goto out;
	}
	memset(&attr, 0, sizeof(attr));
	attr.attr_set = MOUNT_ATTR_IDMAP;
	attr.userns_fd = (__u64)ufd;
	if (syscall(SYS_mount_setattr, tfd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) {
		err = errno;
		helper_report(STDERR_FILENO, helper_errno_name(err), "mount_setattr %s: %s",
			      argv[2], strerror(err));
		rc = refused(err) ? HELPER_REFUSED : HELPER_FAIL;
		goto out;
	}
	rc = HELPER_OK;
out:
	/* The detached tree is never attached: closing it drops it. */
	if (tfd >= 0)
		close(tfd);
	if (ufd >= 0)
		close(ufd);
	close(gate[1]);
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	return rc;
}
