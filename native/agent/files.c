/*
 * files: the daemon's file requests in the guest. They are the container
 * files protocol (native/helpers/forkfile.h), one ff_req per frame, served
 * by the very handlers of `incusd-helper forkfile` (forkfile-ops.c); only
 * the transport differs: frames on agent channels instead of a seqpacket
 * socket, and an opened file is a channel instead of a passed fd.
 *
 *   {"id":N,"op":"files"} -> {"id":N,"ok":true,"channel":c}: a files channel.
 *   Each host frame on c is one request message; the replies (ff_resp plus
 *   payload, several for a long READDIR) come back as frames on c, in order.
 *   OPEN's reply carries in its pad field the channel h of the opened file:
 *     - opened read-only: the agent sends the content on h from offset 0;
 *       a zero-length host frame on h stops it early;
 *     - opened for writing: the host's frames on h are written in order, its
 *       zero-length frame closes the file;
 *   and either way the agent ends with {"event":"file-closed","channel":h,
 *   "errno":E} on channel 0 (0: every byte read or written).
 *   Opened with FF_O_RANDOM (SFTP), the file stays open as handle h for
 *   FF_PREAD / FF_PWRITE / FF_FSTAT / FF_FSETSTAT / FF_FSYNC / FF_CLOSE
 *   requests naming it in their pad field, answered on the files channel.
 * Channels of files start at FILES_CHANNEL_BASE, apart from exec's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "../helpers/forkfile.h"

#define MAX_SESSIONS 16
#define MAX_HANDLES 64
#define READ_CHUNK (64 * 1024)
/* Largest FF_PREAD answer (SFTP asks for at most 255 KiB). */
#define PREAD_MAX (256 * 1024)

struct handle {
	uint32_t channel; /* 0: free slot */
	int fd;
	int reading;
	int random; /* FF_O_RANDOM: answered request by request, never streamed */
	int err; /* first write error */
};

static uint32_t sessions[MAX_SESSIONS];
static struct handle handles[MAX_HANDLES];
static uint32_t next_channel = FILES_CHANNEL_BASE;
/* Flags of the OPEN being served (ff_send sees only its reply). */
static uint32_t open_flags;

static uint32_t new_channel(void)
{
	uint32_t c = next_channel;
	next_channel = next_channel >= 0xfffffff0u ? FILES_CHANNEL_BASE : next_channel + 1;
	return c;
}

static void close_handle(struct handle *h, int err)
{
	struct buf b = {0};
	if (close(h->fd) < 0 && !err) err = errno;
	buf_printf(&b, "{\"event\":\"file-closed\",\"channel\":%u,\"errno\":%d}", h->channel, err);
	send_json(&b);
	h->channel = 0;
	h->fd = -1;
}

/*
 * forkfile-ops.c's reply hook: sock is the files channel. An fd (OPEN) is
 * kept as a handle channel, written into the reply's pad field.
 */
int ff_send(int sock, const struct ff_resp *resp, const void *payload, size_t len, int fd)
{
	struct ff_resp r = *resp;
	struct buf b = {0};

	if (fd >= 0) {
		struct handle *h = NULL;
		for (int i = 0; i < MAX_HANDLES && !h; i++)
			if (!handles[i].channel) h = &handles[i];
		int mine = h ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
		if (mine < 0) {
			memset(&r, 0, sizeof(r));
			r.err = h ? errno : EMFILE;
			payload = NULL;
			len = 0;
		} else {
			int acc = fcntl(mine, F_GETFL) & O_ACCMODE;
			int random = (open_flags & FF_O_RANDOM) != 0;
			*h = (struct handle){.channel = new_channel(), .fd = mine, .reading = acc == O_RDONLY && !random, .random = random};
			r.pad = h->channel;
		}
	}
	buf_put(&b, &r, sizeof(r));
	if (len) buf_put(&b, payload, len);
	send_frame((uint32_t)sock, b.data, b.len);
	buf_free(&b);
	return 0;
}

int ff_send_err(int sock, int err)
{
	struct ff_resp r;

	memset(&r, 0, sizeof(r));
	r.err = err;
	return ff_send(sock, &r, NULL, 0, -1);
}

void files_open(double id)
{
	for (int i = 0; i < MAX_SESSIONS; i++) {
		if (sessions[i]) continue;
		sessions[i] = new_channel();
		struct buf b = {0};
		buf_printf(&b, "{\"id\":%.0f,\"ok\":true,\"channel\":%u}", id, sessions[i]);
		send_json(&b);
		return;
	}
	send_error(id, 503, "Too many file sessions");
}

int files_owns(uint32_t channel)
{
	return channel >= FILES_CHANNEL_BASE;
}

static struct handle *random_handle(uint32_t channel)
{
	for (int i = 0; i < MAX_HANDLES; i++)
		if (handles[i].channel && handles[i].channel == channel && handles[i].random) return &handles[i];
	return NULL;
}

/* FF_PREAD / FF_PWRITE / FF_FSYNC / FF_CLOSE on a handle; data: what follows the header. */
static void handle_op(uint32_t channel, const struct ff_req *req, const char *data, size_t len)
{
	static char chunk[PREAD_MAX];
	struct handle *h = random_handle(req->pad);
	struct ff_resp r;
	ssize_t n;

	memset(&r, 0, sizeof(r));
	if (!h) {
		ff_send_err((int)channel, EBADF);
		return;
	}
	switch (req->op) {
	case FF_PREAD:
		if (req->a < 0 || req->b < 0) { ff_send_err((int)channel, EINVAL); return; }
		do n = pread(h->fd, chunk, req->b < PREAD_MAX ? (size_t)req->b : PREAD_MAX, req->a);
		while (n < 0 && errno == EINTR);
		if (n < 0) { ff_send_err((int)channel, errno); return; }
		r.count = (uint32_t)n;
		ff_send((int)channel, &r, chunk, (size_t)n, -1);
		return;
	case FF_PWRITE:
		if (req->a < 0 || req->len1 != len) { ff_send_err((int)channel, EINVAL); return; }
		for (size_t done = 0; done < len; done += (size_t)n) {
			do n = pwrite(h->fd, data + done, len - done, req->a + (off_t)done);
			while (n < 0 && errno == EINTR);
			if (n <= 0) { ff_send_err((int)channel, n < 0 ? errno : EIO); return; }
		}
		r.count = (uint32_t)len;
		ff_send((int)channel, &r, NULL, 0, -1);
		return;
	case FF_FSYNC:
		ff_send_err((int)channel, fsync(h->fd) < 0 ? errno : 0);
		return;
	default: /* FF_CLOSE */
		n = close(h->fd);
		h->channel = 0;
		h->fd = -1;
		ff_send_err((int)channel, n < 0 ? errno : 0);
		return;
	}
}

static void serve_request(uint32_t channel, const char *msg, size_t len)
{
	static char p1[FF_PATH_MAX + 1], p2[FF_PATH_MAX + 1];
	struct ff_req req;

	if (len == 0) {
		/* The host closed the files channel; its opened files live on until closed. */
		for (int i = 0; i < MAX_SESSIONS; i++)
			if (sessions[i] == channel) sessions[i] = 0;
		return;
	}
	if (len >= sizeof(req)) {
		memcpy(&req, msg, sizeof(req));
		if (req.op >= FF_PREAD && req.op <= FF_CLOSE) {
			handle_op(channel, &req, msg + sizeof(req), len - sizeof(req));
			return;
		}
	}
	if (ff_parse_request(msg, len, &req, p1, p2)) {
		ff_send_err((int)channel, EINVAL);
		return;
	}
	int fd = -1;
	if (req.op == FF_FSTAT || req.op == FF_FSETSTAT) {
		/* On a handle: its fd, duplicated (ff_dispatch closes what it is given). */
		struct handle *h = random_handle(req.pad);
		if (!h || (fd = fcntl(h->fd, F_DUPFD_CLOEXEC, 0)) < 0) {
			ff_send_err((int)channel, EBADF);
			return;
		}
	}
	/* Modes are explicit in requests (0644 / 0755 by default), as in forkfile. */
	mode_t old = umask(0);
	open_flags = req.op == FF_OPEN ? req.flags : 0;
	ff_dispatch((int)channel, &req, p1, p2, fd);
	open_flags = 0;
	umask(old);
}

static void write_handle(struct handle *h, const char *data, size_t len)
{
	if (len == 0) {
		close_handle(h, h->err);
		return;
	}
	while (len && !h->err) {
		ssize_t n = write(h->fd, data, len);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) { h->err = n < 0 ? errno : EIO; break; }
		data += n;
		len -= (size_t)n;
	}
}

void files_data(uint32_t channel, const char *data, size_t len)
{
	for (int i = 0; i < MAX_SESSIONS; i++) {
		if (sessions[i] && sessions[i] == channel) {
			serve_request(channel, data, len);
			return;
		}
	}
	for (int i = 0; i < MAX_HANDLES; i++) {
		struct handle *h = &handles[i];
		if (!h->channel || h->channel != channel) continue;
		if (h->random) return; /* driven by requests on the files channel only */
		if (!h->reading) write_handle(h, data, len);
		else if (len == 0) close_handle(h, ECANCELED);
		return;
	}
	/* A channel already closed: dropped. */
}

int files_pending_reads(void)
{
	for (int i = 0; i < MAX_HANDLES; i++)
		if (handles[i].channel && handles[i].reading) return 1;
	return 0;
}

void files_pump(size_t high_water)
{
	static char chunk[READ_CHUNK];
	for (int i = 0; i < MAX_HANDLES; i++) {
		struct handle *h = &handles[i];
		if (!h->channel || !h->reading) continue;
		while (h->channel && out_pending() < high_water) {
			ssize_t n = read(h->fd, chunk, sizeof(chunk));
			if (n < 0 && errno == EINTR) continue;
			if (n > 0) send_frame(h->channel, chunk, (size_t)n);
			else close_handle(h, n < 0 ? errno : 0);
		}
	}
}

void files_close_all(void)
{
	for (int i = 0; i < MAX_HANDLES; i++) {
		if (handles[i].channel) close(handles[i].fd);
		handles[i] = (struct handle){.fd = -1};
	}
	memset(sessions, 0, sizeof(sessions));
}
