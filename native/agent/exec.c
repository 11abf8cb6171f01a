/*
 * exec: runs a command (argv as given, never through a shell) with pipes for
 * stdin/stdout/stderr multiplexed onto channels of the session, or on a
 * fresh pty (its controlling terminal, sized as asked; stdin channel in,
 * one output channel out), and reports its exit once its output is drained.
 * Man pages: pty(7), ioctl_tty(2) (TIOCSPTLCK, TIOCGPTPEER, TIOCGPTN,
 * TIOCSCTTY, TIOCSWINSZ), setsid(2), fork(2), execve(2).
 * The pty is opened with ioctls on /dev/ptmx rather than openpty(3)/grantpt(3):
 * nothing of libc's that could want NSS in this static binary.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define MAX_PROCS 64
#define MAX_DIM 65535

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

struct proc {
	double id;
	pid_t pid;
	/* With a pty: out_fd is the master, in_fd a dup of it, err_fd -1. */
	int in_fd, out_fd, err_fd;
	int pty;
	uint32_t ch_in, ch_out, ch_err;
	struct buf inbuf;
	int close_in; /* EOF received while bytes were still queued */
	int exited, status;
};

static struct proc *procs[MAX_PROCS];
static uint32_t next_channel = 1;

static void close_fd(int *fd)
{
	if (*fd >= 0) close(*fd);
	*fd = -1;
}

static void finish_if_done(int slot)
{
	struct proc *p = procs[slot];
	if (!p->exited || p->out_fd >= 0 || p->err_fd >= 0) return;
	struct buf b = {0};
	buf_printf(&b, "{\"event\":\"exit\",\"id\":%.0f,\"pid\":%d,", p->id, p->pid);
	if (WIFSIGNALED(p->status))
		buf_printf(&b, "\"code\":%d,\"signal\":%d}", 128 + WTERMSIG(p->status), WTERMSIG(p->status));
	else
		buf_printf(&b, "\"code\":%d}", WEXITSTATUS(p->status));
	send_json(&b);
	close_fd(&p->in_fd);
	buf_free(&p->inbuf);
	free(p);
	procs[slot] = NULL;
}

/* Copies a JSON array of strings into a NULL-terminated vector; NULL when it is not one. */
static char **str_vector(const struct jval *arr, size_t extra)
{
	char **v = calloc(arr->len + extra + 1, sizeof(char *));
	if (!v) return NULL;
	for (size_t i = 0; i < arr->len; i++) {
		const struct jval *s = arr->items[i];
		if (s->type != J_STR || strlen(s->str) != s->len) { free(v); return NULL; }
		v[i] = s->str;
	}
	return v;
}

static const char *env_path(char **envp)
{
	for (; *envp; envp++)
		if (!strncmp(*envp, "PATH=", 5)) return *envp + 5;
	return DEFAULT_PATH;
}

/* In the child: exec argv[0], searched in the command's own PATH when it has no slash. */
static void exec_search(char **argv, char **envp)
{
	if (strchr(argv[0], '/')) {
		execve(argv[0], argv, envp);
		return;
	}
	const char *path = env_path(envp);
	int err = ENOENT;
	while (*path) {
		const char *end = strchrnul(path, ':');
		char full[4096];
		int n = snprintf(full, sizeof(full), "%.*s/%s", (int)(end - path), path, argv[0]);
		if (n > 0 && (size_t)n < sizeof(full)) {
			execve(full, argv, envp);
			if (errno != ENOENT) err = errno;
		}
		path = *end ? end + 1 : end;
	}
	errno = err;
}

static int set_nonblock(int fd)
{
	return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Whether obj has key, whatever its type (json_get answers NULL for both absent and mistyped). */
static int has_key(const struct jval *obj, const char *key)
{
	for (size_t i = 0; obj && obj->type == J_OBJ && i < obj->len; i++)
		if (!strcmp(obj->keys[i], key)) return 1;
	return 0;
}

/*
 * Reads an optional window dimension: 0 when absent; -1 when present but not
 * an integer in [min, MAX_DIM].
 */
static int dimension(const struct jval *req, const char *key, int min)
{
	if (!has_key(req, key)) return 0;
	const struct jval *v = json_get(req, key, J_NUM);
	if (!v || !(v->num >= min && v->num <= MAX_DIM) || v->num != (double)(int)v->num) return -1;
	return (int)v->num;
}

/* A new pty pair, both ends close-on-exec and neither our controlling terminal. */
static int open_pty(int *master, int *slave)
{
	int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0) return -1;
	int unlock = 0, s = -1;
	if (ioctl(m, TIOCSPTLCK, &unlock) == 0) {
		s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (s < 0 && (errno == EINVAL || errno == ENOTTY)) {
			/* Kernels before 4.13: open it by name. */
			unsigned int n;
			char path[32];
			if (ioctl(m, TIOCGPTN, &n) == 0) {
				snprintf(path, sizeof(path), "/dev/pts/%u", n);
				s = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
			}
		}
	}
	if (s < 0) {
		int err = errno;
		close(m);
		errno = err;
		return -1;
	}
	*master = m;
	*slave = s;
	return 0;
}

static int set_window(int fd, int width, int height)
{
	struct winsize ws = {.ws_row = (unsigned short)height, .ws_col = (unsigned short)width};
	return ioctl(fd, TIOCSWINSZ, &ws);
}

void exec_start(double id, const struct jval *req)
{
	const struct jval *argv_j = json_get(req, "argv", J_ARR);
	const struct jval *env_j = json_get(req, "env", J_ARR);
	const struct jval *cwd_j = json_get(req, "cwd", J_STR);
	const struct jval *uid_j = json_get(req, "uid", J_NUM);
	const struct jval *gid_j = json_get(req, "gid", J_NUM);
	const struct jval *pty_j = json_get(req, "pty", J_BOOL);
	int pty = pty_j && pty_j->num != 0;
	int width = dimension(req, "width", 0), height = dimension(req, "height", 0);
	static const struct jval no_env = {.type = J_ARR};
	int slot = -1;

	if (!argv_j || argv_j->len == 0) { send_error(id, 400, "argv must be a non-empty array of strings"); return; }
	if ((uid_j && (uid_j->num < 0 || uid_j->num > 4294967294.0)) || (gid_j && (gid_j->num < 0 || gid_j->num > 4294967294.0))) {
		send_error(id, 400, "uid and gid must be between 0 and 4294967294");
		return;
	}
	if (cwd_j && strlen(cwd_j->str) != cwd_j->len) { send_error(id, 400, "Invalid cwd"); return; }
	if (has_key(req, "pty") && !pty_j) { send_error(id, 400, "pty must be a boolean"); return; }
	if (width < 0 || height < 0) { send_error(id, 400, "width and height must be integers between 0 and 65535"); return; }
	if (!pty && (width || height)) { send_error(id, 400, "width and height need pty"); return; }
	for (int i = 0; i < MAX_PROCS && slot < 0; i++)
		if (!procs[i]) slot = i;
	if (slot < 0) { send_error(id, 503, "Too many running commands"); return; }

	char **argv = str_vector(argv_j, 0);
	char **envp = str_vector(env_j ? env_j : &no_env, 0);
	if (!argv || !envp) {
		free(argv); free(envp);
		send_error(id, 400, "argv and env must be arrays of strings");
		return;
	}
	uid_t uid = uid_j ? (uid_t)uid_j->num : 0;
	gid_t gid = gid_j ? (gid_t)gid_j->num : 0;
	const char *cwd = cwd_j ? cwd_j->str : "/";

	/* With a pty: pin[1]/pout[0] are the master (twice, so stdin and output close apart), pin[0] the slave. */
	int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1}, report[2] = {-1, -1};
	int fds_ok = pty ? open_pty(&pout[0], &pin[0]) == 0 && (pin[1] = fcntl(pout[0], F_DUPFD_CLOEXEC, 3)) >= 0
			 : !pipe2(pin, O_CLOEXEC) && !pipe2(pout, O_CLOEXEC) && !pipe2(perr, O_CLOEXEC);
	if (!fds_ok || pipe2(report, O_CLOEXEC)) {
		send_error(id, 500, strerror(errno));
		goto out_fds;
	}
	/* The command's user owns its terminal, as with a login; the size is set before it can look. */
	if (pty && (((uid || gid) && fchown(pin[0], uid, gid)) || (width && height && set_window(pout[0], width, height)))) {
		send_error(id, 500, strerror(errno));
		goto out_fds;
	}
	pid_t pid = fork();
	if (pid < 0) {
		send_error(id, 500, strerror(errno));
		goto out_fds;
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		setsid();
		int stage = 0;
		if (pty) {
			/* setsid above left us without a terminal: this one becomes the controlling one. */
			if (ioctl(pin[0], TIOCSCTTY, 0) < 0) goto fail;
			if (dup2(pin[0], 0) < 0 || dup2(pin[0], 1) < 0 || dup2(pin[0], 2) < 0) goto fail;
		} else if (dup2(pin[0], 0) < 0 || dup2(pout[1], 1) < 0 || dup2(perr[1], 2) < 0) goto fail;
		stage = 1;
		if (setgroups(0, NULL) || setgid(gid) || setuid(uid)) goto fail;
		stage = 2;
		if (chdir(cwd)) goto fail;
		stage = 3;
		exec_search(argv, envp);
	fail:;
		int msg[2] = {stage, errno};
		if (write(report[1], msg, sizeof(msg)) < 0) {}
		_exit(127);
	}
	close_fd(&pin[0]); close_fd(&pout[1]); close_fd(&perr[1]); close_fd(&report[1]);
	int msg[2];
	ssize_t n;
	do n = read(report[0], msg, sizeof(msg)); while (n < 0 && errno == EINTR);
	if (n == sizeof(msg)) {
		static const char *what[] = {"set up stdio", "switch to the user", "change directory", "execute"};
		char text[512];
		snprintf(text, sizeof(text), "Failed to %s for \"%s\": %s", what[msg[0] & 3], argv[0], strerror(msg[1]));
		waitpid(pid, NULL, 0);
		send_error(id, msg[0] == 3 && msg[1] == ENOENT ? 404 : 400, text);
		goto out_fds;
	}
	struct proc *p = calloc(1, sizeof(*p));
	if (!p) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		send_error(id, 500, strerror(ENOMEM));
		goto out_fds;
	}
	*p = (struct proc){.id = id, .pid = pid, .in_fd = pin[1], .out_fd = pout[0], .err_fd = perr[0], .pty = pty,
			   .ch_in = next_channel, .ch_out = next_channel + 1, .ch_err = next_channel + 2};
	next_channel = next_channel > 0x7ffffff0u ? 1 : next_channel + 3;
	set_nonblock(p->in_fd); set_nonblock(p->out_fd);
	if (!pty) set_nonblock(p->err_fd);
	procs[slot] = p;
	struct buf b = {0};
	if (pty)
		buf_printf(&b, "{\"id\":%.0f,\"ok\":true,\"pid\":%d,\"pty\":true,\"stdin\":%u,\"stdout\":%u}",
			   id, pid, p->ch_in, p->ch_out);
	else
		buf_printf(&b, "{\"id\":%.0f,\"ok\":true,\"pid\":%d,\"stdin\":%u,\"stdout\":%u,\"stderr\":%u}",
			   id, pid, p->ch_in, p->ch_out, p->ch_err);
	send_json(&b);
	close_fd(&report[0]);
	free(argv); free(envp);
	return;
out_fds:
	close_fd(&pin[0]); close_fd(&pin[1]); close_fd(&pout[0]); close_fd(&pout[1]);
	close_fd(&perr[0]); close_fd(&perr[1]); close_fd(&report[0]); close_fd(&report[1]);
	free(argv); free(envp);
}

void exec_signal(double id, const struct jval *req)
{
	const struct jval *pid = json_get(req, "pid", J_NUM);
	const struct jval *sig = json_get(req, "signal", J_NUM);
	for (int i = 0; pid && sig && i < MAX_PROCS; i++) {
		if (procs[i] && procs[i]->pid == (pid_t)pid->num && !procs[i]->exited) {
			if (sig->num < 1 || sig->num > 64 || kill(procs[i]->pid, (int)sig->num)) break;
			struct buf b = {0};
			buf_printf(&b, "{\"id\":%.0f,\"ok\":true}", id);
			send_json(&b);
			return;
		}
	}
	send_error(id, 400, "No such running command or invalid signal");
}

void exec_resize(double id, const struct jval *req)
{
	const struct jval *pid = json_get(req, "pid", J_NUM);
	int width = dimension(req, "width", 1), height = dimension(req, "height", 1);
	if (width <= 0 || height <= 0) {
		send_error(id, 400, "width and height must be integers between 1 and 65535");
		return;
	}
	for (int i = 0; pid && i < MAX_PROCS; i++) {
		struct proc *p = procs[i];
		/* The master is closed once the command exits or the terminal is gone: only a live one is resized. */
		if (!p || (double)p->pid != pid->num || !p->pty || p->out_fd < 0) continue;
		if (set_window(p->out_fd, width, height)) {
			send_error(id, 500, strerror(errno));
			return;
		}
		struct buf b = {0};
		buf_printf(&b, "{\"id\":%.0f,\"ok\":true}", id);
		send_json(&b);
		return;
	}
	send_error(id, 400, "No such running command with a terminal");
}

static void flush_stdin(struct proc *p)
{
	while (p->in_fd >= 0 && p->inbuf.len > p->inbuf.off) {
		ssize_t n = write(p->in_fd, p->inbuf.data + p->inbuf.off, p->inbuf.len - p->inbuf.off);
		if (n > 0) { buf_consume(&p->inbuf, n); continue; }
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
		/* EPIPE: the command stopped reading; drop what it will never read. */
		p->inbuf.len = p->inbuf.off = 0;
		close_fd(&p->in_fd);
	}
	if (p->close_in && p->inbuf.len == p->inbuf.off) close_fd(&p->in_fd);
}

void exec_stdin_data(uint32_t channel, const char *data, size_t len)
{
	for (int i = 0; i < MAX_PROCS; i++) {
		struct proc *p = procs[i];
		if (!p || p->ch_in != channel) continue;
		/* A terminal has no end of input (closing the master would hang it up): EOF is dropped. */
		if (len == 0 && p->pty) return;
		if (len == 0) p->close_in = 1;
		else if (p->in_fd >= 0) buf_put(&p->inbuf, data, len);
		flush_stdin(p);
		return;
	}
	/* Data for a finished command: dropped. */
}

int exec_stdin_backlog(void)
{
	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i] && procs[i]->inbuf.len - procs[i]->inbuf.off > (1u << 20)) return 1;
	return 0;
}

int exec_poll_fds(struct pollfd *fds, int max, int allow_output)
{
	int n = 0;
	for (int i = 0; i < MAX_PROCS && n + 3 <= max; i++) {
		struct proc *p = procs[i];
		if (!p) continue;
		if (allow_output && p->out_fd >= 0) fds[n++] = (struct pollfd){p->out_fd, POLLIN, 0};
		if (allow_output && p->err_fd >= 0) fds[n++] = (struct pollfd){p->err_fd, POLLIN, 0};
		if (p->in_fd >= 0 && p->inbuf.len > p->inbuf.off) fds[n++] = (struct pollfd){p->in_fd, POLLOUT, 0};
	}
	return n;
}

/* Forwards what a command wrote; EOF (on a pty master, EIO once every slave fd is closed) becomes a zero-length frame. */
static void drain(int *fd, uint32_t channel)
{
	char tmp[65536];
	ssize_t n = read(*fd, tmp, sizeof(tmp));
	if (n > 0) { send_frame(channel, tmp, n); return; }
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
	send_frame(channel, NULL, 0);
	close_fd(fd);
}

void exec_handle_poll(const struct pollfd *fds, int n)
{
	for (int k = 0; k < n; k++) {
		if (!fds[k].revents) continue;
		for (int i = 0; i < MAX_PROCS; i++) {
			struct proc *p = procs[i];
			if (!p) continue;
			if (fds[k].fd == p->out_fd) drain(&p->out_fd, p->ch_out);
			else if (fds[k].fd == p->err_fd) drain(&p->err_fd, p->ch_err);
			else if (fds[k].fd == p->in_fd) flush_stdin(p);
			else continue;
			finish_if_done(i);
			break;
		}
	}
}

/*
 * A command on a pty has exited: its output ends now, as in Incus, rather
 * than when the last holder of the terminal lets go (a background process
 * that ignored the SIGHUP would hold the exit back for as long as it runs).
 * Nothing the command wrote is lost: each read of the master first flushes
 * the kernel's pending pty buffer (n_tty_read), so EAGAIN means drained.
 * Closing the master hangs up whatever still holds the terminal.
 */
static void end_pty(struct proc *p)
{
	char tmp[65536];
	while (p->out_fd >= 0) {
		ssize_t n = read(p->out_fd, tmp, sizeof(tmp));
		if (n > 0) { send_frame(p->ch_out, tmp, n); continue; }
		if (n < 0 && errno == EINTR) continue;
		send_frame(p->ch_out, NULL, 0);
		close_fd(&p->out_fd);
	}
	close_fd(&p->in_fd);
	p->inbuf.len = p->inbuf.off = 0;
}

void exec_reap(void)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < MAX_PROCS; i++) {
			if (procs[i] && procs[i]->pid == pid) {
				procs[i]->exited = 1;
				procs[i]->status = status;
				if (procs[i]->pty) end_pty(procs[i]);
				finish_if_done(i);
				break;
			}
		}
	}
}

void exec_kill_all(void)
{
	for (int i = 0; i < MAX_PROCS; i++) {
		struct proc *p = procs[i];
		if (!p) continue;
		if (!p->exited) kill(-p->pid, SIGKILL), kill(p->pid, SIGKILL);
		close_fd(&p->in_fd); close_fd(&p->out_fd); close_fd(&p->err_fd);
		buf_free(&p->inbuf);
		free(p);
		procs[i] = NULL;
	}
}
