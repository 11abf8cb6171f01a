/*
 * forkfile: put this (single-threaded) helper inside a container before it
 * serves any file request, so that every path it resolves, symlinks and ".."
 * included, stays within the container and files get the container's ids.
 *  - running container: join the user (when it differs from ours) and mount
 *    namespaces of its init through a pidfd, then become uid/gid 0 there;
 *    the mount namespace's root is the container's root;
 *  - stopped container: chroot into its rootfs, after joining a fresh user
 *    namespace with the container's map when the rootfs is shifted on disk.
 * Joining a user namespace drops every capability in the host's namespace,
 * and the process is made non-dumpable so the container cannot ptrace it.
 * Man pages: setns(2), pidfd_open(2), pidfd_send_signal(2), user_namespaces(7),
 * chroot(2), setresuid(2), setgroups(2), prctl(2) (PR_SET_DUMPABLE), clone(2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "forkfile.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* Records "what: strerror" in msg and returns the errno to report. */
static int fail(char *msg, size_t msglen, const char *what)
{
	int err = errno ? errno : EIO;

	snprintf(msg, msglen, "%s: %s", what, strerror(err));
	return err;
}

/* Becomes uid/gid 0 of the user namespace just joined (full caps there). */
static int become_root(char *msg, size_t msglen)
{
	if (setresgid(0, 0, 0) < 0)
		return fail(msg, msglen, "setresgid");
	/* Refused where the namespace has setgroups "deny"; the old groups then stay. */
	if (setgroups(0, NULL) < 0 && errno != EPERM)
		return fail(msg, msglen, "setgroups");
	if (setresuid(0, 0, 0) < 0)
		return fail(msg, msglen, "setresuid");
	return 0;
}

/* True when /proc/<pid>/ns/user is our own user namespace. */
static int same_userns(int pid, int *same)
{
	struct stat a, b;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
	if (stat("/proc/self/ns/user", &a) < 0 || stat(path, &b) < 0)
		return -1;
	*same = a.st_dev == b.st_dev && a.st_ino == b.st_ino;
	return 0;
}

/* Older kernels: setns through the /proc namespace files, user first. */
static int setns_by_path(int pid, int flags)
{
	static const struct {
		int flag;
		const char *name;
	} order[] = { { CLONE_NEWUSER, "user" }, { CLONE_NEWNS, "mnt" } };
	char path[64];

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		int fd, rc;

		if (!(flags & order[i].flag))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, order[i].name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -1;
		rc = setns(fd, order[i].flag);
		close(fd);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int forkfile_enter_pid(int pid, char *msg, size_t msglen)
{
	int pidfd, same = 0, flags = CLONE_NEWNS, rc;

	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return fail(msg, msglen, "pidfd_open");
	if (same_userns(pid, &same) < 0) {
		rc = fail(msg, msglen, "cannot read the container's user namespace");
		close(pidfd);
		return rc;
	}
	/* The pidfd predates the /proc lookup: if init is still alive, /proc named it. */
	if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0) {
		rc = fail(msg, msglen, "container init is gone");
		close(pidfd);
		return rc;
	}
	if (!same)
		flags |= CLONE_NEWUSER;
	rc = setns(pidfd, flags);
	if (rc < 0 && errno == EINVAL)
		rc = setns_by_path(pid, flags);
	if (rc < 0) {
		rc = fail(msg, msglen, "setns");
		close(pidfd);
		return rc;
	}
	close(pidfd);
	if (!same && (rc = become_root(msg, msglen)) != 0)
		return rc;
	if (chdir("/") < 0)
		return fail(msg, msglen, "chdir /");
	return 0;
}

static int write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n, len = (ssize_t)strlen(value);

	if (fd < 0)
		return -1;
	n = write(fd, value, (size_t)len);
	close(fd);
	if (n != len) {
		if (n >= 0)
			errno = EIO;
		return -1;
	}
	return 0;
}

/*
 * Joins a new user namespace with the given maps: a child made by
 * clone(CLONE_NEWUSER) holds it while we write its maps and open it.
 */
static int join_new_userns(const char *uidmap, const char *gidmap, char *msg, size_t msglen)
{
	int gate[2], ufd = -1, rc = 0;
	char path[64];
	pid_t child;

	if (pipe2(gate, O_CLOEXEC) < 0)
		return fail(msg, msglen, "pipe2");
	child = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
	if (child < 0) {
		rc = fail(msg, msglen, "clone(CLONE_NEWUSER)");
		close(gate[0]);
		close(gate[1]);
		return rc;
	}
	if (child == 0) {
		char byte;

		close(gate[1]);
		while (read(gate[0], &byte, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(gate[0]);
	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)child);
	if (write_file(path, uidmap) < 0) {
		rc = fail(msg, msglen, "cannot write uid_map");
		goto out;
	}
	snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)child);
	if (write_file(path, gidmap) < 0) {
		rc = fail(msg, msglen, "cannot write gid_map");
		goto out;
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)child);
	ufd = open(path, O_RDONLY | O_CLOEXEC);
	if (ufd < 0)
		rc = fail(msg, msglen, "cannot open the new user namespace");
out:
	close(gate[1]);
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	if (rc != 0)
		return rc;
	if (setns(ufd, CLONE_NEWUSER) < 0) {
		rc = fail(msg, msglen, "setns(user)");
		close(ufd);
		return rc;
	}
	close(ufd);
	return become_root(msg, msglen);
}

int forkfile_enter_rootfs(const char *rootfs, const char *uidmap, const char *gidmap,
			  char *msg, size_t msglen)
{
	int rootfd, rc;

	/* Opened first: once in the new namespace, the path above may not be searchable. */
	rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return fail(msg, msglen, "cannot open the rootfs");
	/* A chrooted process may not join a user namespace, so join before chroot. */
	if (uidmap && gidmap && (rc = join_new_userns(uidmap, gidmap, msg, msglen)) != 0) {
		close(rootfd);
		return rc;
	}
	if (fchdir(rootfd) < 0) {
		rc = fail(msg, msglen, "fchdir rootfs");
		close(rootfd);
		return rc;
	}
	close(rootfd);
	if (chroot(".") < 0)
		return fail(msg, msglen, "chroot");
	if (chdir("/") < 0)
		return fail(msg, msglen, "chdir /");
	return 0;
}
