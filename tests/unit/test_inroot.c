/*
 * test_inroot.c: the one module for paths inside untrusted roots
 * (engine/base/inroot.c), on a real tree (run as root): a root whose /etc and
 * files are symlinks (absolute, relative, chains, loops) to a canary
 * directory outside it, a FIFO, a socket and a device node where files are
 * read, a 100 GiB sparse file.  Every lookup stays inside the root, nothing
 * blocks, nothing outside changes.  Under one mkdtemp directory in /tmp,
 * removed at the end unless BK_TEST_KEEP=1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/inroot.h"
#include "tap.h"

static char base[] = "/tmp/bkt-inroot-XXXXXX";
static char root[512], canary[512];
static int root_fd = -1;

static void
put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		abort();
	fputs(text, f);
	fclose(f);
}

/* The tree: root/ with hostile entries, canary/ outside it with the host's "secrets". */
static int
make_tree(void)
{
	char p[1024];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, s;

	if (mkdtemp(base) == NULL)
		return -1;
	snprintf(root, sizeof(root), "%s/root", base);
	snprintf(canary, sizeof(canary), "%s/canary", base);
	mkdir(root, 0755);
	mkdir(canary, 0755);
	snprintf(p, sizeof(p), "%s/hosts", canary);
	put(p, "host secret\n");
	snprintf(p, sizeof(p), "%s/etc", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/etc/passwd", root);
	put(p, "root:x:0:0:root:/root:/bin/sh\n");
	snprintf(p, sizeof(p), "%s/etc/hosts", root);
	put(p, "in the root\n");
	snprintf(p, sizeof(p), "%s/etc/fifo", root);
	if (mkfifo(p, 0644) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/etc/null", root);
	if (mknod(p, S_IFCHR | 0644, makedev(1, 3)) < 0)
		return -1;
	if (strlen(root) + 10 > sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, root, strlen(root));
	memcpy(sa.sun_path + strlen(root), "/etc/sock", 10);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	close(s);
	/* Symlinks that would leave the root if followed by the host. */
	snprintf(p, sizeof(p), "%s/abs", root);
	if (symlink(canary, p) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/rel", root);
	if (symlink("../../../../../../../../..", p) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/chain1", root);
	if (symlink("chain2", p) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/chain2", root);
	if (symlink("/abs", p) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/loop", root);
	if (symlink("loop", p) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/magic", root);
	if (symlink("/proc/self/root/etc", p) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/big", root);
	fd = open(p, O_WRONLY | O_CREAT, 0644);
	if (fd < 0 || ftruncate(fd, 100LL << 30) < 0)
		return -1;
	close(fd);
	root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return root_fd < 0 ? -1 : 0;
}

static int
test_reads_stay_inside(void)
{
	char *text = NULL;

	CHECK_INT(inroot_read(root_fd, "/etc/passwd", 4096, &text, NULL), 0);
	CHECK_STR(text, "root:x:0:0:root:/root:/bin/sh\n");
	free(text);
	/* "/abs" is the root's own /abs -> canary path, resolved inside: no such file there. */
	CHECK_INT(inroot_read(root_fd, "/abs/hosts", 4096, &text, NULL), -ENOENT);
	/* ".." stops at the root: rel/etc/hosts is the root's /etc/hosts. */
	CHECK_INT(inroot_read(root_fd, "/rel/etc/hosts", 4096, &text, NULL), 0);
	CHECK_STR(text, "in the root\n");
	free(text);
	CHECK_INT(inroot_read(root_fd, "../../etc/hosts", 4096, &text, NULL), 0);
	CHECK_STR(text, "in the root\n");
	free(text);
	CHECK_INT(inroot_read(root_fd, "/chain1/hosts", 4096, &text, NULL), -ENOENT);
	CHECK_INT(inroot_read(root_fd, "/loop", 4096, &text, NULL), -ELOOP);
	/* /proc/self/root is a magic link: refused, not followed to the host's /. */
	CHECK(inroot_read(root_fd, "/magic/passwd", 4096, &text, NULL) < 0);
	return 0;
}

static int
test_special_files_refused_at_once(void)
{
	char *text = NULL;
	struct stat st;
	time_t t0 = time(NULL);
	int fd;

	CHECK_INT(inroot_read(root_fd, "/etc/fifo", 4096, &text, NULL), -EINVAL);
	CHECK_INT(inroot_read(root_fd, "/etc/null", 4096, &text, NULL), -EINVAL);
	CHECK_INT(inroot_read(root_fd, "/etc/sock", 4096, &text, NULL), -EINVAL);
	CHECK_INT(inroot_read(root_fd, "/etc", 4096, &text, NULL), -EISDIR);
	CHECK_INT(inroot_file(root_fd, "/etc/fifo", &st), -EINVAL);
	CHECK(S_ISFIFO(st.st_mode));
	/* A 100 GiB sparse file is refused by its size, not read. */
	CHECK_INT(inroot_read(root_fd, "/big", 4 << 20, &text, NULL), -EFBIG);
	fd = inroot_file(root_fd, "/big", &st);
	CHECK(fd >= 0);
	CHECK_INT(st.st_size, 100LL << 30);
	close(fd);
	CHECK(time(NULL) - t0 < 5);
	return 0;
}

static int
test_parent_and_lstat(void)
{
	char name[256];
	struct stat st;
	int dfd;

	/* /abs/hosts: its parent is the root's /abs, a symlink to a path missing inside. */
	CHECK_INT(inroot_parent(root_fd, "/abs/hosts", name, sizeof(name)), -ENOENT);
	dfd = inroot_parent(root_fd, "/etc/hosts", name, sizeof(name));
	CHECK(dfd >= 0);
	CHECK_STR(name, "hosts");
	CHECK_INT(fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
	CHECK(S_ISREG(st.st_mode));
	close(dfd);
	CHECK_INT(inroot_parent(root_fd, "/", name, sizeof(name)), -EINVAL);
	CHECK_INT(inroot_parent(root_fd, "/etc/..", name, sizeof(name)), -EINVAL);
	CHECK_INT(inroot_lstat(root_fd, "/abs", &st), 0);
	CHECK(S_ISLNK(st.st_mode));
	CHECK_INT(inroot_stat(root_fd, "/abs", &st), -ENOENT);
	CHECK_INT(inroot_stat(root_fd, "/rel/etc", &st), 0);
	CHECK(S_ISDIR(st.st_mode));
	return 0;
}

static int
test_mkdirs_and_mkfile_stay_inside(void)
{
	char p[2048];
	struct stat st;
	int fd;

	/* /abs names the canary, missing inside the root: nothing is made through it. */
	CHECK_INT(inroot_mkdirs(root_fd, "/abs/made", 0755, 0, 0, 0), -ENOENT);
	snprintf(p, sizeof(p), "%s/made", canary);
	CHECK_INT(stat(p, &st), -1);
	/* Once that path exists inside the root, the symlink leads there. */
	snprintf(p, sizeof(p), "%s%s", root, canary);
	fd = inroot_mkdirs(root_fd, canary, 0700, 0, 0, 0);
	CHECK(fd >= 0);
	close(fd);
	fd = inroot_mkdirs(root_fd, "/abs/made", 0755, 0, 0, 0);
	CHECK(fd >= 0);
	close(fd);
	snprintf(p, sizeof(p), "%s%s/made", root, canary);
	CHECK_INT(stat(p, &st), 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_INT(st.st_mode & 07777, 0755);
	snprintf(p, sizeof(p), "%s/made", canary);
	CHECK_INT(stat(p, &st), -1);
	fd = inroot_mkdirs(root_fd, "/w/x/../y", 0750, 123, 456, 0);
	CHECK(fd >= 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/w/y", root);
	CHECK_INT(stat(p, &st), 0);
	CHECK_INT(st.st_uid, 123);
	CHECK_INT(st.st_mode & 07777, 0750);
	CHECK_INT(inroot_mkdirs(root_fd, "/loop/x", 0755, 0, 0, 0), -ELOOP);
	/* Files: made when missing, refused when something else is there. */
	fd = inroot_mkfile(root_fd, "/abs/hosts", 0644);
	CHECK(fd >= 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/hosts", canary);
	CHECK_INT(stat(p, &st), 0);
	CHECK_INT(st.st_size, 12); /* the canary is untouched */
	CHECK_INT(inroot_mkfile(root_fd, "/etc/fifo", 0644), -EINVAL);
	CHECK_INT(inroot_mkfile(root_fd, "/etc/null", 0644), -EINVAL);
	return 0;
}

static int
test_beneath(void)
{
	int fd;

	CHECK_INT(inroot_beneath(root_fd, "../canary/hosts", O_RDONLY), -EXDEV);
	CHECK_INT(inroot_beneath(root_fd, "abs/hosts", O_RDONLY), -EXDEV);
	fd = inroot_beneath(root_fd, "etc/passwd", O_RDONLY);
	CHECK(fd >= 0);
	close(fd);
	/* O_NONBLOCK: a FIFO in a build context does not hang the daemon. */
	fd = inroot_beneath(root_fd, "etc/fifo", O_RDONLY | O_NONBLOCK);
	CHECK(fd >= 0);
	close(fd);
	return 0;
}

int
main(void)
{
	char cmd[600];

	printf("# inroot\n");
	if (geteuid() != 0 || make_tree() < 0) {
		printf("1..0 # SKIP needs root and a writable /tmp\n");
		return 0;
	}
	RUN(test_reads_stay_inside);
	RUN(test_special_files_refused_at_once);
	RUN(test_parent_and_lstat);
	RUN(test_mkdirs_and_mkfile_stay_inside);
	RUN(test_beneath);
	close(root_fd);
	if (getenv("BK_TEST_KEEP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", base);
	}
	return TAP_DONE();
}
