/*
 * forkfile request handlers: each runs inside the container (see
 * forkfile-enter.c), so plain path calls resolve every component, symlinks
 * included, against the container's root. Ids and modes are the container's.
 * Man pages: stat(2), fstatat(2), open(2), fcntl(2), mkdir(2), symlink(2),
 * readlink(2), unlink(2), rmdir(2), rename(2) (renameat2), link(2),
 * chown(2), chmod(2), utimensat(2), truncate(2), statvfs(3), opendir(3),
 * readdir(3), nftw(3).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "forkfile.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif

static void fill_stat(struct ff_stat *o, const struct stat *s)
{
	o->mode = s->st_mode;
	o->uid = s->st_uid;
	o->gid = s->st_gid;
	o->nlink = (uint32_t)s->st_nlink;
	o->size = (uint64_t)s->st_size;
	o->atime = s->st_atim.tv_sec;
	o->mtime = s->st_mtim.tv_sec;
	o->ctime = s->st_ctim.tv_sec;
	o->atime_nsec = (uint32_t)s->st_atim.tv_nsec;
	o->mtime_nsec = (uint32_t)s->st_mtim.tv_nsec;
}

/* Replies with err, or with the stat of s when err is 0 (and fd, if any, attached). */
static int reply_stat(int sock, int err, const struct stat *s, uint32_t flags, int fd)
{
	struct ff_resp r;

	memset(&r, 0, sizeof(r));
	r.err = err;
	if (!err) {
		r.flags = flags;
		fill_stat(&r.st, s);
	}
	return ff_send(sock, &r, NULL, 0, err ? -1 : fd);
}

/* Replies 0 or the errno of a failed call (rc < 0). */
static int reply_rc(int sock, int rc)
{
	return ff_send_err(sock, rc < 0 ? (errno ? errno : EIO) : 0);
}

static int do_stat(int sock, const struct ff_req *req, const char *p)
{
	struct stat s;
	int rc = req->op == FF_LSTAT ? lstat(p, &s) : stat(p, &s);

	return reply_stat(sock, rc < 0 ? errno : 0, &s, 0, -1);
}

/* Sends the listing in messages of at most FF_MAX_RESP bytes. */
static int do_readdir(int sock, const char *p)
{
	static char payload[FF_MAX_RESP - sizeof(struct ff_resp)];
	struct ff_resp r;
	size_t off = 0;
	struct dirent *e;
	DIR *d;

	d = opendir(p);
	if (!d)
		return ff_send_err(sock, errno);
	memset(&r, 0, sizeof(r));
	for (;;) {
		struct ff_stat fs;
		struct stat s;
		uint16_t len;
		size_t need;

		errno = 0;
		e = readdir(d);
		if (!e)
			break;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		/* An entry removed since readdir() saw it is simply left out. */
		if (fstatat(dirfd(d), e->d_name, &s, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		len = (uint16_t)strlen(e->d_name);
		need = sizeof(fs) + sizeof(len) + len;
		if (off + need > sizeof(payload)) {
			r.flags = FF_RESP_MORE;
			if (ff_send(sock, &r, payload, off, -1) < 0) {
				closedir(d);
				return -1;
			}
			off = 0;
			r.count = 0;
		}
		fill_stat(&fs, &s);
		memcpy(payload + off, &fs, sizeof(fs));
		memcpy(payload + off + sizeof(fs), &len, sizeof(len));
		memcpy(payload + off + sizeof(fs) + sizeof(len), e->d_name, len);
		off += need;
		r.count++;
	}
	if (errno != 0) {
		int err = errno;

		closedir(d);
		return ff_send_err(sock, err);
	}
	closedir(d);
	r.flags = 0;
	return ff_send(sock, &r, payload, off, -1);
}

static int want_owner(const struct ff_req *req)
{
	return req->uid >= 0 || req->gid >= 0;
}

static int do_mkdir(int sock, const struct ff_req *req, const char *p)
{
	mode_t mode = (req->flags & FF_MODE_SET) ? (req->mode & 07777) : 0755;

	if (mkdir(p, mode & 0777) < 0)
		return reply_rc(sock, -1);
	if (want_owner(req) && lchown(p, (uid_t)req->uid, (gid_t)req->gid) < 0)
		return reply_rc(sock, -1);
	/* After chown, which clears set-id bits; also gives the exact mode. */
	if ((req->flags & FF_MODE_SET) && chmod(p, mode) < 0)
		return reply_rc(sock, -1);
	return reply_rc(sock, 0);
}

static int do_symlink(int sock, const struct ff_req *req, const char *link, const char *target)
{
	if (symlink(target, link) < 0)
		return reply_rc(sock, -1);
	if (want_owner(req) && lchown(link, (uid_t)req->uid, (gid_t)req->gid) < 0)
		return reply_rc(sock, -1);
	return reply_rc(sock, 0);
}

static int do_readlink(int sock, const char *p)
{
	char target[PATH_MAX];
	struct ff_resp r;
	ssize_t n = readlink(p, target, sizeof(target));

	if (n < 0)
		return ff_send_err(sock, errno);
	memset(&r, 0, sizeof(r));
	return ff_send(sock, &r, target, (size_t)n, -1);
}

static int do_remove(int sock, const struct ff_req *req, const char *p)
{
	int rc = unlink(p);

	if (rc < 0 && errno == EISDIR && (req->flags & FF_F_DIR_OK))
		rc = rmdir(p);
	return reply_rc(sock, rc);
}

static int remove_all_err;

static int remove_entry(const char *path, const struct stat *s, int type, struct FTW *ftw)
{
	(void)s;
	(void)ftw;
	if ((type == FTW_DP || type == FTW_D || type == FTW_DNR) ? rmdir(path) : unlink(path)) {
		if (!remove_all_err)
			remove_all_err = errno;
	}
	return 0; /* keep going, like rm -rf; the first error is reported */
}

static int do_remove_all(int sock, const char *p)
{
	struct stat s;

	if (lstat(p, &s) < 0)
		return ff_send_err(sock, errno);
	remove_all_err = 0;
	if (nftw(p, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 && !remove_all_err)
		remove_all_err = errno;
	return ff_send_err(sock, remove_all_err);
}

static int do_rename(int sock, const struct ff_req *req, const char *from, const char *to)
{
	int rc;

	if (req->flags & FF_F_NOREPLACE)
		rc = (int)syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
	else
		rc = rename(from, to);
	return reply_rc(sock, rc);
}

/* Applies the FF_SET_* mask to a path (fd < 0) or to fd. */
static int apply_setstat(const struct ff_req *req, const char *p, int fd)
{
	int nofollow = fd < 0 && (req->flags & FF_F_NOFOLLOW);
	struct stat s;

	if (fd >= 0 ? fstat(fd, &s) : (nofollow ? lstat(p, &s) : stat(p, &s)))
		return -1;
	if (req->flags & FF_SET_SIZE) {
		if (S_ISLNK(s.st_mode)) {
			errno = EINVAL;
			return -1;
		}
		if (fd >= 0 ? ftruncate(fd, (off_t)req->a) : truncate(p, (off_t)req->a))
			return -1;
	}
	if ((req->flags & FF_SET_OWNER) && want_owner(req)) {
		uid_t u = (uid_t)req->uid;
		gid_t g = (gid_t)req->gid;

		if (fd >= 0 ? fchown(fd, u, g) : fchownat(AT_FDCWD, p, u, g, nofollow ? AT_SYMLINK_NOFOLLOW : 0))
			return -1;
	}
	/* A symlink has no mode of its own on Linux: nothing to set. */
	if ((req->flags & FF_SET_MODE) && !S_ISLNK(s.st_mode)) {
		if (fd >= 0 ? fchmod(fd, req->mode & 07777) : chmod(p, req->mode & 07777))
			return -1;
	}
	if (req->flags & FF_SET_TIMES) {
		struct timespec ts[2] = { { .tv_sec = req->a }, { .tv_sec = req->b } };

		if (fd >= 0 ? futimens(fd, ts)
			    : utimensat(AT_FDCWD, p, ts, nofollow ? AT_SYMLINK_NOFOLLOW : 0))
			return -1;
	}
	return 0;
}

/*
 * Opens a regular file for the daemon. With CREAT (and no EXCL) an existing
 * file is opened as is; only a file this call creates gets the requested
 * mode and owner, and the reply says which happened.
 */
static int do_open(int sock, const struct ff_req *req, const char *p)
{
	uint32_t f = req->flags;
	int acc = (f & FF_O_WRITE) ? ((f & FF_O_READ) ? O_RDWR : O_WRONLY) : O_RDONLY;
	int base = acc | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	mode_t mode = (f & FF_MODE_SET) ? (req->mode & 07777) : 0644;
	int fd = -1, created = 0, err;
	struct stat s;

	if (f & FF_O_APPEND)
		base |= O_APPEND;
	if ((f & FF_O_TRUNC) && acc != O_RDONLY)
		base |= O_TRUNC;
	if ((f & FF_O_CREAT) && (f & FF_O_EXCL)) {
		fd = open(p, base | O_CREAT | O_EXCL, mode & 0777);
		created = fd >= 0;
	} else if (f & FF_O_CREAT) {
		for (int tries = 0; tries < 4; tries++) {
			fd = open(p, base);
			if (fd >= 0 || errno != ENOENT)
				break;
			fd = open(p, base | O_CREAT | O_EXCL, mode & 0777);
			if (fd >= 0) {
				created = 1;
				break;
			}
			if (errno != EEXIST)
				break;
		}
		/* A dangling symlink: EXCL refuses it, a plain create makes its target. */
		if (fd < 0 && errno == EEXIST) {
			fd = open(p, base | O_CREAT, mode & 0777);
			created = fd >= 0;
		}
	} else {
		fd = open(p, base);
	}
	if (fd < 0)
		return ff_send_err(sock, errno);

	if (fstat(fd, &s) < 0)
		goto fail;
	if (!S_ISREG(s.st_mode)) {
		errno = S_ISDIR(s.st_mode) ? EISDIR : EINVAL;
		goto fail;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
		goto fail;
	if (created) {
		if (want_owner(req) && fchown(fd, (uid_t)req->uid, (gid_t)req->gid) < 0)
			goto fail;
		if ((f & FF_MODE_SET) && fchmod(fd, mode) < 0)
			goto fail;
		if (fstat(fd, &s) < 0)
			goto fail;
	}
	err = reply_stat(sock, 0, &s, created ? FF_RESP_CREATED : 0, fd);
	close(fd);
	return err;
fail:
	err = errno;
	close(fd);
	return ff_send_err(sock, err);
}

static int do_statvfs(int sock, const char *p)
{
	struct statvfs v;
	struct ff_resp r;
	uint64_t out[11];

	if (statvfs(p, &v) < 0)
		return ff_send_err(sock, errno);
	out[0] = v.f_bsize;
	out[1] = v.f_frsize;
	out[2] = v.f_blocks;
	out[3] = v.f_bfree;
	out[4] = v.f_bavail;
	out[5] = v.f_files;
	out[6] = v.f_ffree;
	out[7] = v.f_favail;
	out[8] = v.f_fsid;
	out[9] = v.f_flag;
	out[10] = v.f_namemax;
	memset(&r, 0, sizeof(r));
	return ff_send(sock, &r, out, sizeof(out), -1);
}

int ff_parse_request(const char *msg, size_t n, struct ff_req *req, char *p1, char *p2)
{
	if (n < sizeof(*req))
		return EINVAL;
	memcpy(req, msg, sizeof(*req));
	if (req->len1 > FF_PATH_MAX || req->len2 > FF_PATH_MAX ||
	    sizeof(*req) + (size_t)req->len1 + req->len2 != n ||
	    memchr(msg + sizeof(*req), '\0', (size_t)req->len1 + req->len2))
		return EINVAL;
	memcpy(p1, msg + sizeof(*req), req->len1);
	p1[req->len1] = '\0';
	memcpy(p2, msg + sizeof(*req) + req->len1, req->len2);
	p2[req->len2] = '\0';
	return 0;
}

int ff_dispatch(int sock, const struct ff_req *req, const char *p1, const char *p2, int fd)
{
	struct stat s;
	int rc;

	switch (req->op) {
	case FF_FSTAT:
	case FF_FSETSTAT:
		if (fd < 0)
			return ff_send_err(sock, EBADF);
		if (req->op == FF_FSTAT)
			rc = fstat(fd, &s) < 0 ? errno : 0;
		else
			rc = apply_setstat(req, NULL, fd) < 0 ? errno : 0;
		close(fd);
		if (req->op == FF_FSTAT)
			return reply_stat(sock, rc, &s, 0, -1);
		return ff_send_err(sock, rc);
	default:
		break;
	}
	/* No other request takes an fd. */
	if (fd >= 0)
		close(fd);

	switch (req->op) {
	case FF_LSTAT:
	case FF_STAT:
		return do_stat(sock, req, p1);
	case FF_READDIR:
		return do_readdir(sock, p1);
	case FF_MKDIR:
		return do_mkdir(sock, req, p1);
	case FF_SYMLINK:
		return do_symlink(sock, req, p1, p2);
	case FF_READLINK:
		return do_readlink(sock, p1);
	case FF_REMOVE:
		return do_remove(sock, req, p1);
	case FF_RMDIR:
		return reply_rc(sock, rmdir(p1));
	case FF_REMOVE_ALL:
		return do_remove_all(sock, p1);
	case FF_RENAME:
		return do_rename(sock, req, p1, p2);
	case FF_SETSTAT:
		return reply_rc(sock, apply_setstat(req, p1, -1));
	case FF_OPEN:
		return do_open(sock, req, p1);
	case FF_STATVFS:
		return do_statvfs(sock, p1);
	case FF_LINK:
		return reply_rc(sock, link(p1, p2));
	default:
		return ff_send_err(sock, ENOSYS);
	}
}
