/*
 * forkmount / mknod: device plumbing for running containers.
 *   forkmount mount PID SOURCE TARGET OPTIONS
 *     OPTIONS: comma list of bind|rbind, ro, idmap, file|dir, and one of
 *     private|shared|slave|unbindable (r-prefixed forms too).
 *     A detached copy of SOURCE is made on the host (open_tree), made
 *     read-only and/or idmapped to the container's user namespace
 *     (mount_setattr), then, inside the container's user and mount
 *     namespaces, TARGET (and its parents) is created as the container's
 *     root and the copy is attached there (move_mount).
 *   forkmount umount PID TARGET keep|file|dir
 *     Detaches TARGET inside the container and removes the mount point
 *     when asked (a file for device nodes; an empty directory).
 *   mknod PATH c|b MAJOR MINOR MODE UID GID
 *     Creates a device node on the host with exact mode and owner.
 * Prints nothing on success; on failure one line "<ECODE> <message>" on
 * stderr.
 * Man pages: open_tree(2), mount_setattr(2), move_mount(2), umount2(2),
 * setns(2), mknod(2), chown(2), makedev(3).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "dev-ns.h"
#include "helper.h"

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif

struct fm_mount_attr {
	__u64 attr_set;
	__u64 attr_clr;
	__u64 propagation;
	__u64 userns_fd;
};

struct fm_opts {
	int recursive;
	int readonly;
	int idmap;
	int is_file;
	unsigned long propagation;
};

static int report_errno(int err, const char *fmt, const char *arg)
{
	char msg[512];

	snprintf(msg, sizeof(msg), fmt, arg);
	helper_report(STDERR_FILENO, helper_errno_name(err), "%s: %s", msg, strerror(err));
	return HELPER_FAIL;
}

static int parse_pid(const char *s, pid_t *pid)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v <= 0 || v > 0x3fffffff)
		return -1;
	*pid = (pid_t)v;
	return 0;
}

static int parse_opts(const char *text, struct fm_opts *o)
{
	char buf[256], *save = NULL, *tok;

	memset(o, 0, sizeof(*o));
	if (strlen(text) >= sizeof(buf))
		return -1;
	strcpy(buf, text);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int rec = tok[0] == 'r' && strcmp(tok, "ro") != 0 && strcmp(tok, "rbind") != 0;
		const char *p = rec ? tok + 1 : tok;

		if (strcmp(tok, "bind") == 0)
			o->recursive = 0;
		else if (strcmp(tok, "rbind") == 0)
			o->recursive = 1;
		else if (strcmp(tok, "ro") == 0)
			o->readonly = 1;
		else if (strcmp(tok, "idmap") == 0)
			o->idmap = 1;
		else if (strcmp(tok, "file") == 0)
			o->is_file = 1;
		else if (strcmp(tok, "dir") == 0)
			o->is_file = 0;
		else if (strcmp(p, "private") == 0)
			o->propagation = MS_PRIVATE;
		else if (strcmp(p, "shared") == 0)
			o->propagation = MS_SHARED;
		else if (strcmp(p, "slave") == 0)
			o->propagation = MS_SLAVE;
		else if (strcmp(p, "unbindable") == 0)
			o->propagation = MS_UNBINDABLE;
		else
			return -1;
	}
	return 0;
}

/* mkdir -p of TARGET's parents (mode 0755), then the mount point itself. */
static int create_target(const char *target, int is_file)
{
	char path[4096];
	size_t len = strlen(target);
	int fd;

	if (len == 0 || len >= sizeof(path) || target[0] != '/') {
		errno = EINVAL;
		return -1;
	}
	strcpy(path, target);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (!is_file)
		return (mkdir(path, 0755) < 0 && errno != EEXIST) ? -1 : 0;
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int do_mount(int argc, char **argv)
{
	struct fm_mount_attr attr = { 0 };
	struct fm_opts o;
	const char *source, *target;
	char userns[64], msg[256];
	int pidfd, tree, usr = -1, err;
	pid_t pid;

	if (argc != 7 || parse_pid(argv[3], &pid) < 0 || parse_opts(argv[6], &o) < 0) {
		helper_report(STDERR_FILENO, "EINVAL",
			      "usage: incusd-helper forkmount mount PID SOURCE TARGET OPTIONS");
		return HELPER_FAIL;
	}
	source = argv[4];
	target = argv[5];

	pidfd = dev_pidfd_open(pid);
	if (pidfd < 0)
		return report_errno(errno, "pidfd_open of the container init %s", argv[3]);

	tree = (int)syscall(SYS_open_tree, AT_FDCWD, source,
			    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (o.recursive ? AT_RECURSIVE : 0));
	if (tree < 0)
		return report_errno(errno, "open_tree %s", source);

	if (o.readonly)
		attr.attr_set |= MOUNT_ATTR_RDONLY;
	if (o.idmap) {
		snprintf(userns, sizeof(userns), "/proc/%d/ns/user", (int)pid);
		usr = open(userns, O_RDONLY | O_CLOEXEC);
		if (usr < 0)
			return report_errno(errno, "open %s", userns);
		attr.attr_set |= MOUNT_ATTR_IDMAP;
		attr.userns_fd = (__u64)usr;
	}
	attr.propagation = o.propagation;
	if ((attr.attr_set || attr.propagation) &&
	    syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | (o.recursive ? AT_RECURSIVE : 0),
		    &attr, sizeof(attr)) < 0)
		return report_errno(errno, "mount_setattr on the copy of %s", source);

	err = dev_enter(pidfd, pid, DEV_NS_USER | DEV_NS_MNT, msg, sizeof(msg));
	if (err) {
		helper_report(STDERR_FILENO, helper_errno_name(err), "entering the container: %s", msg);
		return HELPER_FAIL;
	}
	if (create_target(target, o.is_file) < 0)
		return report_errno(errno, "creating mount point %s in the container", target);
	if (syscall(SYS_move_mount, tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return report_errno(errno, "move_mount onto %s in the container", target);
	return HELPER_OK;
}

static int do_umount(int argc, char **argv)
{
	const char *target, *remove;
	char msg[256];
	int pidfd, err;
	pid_t pid;

	if (argc != 6 || parse_pid(argv[3], &pid) < 0 ||
	    (strcmp(argv[5], "keep") && strcmp(argv[5], "file") && strcmp(argv[5], "dir"))) {
		helper_report(STDERR_FILENO, "EINVAL",
			      "usage: incusd-helper forkmount umount PID TARGET keep|file|dir");
		return HELPER_FAIL;
	}
	target = argv[4];
	remove = argv[5];
	pidfd = dev_pidfd_open(pid);
	if (pidfd < 0)
		return report_errno(errno, "pidfd_open of the container init %s", argv[3]);
	err = dev_enter(pidfd, pid, DEV_NS_USER | DEV_NS_MNT, msg, sizeof(msg));
	if (err) {
		helper_report(STDERR_FILENO, helper_errno_name(err), "entering the container: %s", msg);
		return HELPER_FAIL;
	}
	/* Nothing mounted there any more is not an error: the goal is reached. */
	if (umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
		return report_errno(errno, "umount %s in the container", target);
	if (strcmp(remove, "file") == 0 && unlink(target) < 0 && errno != ENOENT)
		return report_errno(errno, "removing %s in the container", target);
	/* A directory that holds files of the image stays. */
	if (strcmp(remove, "dir") == 0 && rmdir(target) < 0 && errno != ENOENT && errno != ENOTEMPTY &&
	    errno != EBUSY)
		return report_errno(errno, "removing %s in the container", target);
	return HELPER_OK;
}

int cmd_forkmount(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[2], "mount") == 0)
		return do_mount(argc, argv);
	if (argc >= 3 && strcmp(argv[2], "umount") == 0)
		return do_umount(argc, argv);
	helper_report(STDERR_FILENO, "EINVAL", "usage: incusd-helper forkmount mount|umount ...");
	return HELPER_FAIL;
}

static int parse_uint(const char *s, int base, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, base);
	if (*s == '\0' || *s == '-' || *end != '\0' || errno || v > max)
		return -1;
	*out = v;
	return 0;
}

int cmd_mknod(int argc, char **argv)
{
	unsigned long major, minor, mode, uid, gid;
	const char *path;
	mode_t type;

	if (argc != 9 || (strcmp(argv[3], "c") && strcmp(argv[3], "b")) ||
	    parse_uint(argv[4], 10, 0xfff, &major) || parse_uint(argv[5], 10, 0xfffff, &minor) ||
	    parse_uint(argv[6], 8, 07777, &mode) || parse_uint(argv[7], 10, 0xfffffffe, &uid) ||
	    parse_uint(argv[8], 10, 0xfffffffe, &gid)) {
		helper_report(STDERR_FILENO, "EINVAL",
			      "usage: incusd-helper mknod PATH c|b MAJOR MINOR MODE UID GID");
		return HELPER_FAIL;
	}
	path = argv[2];
	type = argv[3][0] == 'c' ? S_IFCHR : S_IFBLK;
	if (unlink(path) < 0 && errno != ENOENT)
		return report_errno(errno, "removing old %s", path);
	if (mknod(path, type | (mode_t)mode, makedev(major, minor)) < 0)
		return report_errno(errno, "mknod %s", path);
	if (lchown(path, (uid_t)uid, (gid_t)gid) < 0)
		return report_errno(errno, "chown %s", path);
	/* mknod honours the umask; chmod sets the exact mode. */
	if (chmod(path, (mode_t)mode) < 0)
		return report_errno(errno, "chmod %s", path);
	return HELPER_OK;
}
