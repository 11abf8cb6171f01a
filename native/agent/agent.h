/*
 * incus-agent: the guest agent of Incus VMs, served over the virtio-serial
 * port named org.linuxcontainers.incus (/dev/vportNpM). Statically linked so
 * a guest needs nothing installed.
 *
 * Wire format (one byte stream, multiplexed):
 *   Each connection of the host starts with the 8 magic bytes "INCUSAG1";
 *   until they are seen the agent discards input (this resynchronises after a
 *   reconnect or a reset). The magic at a frame boundary starts a new session
 *   (the old one's commands are killed). The agent answers it with the same
 *   magic, before which the host skips any bytes. Then frames follow, both ways:
 *     [u32 channel, big endian][u32 length, big endian][length bytes payload]
 *   length <= AGENT_MAX_FRAME (1 MiB); a longer length or a malformed control
 *   frame resets the session (children killed, {"event":"reset"} sent, magic
 *   awaited again).
 *   Channel 0: control, one JSON object per frame.
 *     host -> agent: {"id":N,"op":"hello","secret":"..."}   must be the first frame;
 *                    a wrong secret gets {"id":N,"error":"Forbidden","code":403}; the
 *                    rest of that input is discarded and the magic awaited again.
 *                    {"id":N,"op":"exec","argv":[...],"env":["K=V",...],"cwd":"/","uid":0,"gid":0
 *                     [,"pty":true[,"width":W,"height":H]]}
 *                         pty: the command runs on a new pty as its controlling terminal (its own
 *                         session), sized W x H when both are set (0..65535; 0 leaves it unset);
 *                         width/height without pty, or out of range: 400.
 *                    {"id":N,"op":"state"}
 *                    {"id":N,"op":"signal","pid":P,"signal":S}   (a process this session started)
 *                    {"id":N,"op":"resize","pid":P,"width":W,"height":H}   (1..65535; a command of
 *                         this session with a pty, while its terminal lives: TIOCSWINSZ, so the
 *                         kernel sends SIGWINCH; anything else 400)
 *                    {"id":N,"op":"files"}   a channel for file requests (see files.c)
 *                    {"id":N,"op":"shutdown"}   poweroff, forced after 10 s (see power.c)
 *     agent -> host: replies {"id":N,"ok":true,...} or {"id":N,"error":"...","code":C};
 *                    exec reply: {"id":N,"ok":true,"pid":P,"stdin":c,"stdout":c,"stderr":c}
 *                    with a pty: {"id":N,"ok":true,"pid":P,"pty":true,"stdin":c,"stdout":c} (no
 *                    stderr: the terminal's output, stdout and stderr alike, comes on stdout)
 *                    events: {"event":"exit","id":N,"pid":P,"code":C[,"signal":S]} after the
 *                    command's stdout and stderr reached EOF; {"event":"reset","error":"..."}.
 *   Channel c != 0: a command stream's bytes. A zero-length frame is EOF (host -> agent on
 *   stdin closes the pipe, and is ignored for a pty, which has no end of input; agent -> host
 *   on stdout/stderr after the child closed it, for a pty once every slave fd is closed (the
 *   master's EIO) or the command exited, whichever comes first: the agent then reads what is
 *   left and closes the terminal, hanging up background processes still on it).
 * The port's host side comes and goes: a read of 0 / POLLHUP means no host is
 * connected; the session then ends and its processes are killed.
 */
#ifndef INCUS_AGENT_H
#define INCUS_AGENT_H

#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <sys/types.h>

#define AGENT_VERSION "0.1"
#define AGENT_MAGIC "INCUSAG1"
#define AGENT_MAGIC_LEN 8
#define AGENT_MAX_FRAME (1u << 20)
#define AGENT_PORT_NAME "org.linuxcontainers.incus"

/* ---- JSON (json.c) ---- */
enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jval {
	enum jtype type;
	double num;
	char *str;            /* J_STR: NUL-terminated, UTF-8 */
	size_t len;           /* J_STR: bytes, J_ARR/J_OBJ: items */
	char **keys;          /* J_OBJ */
	struct jval **items;  /* J_ARR/J_OBJ */
};

struct jval *json_parse(const char *buf, size_t len);
void json_free(struct jval *v);
const struct jval *json_get(const struct jval *obj, const char *key, enum jtype type);

/* A growable byte buffer, used for JSON output and the port's write queue. */
struct buf {
	char *data;
	size_t len, cap, off;
};

int buf_put(struct buf *b, const void *p, size_t n);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_json_str(struct buf *b, const char *s);
void buf_consume(struct buf *b, size_t n);
void buf_free(struct buf *b);

/* ---- the session (main.c) ---- */
/* Queues one frame for the host. */
void send_frame(uint32_t channel, const void *payload, size_t len);
/* Queues a JSON object (text in b) on channel 0. */
void send_json(struct buf *b);
void send_error(double id, int code, const char *msg);
/* Bytes waiting for the host; readers of children pause above a limit. */
size_t out_pending(void);

/* ---- exec (exec.c) ---- */
void exec_start(double id, const struct jval *req);
void exec_signal(double id, const struct jval *req);
void exec_resize(double id, const struct jval *req);
/* Adds the fds exec needs watched; returns how many were added. */
int exec_poll_fds(struct pollfd *fds, int max, int allow_output);
void exec_handle_poll(const struct pollfd *fds, int n);
void exec_stdin_data(uint32_t channel, const char *data, size_t len);
int exec_stdin_backlog(void);
void exec_reap(void);
void exec_kill_all(void);

/* ---- files (files.c) ---- */
/* Channels of file sessions and opened files; exec's stay below. */
#define FILES_CHANNEL_BASE 0x80000000u
void files_open(double id);
int files_owns(uint32_t channel);
void files_data(uint32_t channel, const char *data, size_t len);
/* Whether an opened file still has content to send. */
int files_pending_reads(void);
/* Sends file content while less than high_water bytes wait for the host. */
void files_pump(size_t high_water);
void files_close_all(void);

/* ---- shutdown (power.c) ---- */
void power_shutdown(double id);

/* ---- state (state.c) ---- */
void state_reply(double id);

#endif
