/*
 * shutdown: the host's way to stop a guest that ignores the ACPI power
 * button. The guest's own `poweroff` runs first (init stops services and
 * unmounts cleanly); a guest whose init does not act on it is powered off
 * after POWEROFF_GRACE seconds with filesystems synced.
 * Man pages: reboot(2), sync(2).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <sys/reboot.h>
#include <unistd.h>

#include "agent.h"

#define POWEROFF_GRACE 10

void power_shutdown(double id)
{
	pid_t pid = fork();
	if (pid < 0) {
		send_error(id, 500, "Cannot start the shutdown");
		return;
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setsid();
		if (fork() == 0) {
			static char *const argv[] = {"poweroff", NULL};
			static char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
			execve("/sbin/poweroff", argv, envp);
			execve("/usr/sbin/poweroff", argv, envp);
			execve("/bin/poweroff", argv, envp);
			_exit(127);
		}
		sleep(POWEROFF_GRACE);
		fprintf(stderr, "incus-agent: the guest did not power off within %d s: powering off\n", POWEROFF_GRACE);
		sync();
		reboot(RB_POWER_OFF);
		_exit(1);
	}
	fprintf(stderr, "incus-agent: shutdown requested by the host\n");
	struct buf b = {0};
	buf_printf(&b, "{\"id\":%.0f,\"ok\":true}", id);
	send_json(&b);
}
