/*
 * forkfile wire protocol: the daemon and `incusd-helper forkfile` exchange
 * one SOCK_SEQPACKET message per request and per reply over a socketpair
 * (fd 3 in the helper). All integers are little-endian (both ends run on the
 * same host; the build refuses big-endian targets). lib/native/forkfile-wire.ts
 * is the TypeScript side of these layouts and must change with them.
 *
 * Request:  struct ff_req, then len1 bytes of path, then len2 bytes of the
 *           second string (symlink target, new name); no NUL terminators.
 *           FSTAT/FSETSTAT carry one fd (SCM_RIGHTS).
 * Reply:    struct ff_resp, then op-specific payload; OPEN carries the opened
 *           fd (SCM_RIGHTS). READDIR may answer with several messages: every
 *           one but the last has FF_RESP_MORE set.
 * The first message the helper sends, before any request, is a reply with
 * err = 0 once it sits inside the container, or err = errno and a message
 * as payload when it could not get there.
 * Man pages: unix(7), socket(2) (SOCK_SEQPACKET), cmsg(3).
 */
#ifndef INCUSD_FORKFILE_H
#define INCUSD_FORKFILE_H

#include <stdint.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the forkfile protocol assumes a little-endian host"
#endif

/* Request ops. */
enum ff_op {
	FF_LSTAT = 1,
	FF_STAT = 2,
	FF_READDIR = 3,
	FF_MKDIR = 4,
	FF_SYMLINK = 5,
	FF_READLINK = 6,
	FF_REMOVE = 7,     /* unlink; with FF_F_DIR_OK an empty dir too */
	FF_RMDIR = 8,
	FF_REMOVE_ALL = 9, /* rm -r without following symlinks */
	FF_RENAME = 10,    /* FF_F_NOREPLACE: fail when the target exists */
	FF_SETSTAT = 11,   /* mask in flags: FF_SET_* */
	FF_OPEN = 12,      /* flags: FF_O_*; replies with the fd */
	FF_FSTAT = 13,     /* fd attached */
	FF_FSETSTAT = 14,  /* fd attached, mask in flags */
	FF_STATVFS = 15,
	FF_LINK = 16,      /* hard link: path -> new name in path2 */
	/*
	 * The guest agent's own ops (native/agent/files.c): a file opened with
	 * FF_O_RANDOM stays open in the agent as a handle (its number in the
	 * request's pad field) instead of an fd passed back. FF_FSTAT and
	 * FF_FSETSTAT take the handle the same way.
	 */
	FF_PREAD = 17,  /* a = offset, b = length; the reply's payload holds the bytes (none: end of file) */
	FF_PWRITE = 18, /* a = offset; the len1 bytes after the header are the data (not a path) */
	FF_FSYNC = 19,
	FF_CLOSE = 20,
};

/* Request flags (meaning depends on op). */
#define FF_F_NOFOLLOW 0x0001u  /* SETSTAT: act on a symlink itself */
#define FF_F_DIR_OK 0x0002u    /* REMOVE: rmdir when it is a directory */
#define FF_F_NOREPLACE 0x0004u /* RENAME */
#define FF_SET_OWNER 0x0100u   /* uid/gid, -1 keeps one */
#define FF_SET_MODE 0x0200u
#define FF_SET_TIMES 0x0400u   /* a = atime, b = mtime (seconds) */
#define FF_SET_SIZE 0x0800u    /* a = size */
#define FF_MODE_SET 0x1000u    /* MKDIR/OPEN/SYMLINK: mode field is explicit */
#define FF_O_READ 0x010000u
#define FF_O_WRITE 0x020000u
#define FF_O_APPEND 0x040000u
#define FF_O_CREAT 0x080000u
#define FF_O_TRUNC 0x100000u
#define FF_O_EXCL 0x200000u
#define FF_O_RANDOM 0x400000u /* agent: keep the file open as a handle for FF_PREAD/FF_PWRITE */

struct ff_req {
	uint32_t op;
	uint32_t flags;
	uint32_t mode;
	int32_t uid;
	int32_t gid;
	uint32_t len1;
	uint32_t len2;
	uint32_t pad;
	int64_t a;
	int64_t b;
} __attribute__((packed));

/* What the helper reports of a stat(2) result (ids as the container sees them). */
struct ff_stat {
	uint32_t mode; /* st_mode: type and permission bits */
	uint32_t uid;
	uint32_t gid;
	uint32_t nlink;
	uint64_t size;
	int64_t atime;
	int64_t mtime;
	int64_t ctime;
	uint32_t atime_nsec;
	uint32_t mtime_nsec;
} __attribute__((packed));

/* Reply flags. */
#define FF_RESP_MORE 0x1u    /* READDIR: another message follows */
#define FF_RESP_CREATED 0x2u /* OPEN: the file was created by this call */

struct ff_resp {
	int32_t err; /* 0 or a positive errno */
	uint32_t flags;
	uint32_t count; /* READDIR: entries in this message */
	uint32_t pad;
	struct ff_stat st; /* LSTAT/STAT/OPEN/FSTAT */
} __attribute__((packed));

/*
 * READDIR payload: count entries of struct ff_stat (lstat of the entry),
 * uint16_t name length, then the name bytes. "." and ".." are left out.
 * STATVFS payload: 11 uint64_t: bsize frsize blocks bfree bavail files ffree
 * favail fsid flag namemax. READLINK payload: the target bytes.
 */

/* Longest path in a request (bytes, without a terminator). */
#define FF_PATH_MAX 4096
/* Largest request: header plus two FF_PATH_MAX strings. */
#define FF_MAX_REQ (sizeof(struct ff_req) + 2 * FF_PATH_MAX)
/* Largest reply message the helper sends. */
#define FF_MAX_RESP (64 * 1024)

#include <stddef.h>

/* forkfile-enter.c: 0, or an errno with a message in msg. */
int forkfile_enter_pid(int pid, char *msg, size_t msglen);
int forkfile_enter_rootfs(const char *rootfs, const char *uidmap, const char *gidmap,
			  char *msg, size_t msglen);

/* forkfile.c: sends one reply (fd >= 0 is passed along); -1 when the socket failed. */
int ff_send(int sock, const struct ff_resp *resp, const void *payload, size_t len, int fd);
/* Sends a reply carrying only err. */
int ff_send_err(int sock, int err);

/*
 * forkfile-ops.c: checks and splits one request message of n bytes: 0, or
 * EINVAL (short, lengths that do not add up, a NUL inside a path). p1 and p2
 * get the NUL-terminated paths and must hold FF_PATH_MAX + 1 bytes.
 */
int ff_parse_request(const char *msg, size_t n, struct ff_req *req, char *p1, char *p2);
/* forkfile-ops.c: serves one request; p1/p2 are NUL-terminated; fd is -1 or a passed fd (closed here). */
int ff_dispatch(int sock, const struct ff_req *req, const char *p1, const char *p2, int fd);

#endif
