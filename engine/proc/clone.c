/*
 * The child side of a clone3 of the daemon, which is multithreaded: raw
 * system calls only, up to the exec of bockerfs-init.  Used by every init
 * the daemon starts: a container's (spawn.c), a spare (spare_init.c), an
 * exec session's helper (ops/exec.c).
 */
#include <signal.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "proc/proc.h"

/*
 * In a child cloned with a new mount namespace (raw system calls only):
 * drop the control tree at path from its copy of the mount table, without
 * touching the daemon's (private first).  A spare init keeps the daemon's
 * mounts until its container's setup detaches them, and must not keep the
 * tree mounted meanwhile: an unmount of the tree would not end the FUSE
 * connection then.  Best effort: the tree may not be mounted yet.
 */
void
spawn_child_hide(const char *path)
{
	if (path && syscall(SYS_mount, NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0)
		syscall(SYS_umount2, path, MNT_DETACH);
}

/*
 * The child side of clone3: raw system calls only (we are a copy of a
 * multithreaded process).  Clears the signal mask (libfuse's workers block
 * some), puts in_r on stdin and out_w on stdout and stderr when they are not
 * -1, lets the keep fds through exec, and execs the init binary.
 */
void
spawn_child_exec(int init_fd, char **argv, int in_r, int out_w, const int *keep, int nkeep)
{
	static char *const envp[] = { NULL };
	sigset_t none;
	int i;

	sigemptyset(&none);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof(long));
	if (in_r >= 0)
		syscall(SYS_dup2, in_r, 0);
	if (out_w >= 0) {
		syscall(SYS_dup2, out_w, 1);
		syscall(SYS_dup2, out_w, 2);
	}
	for (i = 0; i < nkeep; i++)
		syscall(SYS_fcntl, keep[i], F_SETFD, 0);
	syscall(SYS_execveat, init_fd, "", argv, envp, AT_EMPTY_PATH);
	syscall(SYS_exit_group, 127);
	__builtin_unreachable();
}
