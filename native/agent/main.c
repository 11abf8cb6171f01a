/*
 * incus-agent main loop: finds the virtio-serial port, reads the secret,
 * then serves one host session at a time (see agent.h for the wire format).
 * Usage: incus-agent [--port /dev/vportNpM | --fd N] [--secret-file PATH]
 *   the secret file defaults to agent.secret next to the executable; --fd
 *   serves an inherited stream socket instead of the port (host-side tests).
 * Single-threaded; every fd non-blocking; poll(2) drives everything.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"

enum phase { WAIT_MAGIC, WAIT_HELLO, AUTHED };

static int port_fd = -1;
static char secret[512];
static size_t secret_len;
static enum phase phase = WAIT_MAGIC;
static struct buf in, out;
static size_t magic_seen;

/* Output above this pauses reading children's output; stdin backlog above it pauses reading the port. */
#define HIGH_WATER (1u << 20)

static int find_port(char *path, size_t size)
{
	DIR *d = opendir("/sys/class/virtio-ports");
	struct dirent *e;
	int found = -1;

	if (!d) return -1;
	while ((e = readdir(d)) && found) {
		char name_path[PATH_MAX], name[128] = {0};
		if (e->d_name[0] == '.') continue;
		snprintf(name_path, sizeof(name_path), "/sys/class/virtio-ports/%s/name", e->d_name);
		int fd = open(name_path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) continue;
		ssize_t n = read(fd, name, sizeof(name) - 1);
		close(fd);
		while (n > 0 && (name[n - 1] == '\n' || name[n - 1] == 0)) name[--n] = 0;
		if (n > 0 && !strcmp(name, AGENT_PORT_NAME)) {
			snprintf(path, size, "/dev/%s", e->d_name);
			found = 0;
		}
	}
	closedir(d);
	return found;
}

static int read_secret(const char *file)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return -1;
	ssize_t n = read(fd, secret, sizeof(secret) - 1);
	close(fd);
	while (n > 0 && (secret[n - 1] == '\n' || secret[n - 1] == '\r' || secret[n - 1] == ' ')) n--;
	if (n <= 0) return -1;
	secret_len = n;
	return 0;
}

/*
 * Tells systemd the agent is up (Incus's incus-agent.service is Type=notify,
 * as community images ship it): READY=1 to $NOTIFY_SOCKET, a datagram
 * socket path, "@" meaning the abstract namespace. Man page: sd_notify(3).
 */
static void notify_ready(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	size_t len = path ? strlen(path) : 0;

	if (len == 0 || len >= sizeof(addr.sun_path) || (path[0] != '/' && path[0] != '@')) return;
	memcpy(addr.sun_path, path, len);
	if (addr.sun_path[0] == '@') addr.sun_path[0] = 0;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) return;
	if (sendto(fd, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *)&addr, offsetof(struct sockaddr_un, sun_path) + len) < 0)
		perror("incus-agent: NOTIFY_SOCKET");
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}

size_t out_pending(void)
{
	return out.len - out.off;
}

void send_frame(uint32_t channel, const void *payload, size_t len)
{
	if (phase == WAIT_MAGIC) return; /* no host session: nothing to answer */
	unsigned char hdr[8] = {channel >> 24, channel >> 16, channel >> 8, channel,
				len >> 24, len >> 16, len >> 8, len};
	buf_put(&out, hdr, 8);
	if (len) buf_put(&out, payload, len);
}

void send_json(struct buf *b)
{
	send_frame(0, b->data, b->len);
	buf_free(b);
}

void send_error(double id, int code, const char *msg)
{
	struct buf b = {0};
	buf_printf(&b, "{\"id\":%.0f,\"error\":", id);
	buf_json_str(&b, msg);
	buf_printf(&b, ",\"code\":%d}", code);
	send_json(&b);
}

/*
 * Ends the session: children killed, magic awaited again. With a reason (bad
 * input) the host is told and the bytes after the bad frame are scanned for
 * the magic; without one (host gone) all buffered bytes are dropped.
 */
static void end_session(const char *why)
{
	if (why && phase != WAIT_MAGIC) {
		struct buf b = {0};
		buf_printf(&b, "{\"event\":\"reset\",\"error\":");
		buf_json_str(&b, why);
		buf_put(&b, "}", 1);
		send_json(&b);
	} else {
		out.len = out.off = 0;
	}
	exec_kill_all();
	files_close_all();
	if (!why) in.len = in.off = 0;
	magic_seen = 0;
	phase = WAIT_MAGIC;
}

/*
 * Starts a session on the host's magic: whatever the previous one left (its
 * commands, output the old host never read) goes, and the agent answers with
 * the magic so the host can skip any stale bytes before it.
 */
static void start_session(void)
{
	exec_kill_all();
	files_close_all();
	out.len = out.off = 0;
	magic_seen = 0;
	phase = WAIT_HELLO;
	buf_put(&out, AGENT_MAGIC, AGENT_MAGIC_LEN);
}

static int secret_matches(const char *s, size_t len)
{
	unsigned char diff = len != secret_len;
	for (size_t i = 0; i < secret_len; i++)
		diff |= (unsigned char)secret[i] ^ (unsigned char)(i < len ? s[i] : 0);
	return diff == 0;
}

static void handle_control(const char *payload, size_t len)
{
	struct jval *req = json_parse(payload, len);
	const struct jval *id = json_get(req, "id", J_NUM);
	const struct jval *op = json_get(req, "op", J_STR);

	/* Ids are echoed with %.0f: only integers in u32 range, so replies stay exact and short. */
	if (!req || !id || !op || !(id->num >= 0 && id->num <= 4294967295.0) || id->num != (double)(uint32_t)id->num) {
		json_free(req);
		end_session("Malformed control frame");
		return;
	}
	if (phase == WAIT_HELLO) {
		const struct jval *s = json_get(req, "secret", J_STR);
		if (strcmp(op->str, "hello") || !s || !secret_matches(s->str, s->len)) {
			send_error(id->num, 403, "Forbidden");
			/* Nothing after a failed hello is obeyed; only a new magic + hello can authenticate. */
			phase = WAIT_MAGIC;
			magic_seen = 0;
		} else {
			struct buf b = {0};
			buf_printf(&b, "{\"id\":%.0f,\"ok\":true,\"version\":\"%s\"}", id->num, AGENT_VERSION);
			send_json(&b);
			phase = AUTHED;
		}
	} else if (!strcmp(op->str, "exec")) {
		exec_start(id->num, req);
	} else if (!strcmp(op->str, "state")) {
		state_reply(id->num);
	} else if (!strcmp(op->str, "signal")) {
		exec_signal(id->num, req);
	} else if (!strcmp(op->str, "resize")) {
		exec_resize(id->num, req);
	} else if (!strcmp(op->str, "files")) {
		files_open(id->num);
	} else if (!strcmp(op->str, "shutdown")) {
		power_shutdown(id->num);
	} else {
		send_error(id->num, 400, "Unknown operation");
	}
	json_free(req);
}

/* Consumes whole frames (or magic bytes) from the input buffer. */
static void process_input(void)
{
	while (in.len > in.off) {
		if (phase == WAIT_MAGIC) {
			char c = in.data[in.off];
			buf_consume(&in, 1);
			if (c == AGENT_MAGIC[magic_seen]) magic_seen++;
			else magic_seen = c == AGENT_MAGIC[0];
			if (magic_seen == AGENT_MAGIC_LEN) start_session();
			continue;
		}
		size_t avail = in.len - in.off;
		if (avail < 8) return;
		/* A new host connection the agent did not see close (its length could never be valid). */
		if (!memcmp(in.data + in.off, AGENT_MAGIC, AGENT_MAGIC_LEN)) {
			buf_consume(&in, AGENT_MAGIC_LEN);
			start_session();
			continue;
		}
		const unsigned char *h = (const unsigned char *)in.data + in.off;
		uint32_t channel = (uint32_t)h[0] << 24 | h[1] << 16 | h[2] << 8 | h[3];
		uint32_t len = (uint32_t)h[4] << 24 | h[5] << 16 | h[6] << 8 | h[7];
		if (len > AGENT_MAX_FRAME || (phase == WAIT_HELLO && channel != 0)) {
			buf_consume(&in, 8);
			end_session("Malformed frame");
			continue;
		}
		if (avail < 8 + (size_t)len) return;
		const char *payload = in.data + in.off + 8;
		if (channel == 0) handle_control(payload, len);
		else if (files_owns(channel)) files_data(channel, payload, len);
		else exec_stdin_data(channel, payload, len);
		buf_consume(&in, 8 + len);
	}
}

static void flush_out(void)
{
	while (out_pending()) {
		ssize_t n = write(port_fd, out.data + out.off, out_pending());
		if (n > 0) {
			buf_consume(&out, n);
			continue;
		}
		if (n < 0 && errno == EINTR) continue;
		return; /* EAGAIN: host not reading (or not connected) */
	}
}

/* Reads what the port has; returns 0 when the host side is gone. */
static int read_port(void)
{
	char tmp[65536];
	for (;;) {
		ssize_t n = read(port_fd, tmp, sizeof(tmp));
		if (n > 0) {
			buf_put(&in, tmp, n);
			if (n < (ssize_t)sizeof(tmp)) return 1;
			continue;
		}
		if (n < 0 && errno == EINTR) continue;
		if (n < 0 && errno == EAGAIN) return 1;
		return 0;
	}
}

int main(int argc, char **argv)
{
	char port[PATH_MAX] = "", secret_file[PATH_MAX] = "";
	int fd_mode = 0, gone_naps = 0;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--port")) snprintf(port, sizeof(port), "%s", argv[i + 1]);
		else if (!strcmp(argv[i], "--fd")) port_fd = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--secret-file")) snprintf(secret_file, sizeof(secret_file), "%s", argv[i + 1]);
		else { fprintf(stderr, "incus-agent: unknown option %s\n", argv[i]); return 2; }
	}
	if (!secret_file[0]) {
		char exe[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n <= 0) { perror("incus-agent: /proc/self/exe"); return 1; }
		exe[n] = 0;
		snprintf(secret_file, sizeof(secret_file), "%s/agent.secret", dirname(exe));
	}
	if (read_secret(secret_file)) {
		fprintf(stderr, "incus-agent: cannot read a secret from %s\n", secret_file);
		return 1;
	}
	if (port_fd >= 0) {
		if (fcntl(port_fd, F_SETFL, fcntl(port_fd, F_GETFL) | O_NONBLOCK) || fcntl(port_fd, F_SETFD, FD_CLOEXEC)) {
			perror("incus-agent: --fd");
			return 1;
		}
		snprintf(port, sizeof(port), "fd %d", port_fd);
		fd_mode = 1;
	}
	for (int tries = 0; port_fd < 0 && !port[0] && find_port(port, sizeof(port)); tries++) {
		if (tries == 300) { fprintf(stderr, "incus-agent: no virtio-serial port named %s\n", AGENT_PORT_NAME); return 1; }
		usleep(100000);
	}
	if (port_fd < 0) port_fd = open(port, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (port_fd < 0) { perror(port); return 1; }

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	fprintf(stderr, "incus-agent %s: serving on %s\n", AGENT_VERSION, port);
	notify_ready();

	for (;;) {
		struct pollfd fds[256];
		int n = 0, connected_wait = 1;
		short port_events = 0;
		if (in.len - in.off < HIGH_WATER && !exec_stdin_backlog()) port_events |= POLLIN;
		if (out_pending()) port_events |= POLLOUT;
		fds[n++] = (struct pollfd){port_fd, port_events, 0};
		fds[n++] = (struct pollfd){sfd, POLLIN, 0};
		n += exec_poll_fds(fds + n, 256 - n, out_pending() < HIGH_WATER);
		/* File content is read as the port drains: no waiting while some can go. */
		int pump = files_pending_reads() && out_pending() < HIGH_WATER;
		int r = poll(fds, n, pump ? 0 : -1);
		if (r < 0 && errno != EINTR) { perror("poll"); return 1; }
		if (r < 0 || (r == 0 && !pump)) continue;
		if (fds[1].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) > 0) {}
			exec_reap();
		}
		exec_handle_poll(fds + 2, n - 2);
		/*
		 * Only a read of 0 means the host is gone: a POLLHUP seen by poll may be stale
		 * by now (the host reconnected and sent its hello in between).
		 */
		if (!(fds[0].revents & POLLHUP)) gone_naps = 0;
		if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (read_port()) { gone_naps = 0; process_input(); }
			else connected_wait = 0;
		}
		if (!connected_wait) {
			/*
			 * No host connected. The guest learns of close and reopen on the control
			 * queue and of data on another, so a new host's hello can be read before
			 * the old host's close: the session ends only after ~1 s without a host
			 * (a new magic ends it sooner). Poll would report HUP at once, so nap.
			 */
			if (fd_mode || ++gone_naps >= 10) {
				if (phase != WAIT_MAGIC || out_pending()) end_session(NULL);
				if (fd_mode) return 0; /* an inherited socket does not come back */
			}
			usleep(100000);
			continue;
		}
		files_pump(HIGH_WATER);
		flush_out();
	}
}
