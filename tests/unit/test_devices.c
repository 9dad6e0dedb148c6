/*
 * Docker's device rules, as v1 lines and as the v2 device program, which is
 * run here for real: a child in a cgroup v2 group with the program attached
 * opens the standard nodes, may mknod anything, and opens nothing else.
 * Needs root and a cgroup2 mount (v2's /sys/fs/cgroup, or v1 hybrid's
 * /sys/fs/cgroup/unified); skipped without.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/magic.h>

#include "proc/proc.h"
#include "tap.h"

static int
v1_lines(void)
{
	char lines[16][32];
	size_t n = devices_v1_rules(lines, 16);

	CHECK_INT(n, 12);
	CHECK_STR(lines[0], "c *:* m");
	CHECK_STR(lines[1], "b *:* m");
	CHECK_STR(lines[2], "c 1:3 rwm");
	CHECK_STR(lines[10], "c 136:* rwm");
	CHECK_STR(lines[11], "c 10:200 rwm");
	return 0;
}

static const char *
cgroup2_mount(void)
{
	static const char *const where[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
	struct statfs sf;
	size_t i;

	for (i = 0; i < 2; i++)
		if (statfs(where[i], &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC)
			return where[i];
	return NULL;
}

/* In the child, in the group: what each access gives, as a bit per check. */
static int
child_checks(const char *dir)
{
	char node[256];
	int bad = 0, fd;

	fd = open("/dev/null", O_RDWR);
	bad |= fd < 0 ? 1 : 0;
	if (fd >= 0)
		close(fd);
	fd = open("/dev/urandom", O_RDONLY);
	bad |= fd < 0 ? 2 : 0;
	if (fd >= 0)
		close(fd);
	/* kmsg (1:11) and loop-control (10:237) are not in the list. */
	fd = open("/dev/kmsg", O_RDONLY);
	bad |= fd >= 0 || errno != EPERM ? 4 : 0;
	fd = open("/dev/loop-control", O_RDWR);
	bad |= fd >= 0 || errno != EPERM ? 8 : 0;
	snprintf(node, sizeof(node), "%s/blk", dir);
	bad |= mknod(node, S_IFBLK | 0600, makedev(7, 0)) < 0 ? 16 : 0;
	return bad;
}

static int
v2_program(void)
{
	struct bk_err err = BK_ERR_INIT;
	const char *mnt = cgroup2_mount();
	char group[256], procs[300], tmp[] = "/dev/shm/bk-devtest-XXXXXX", node[300];
	int prog, gfd, status = 0;
	pid_t pid;

	if (geteuid() != 0 || mnt == NULL)
		return 77;
	prog = devices_v2_load(&err);
	if (prog < 0) {
		fprintf(stderr, "# %s\n", err.msg);
		return 1;
	}
	snprintf(group, sizeof(group), "%s/bk-devtest-%d", mnt, (int)getpid());
	CHECK(mkdir(group, 0755) == 0);
	CHECK(mkdtemp(tmp) != NULL);
	gfd = open(group, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(gfd >= 0);
	CHECK_INT(devices_v2_attach(prog, gfd), 0);
	close(gfd);
	close(prog);
	pid = fork();
	if (pid == 0) {
		FILE *f;

		snprintf(procs, sizeof(procs), "%s/cgroup.procs", group);
		f = fopen(procs, "w");
		if (f == NULL || fprintf(f, "0\n") < 0 || fclose(f) != 0)
			_exit(64);
		_exit(child_checks(tmp));
	}
	waitpid(pid, &status, 0);
	snprintf(node, sizeof(node), "%s/blk", tmp);
	unlink(node);
	rmdir(tmp);
	CHECK_INT(rmdir(group), 0);
	CHECK(WIFEXITED(status));
	/* 1 null, 2 urandom, 4 kmsg opened, 8 loop-control opened, 16 mknod refused */
	CHECK_INT(WEXITSTATUS(status), 0);
	return 0;
}

int
main(void)
{
	RUN(v1_lines);
	RUN(v2_program);
	return TAP_DONE();
}
