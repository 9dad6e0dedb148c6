/*
 * test_copy.c: copy_tree() on a real tree (run as root): contents, types,
 * modes with setuid/setgid/sticky, owners, times, xattrs, symlinks not
 * followed, hardlinks, fifos, stats, cancellation, depth and ENOSPC, and,
 * where a loop-mounted btrfs can be made, reflinks and the cross-filesystem
 * path.  Everything lives under one mkdtemp directory in /tmp, removed at the
 * end unless BK_TEST_KEEP=1.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <linux/fiemap.h>
#include <unistd.h>

#include "bocker.h"
#include "store/store.h"
#include "base/base.h"
#include "tap.h"

/* From <linux/fs.h>, which does not mix with <sys/mount.h>. */
#ifndef FS_IOC_FIEMAP
#define FS_IOC_FIEMAP _IOWR('f', 11, struct fiemap)
#endif

static char base[] = "/tmp/bkt-copy-XXXXXX";
static char src[PATH_MAX], dst[PATH_MAX], outside[PATH_MAX];
static char small_mnt[PATH_MAX], btrfs_mnt[PATH_MAX];
static uint64_t want_bytes, want_files;
static bool have_chr, have_user_xattr;
static struct stat outside_before, target_before;

/* "dir/rel" in one of a few rotating buffers: enough for one CHECK's arguments. */
static const char *
at(const char *dir, const char *rel)
{
	static char bufs[8][PATH_MAX];
	static unsigned next;
	char *b = bufs[next++ % ARRAY_SIZE(bufs)];

	snprintf(b, PATH_MAX, "%s/%s", dir, rel);
	return b;
}

static int
put(const char *path, const char *data, mode_t mode)
{
	cleanup_close int fd = -1;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, data, strlen(data)) < 0 || fchmod(fd, mode) < 0)
		return -1;
	return 0;
}

/* A regular file in src, counted in what copy_tree should report. */
static int
put_src(const char *rel, const char *data, mode_t mode)
{
	want_bytes += strlen(data);
	want_files++;
	return put(at(src, rel), data, mode);
}

static int
set_times(const char *path, time_t a, long a_ns, time_t m, long m_ns)
{
	const struct timespec ts[2] = { { a, a_ns }, { m, m_ns } };

	return utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
}

/* Contents of a small file, "" if unreadable. */
static const char *
slurp(const char *path)
{
	static char buf[4096];
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

static int
count_entries(const char *path)
{
	cleanup_dir DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	return n;
}

/* copy_tree from one path to another, with fds opened the way the engine does. */
static int
copy_paths(const char *from, const char *to, struct bk_cancel *cancel, struct copy_stats *stats,
	   struct bk_err *err)
{
	cleanup_close int sfd = open(from, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int dfd = open(to, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (sfd < 0 || dfd < 0)
		return -errno;
	return copy_tree(sfd, dfd, cancel, stats, err);
}

static int
test_setup(void)
{
	CHECK(mkdtemp(base) != NULL);
	snprintf(src, sizeof(src), "%s/src", base);
	snprintf(dst, sizeof(dst), "%s/dst", base);
	snprintf(outside, sizeof(outside), "%s/outside", base);
	CHECK(mkdir(src, 0755) == 0 && mkdir(dst, 0755) == 0 && mkdir(outside, 0755) == 0);
	CHECK(put(at(outside, "target"), "outside\n", 0644) == 0);

	CHECK(put_src("file", "hello, world\n", 0644) == 0);
	CHECK(put_src("empty", "", 0600) == 0);
	CHECK(mkdir(at(src, "sub"), 0755) == 0 && mkdir(at(src, "sub/deep"), 0755) == 0);
	CHECK(put_src("sub/inner", "inner data", 0640) == 0);
	CHECK(put_src("sub/deep/leaf", "x", 0444) == 0);
	CHECK(put_src("hl1", "linked", 0604) == 0);
	CHECK(link(at(src, "hl1"), at(src, "sub/hl2")) == 0);
	CHECK(symlink(at(outside, "target"), at(src, "abs_link")) == 0);
	CHECK(symlink("sub/inner", at(src, "rel_link")) == 0);
	CHECK(symlink(outside, at(src, "dir_link")) == 0);
	CHECK(symlink("nowhere", at(src, "owned_link")) == 0);
	CHECK(lchown(at(src, "owned_link"), 1234, 5678) == 0);
	CHECK(mkfifo(at(src, "fifo"), 0600) == 0 && chmod(at(src, "fifo"), 0640) == 0);
	CHECK(mknod(at(src, "sock"), S_IFSOCK | 0600, 0) == 0);
	have_chr = mknod(at(src, "null"), S_IFCHR | 0600, makedev(1, 3)) == 0;
	if (have_chr)
		CHECK(chmod(at(src, "null"), 0666) == 0);
	/* chown clears setuid/setgid, so the bits go on after it, as copy_tree must do. */
	CHECK(put_src("suid", "#!/bin/sh\n", 0755) == 0 && chmod(at(src, "suid"), 04755) == 0);
	CHECK(put_src("sgid_owned", "g", 0755) == 0);
	CHECK(chown(at(src, "sgid_owned"), 1234, 5678) == 0);
	CHECK(chmod(at(src, "sgid_owned"), 02755) == 0);
	CHECK(put_src("owned", "o", 0644) == 0 && chown(at(src, "owned"), 1234, 5678) == 0);
	CHECK(mkdir(at(src, "sticky"), 0755) == 0 && chmod(at(src, "sticky"), 01777) == 0);
	CHECK(put_src("xattr", "x", 0644) == 0);
	have_user_xattr = setxattr(at(src, "xattr"), "user.test", "hello", 5, 0) == 0;
	if (have_user_xattr)
		CHECK(setxattr(at(src, "sub"), "user.dir", "yes", 3, 0) == 0);
	CHECK(chmod(at(src, "sub"), 0750) == 0);

	CHECK(set_times(at(src, "file"), 1000000000, 500, 1234567890, 123456789) == 0);
	CHECK(set_times(at(src, "abs_link"), 1100000000, 0, 1200000000, 7) == 0);
	CHECK(set_times(at(src, "fifo"), 1300000000, 0, 1300000001, 0) == 0);
	/* Last in sub: nothing created in it afterwards. */
	CHECK(set_times(at(src, "sub"), 1400000000, 0, 1500000000, 42) == 0);

	CHECK(stat(outside, &outside_before) == 0 &&
	      stat(at(outside, "target"), &target_before) == 0);
	return 0;
}

static int
test_copy(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct copy_stats stats = { 99, 99 };
	int ret;

	ret = copy_paths(src, dst, NULL, &stats, &err);
	if (ret < 0)
		printf("# copy_tree: %d %s\n", ret, err.msg);
	CHECK(ret == 0);
	CHECK(err.code == 0);
	CHECK(stats.bytes == want_bytes);
	CHECK(stats.files == want_files);
	return 0;
}

static int
test_contents(void)
{
	struct stat st;

	CHECK_STR(slurp(at(dst, "file")), "hello, world\n");
	CHECK_STR(slurp(at(dst, "sub/inner")), "inner data");
	CHECK_STR(slurp(at(dst, "sub/deep/leaf")), "x");
	CHECK(lstat(at(dst, "empty"), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0);
	CHECK(lstat(at(dst, "sub"), &st) == 0 && S_ISDIR(st.st_mode));
	return 0;
}

static bool
has_mode(const char *path, mode_t type, mode_t perm)
{
	struct stat st;

	return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == type &&
	       (st.st_mode & 07777) == perm;
}

static bool
has_owner(const char *path, uid_t uid, gid_t gid)
{
	struct stat st;

	return lstat(path, &st) == 0 && st.st_uid == uid && st.st_gid == gid;
}

static int
test_modes_owners(void)
{
	CHECK(has_mode(at(dst, "file"), S_IFREG, 0644));
	CHECK(has_mode(at(dst, "empty"), S_IFREG, 0600));
	CHECK(has_mode(at(dst, "sub"), S_IFDIR, 0750));
	CHECK(has_mode(at(dst, "sub/deep/leaf"), S_IFREG, 0444));
	CHECK(has_mode(at(dst, "suid"), S_IFREG, 04755));
	CHECK(has_mode(at(dst, "sgid_owned"), S_IFREG, 02755));
	CHECK(has_mode(at(dst, "sticky"), S_IFDIR, 01777));
	CHECK(has_owner(at(dst, "suid"), 0, 0));
	CHECK(has_owner(at(dst, "owned"), 1234, 5678));
	CHECK(has_owner(at(dst, "sgid_owned"), 1234, 5678));
	CHECK(has_owner(at(dst, "owned_link"), 1234, 5678));
	CHECK(has_owner(at(dst, "file"), 0, 0));
	return 0;
}

static bool
has_times(const char *path, time_t a, long a_ns, time_t m, long m_ns)
{
	struct stat st;

	return lstat(path, &st) == 0 && st.st_atim.tv_sec == a && st.st_atim.tv_nsec == a_ns &&
	       st.st_mtim.tv_sec == m && st.st_mtim.tv_nsec == m_ns;
}

static int
test_times(void)
{
	CHECK(has_times(at(dst, "file"), 1000000000, 500, 1234567890, 123456789));
	CHECK(has_times(at(dst, "abs_link"), 1100000000, 0, 1200000000, 7));
	CHECK(has_times(at(dst, "fifo"), 1300000000, 0, 1300000001, 0));
	CHECK(has_times(at(dst, "sub"), 1400000000, 0, 1500000000, 42));
	return 0;
}

static const char *
link_target(const char *path)
{
	static char buf[PATH_MAX];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);

	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

static int
test_symlinks_not_followed(void)
{
	struct stat st;

	CHECK(has_mode(at(dst, "abs_link"), S_IFLNK, 0777));
	CHECK_STR(link_target(at(dst, "abs_link")), at(outside, "target"));
	CHECK_STR(link_target(at(dst, "rel_link")), "sub/inner");
	CHECK_STR(link_target(at(dst, "dir_link")), outside);
	CHECK_STR(link_target(at(dst, "owned_link")), "nowhere");
	/* Outside the trees nothing changed, and nothing new appeared anywhere. */
	CHECK(stat(outside, &st) == 0 && st.st_mtim.tv_sec == outside_before.st_mtim.tv_sec &&
	      st.st_mtim.tv_nsec == outside_before.st_mtim.tv_nsec);
	CHECK(stat(at(outside, "target"), &st) == 0 && st.st_ino == target_before.st_ino &&
	      st.st_size == target_before.st_size &&
	      st.st_mtim.tv_nsec == target_before.st_mtim.tv_nsec);
	CHECK_STR(slurp(at(outside, "target")), "outside\n");
	CHECK(count_entries(outside) == 1);
	CHECK(count_entries(base) == 3);
	CHECK(count_entries(dst) == count_entries(src));
	CHECK(count_entries(at(dst, "sub")) == 3);
	return 0;
}

static int
test_hardlinks(void)
{
	struct stat a, b, s;

	CHECK(lstat(at(dst, "hl1"), &a) == 0 && lstat(at(dst, "sub/hl2"), &b) == 0);
	CHECK(lstat(at(src, "hl1"), &s) == 0);
	CHECK(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	CHECK(a.st_ino != s.st_ino);
	CHECK(a.st_nlink == 2);
	CHECK(has_mode(at(dst, "sub/hl2"), S_IFREG, 0604));
	CHECK_STR(slurp(at(dst, "sub/hl2")), "linked");
	return 0;
}

static int
test_special_files(void)
{
	struct stat st;

	CHECK(has_mode(at(dst, "fifo"), S_IFIFO, 0640));
	CHECK(has_mode(at(dst, "sock"), S_IFSOCK, 0600));
	if (!have_chr)
		return 0;
	CHECK(has_mode(at(dst, "null"), S_IFCHR, 0666));
	CHECK(lstat(at(dst, "null"), &st) == 0 && st.st_rdev == makedev(1, 3));
	return 0;
}

static int
test_xattrs(void)
{
	char buf[16] = "";
	ssize_t n;

	if (!have_user_xattr)
		return 77;
	n = getxattr(at(dst, "xattr"), "user.test", buf, sizeof(buf) - 1);
	CHECK(n == 5);
	CHECK_STR(buf, "hello");
	memset(buf, 0, sizeof(buf));
	n = getxattr(at(dst, "sub"), "user.dir", buf, sizeof(buf) - 1);
	CHECK(n == 3);
	CHECK_STR(buf, "yes");
	CHECK(getxattr(at(dst, "file"), "user.test", buf, sizeof(buf)) < 0 && errno == ENODATA);
	return 0;
}

static int
test_cancel(void)
{
	struct bk_cancel cancel;
	struct bk_err err = BK_ERR_INIT;
	struct copy_stats stats;
	const char *to = at(base, "cancelled");

	atomic_init(&cancel.cancelled, 1);
	CHECK(mkdir(to, 0755) == 0);
	CHECK(copy_paths(src, to, &cancel, &stats, &err) == -EINTR);
	CHECK(err.code == EINTR);
	CHECK_STR(err.msg, "copy: interrupted");
	CHECK(count_entries(to) == 0);
	CHECK(stats.bytes == 0 && stats.files == 0);
	CHECK(rmdir(to) == 0);
	return 0;
}

/* levels nested directories "d" under dir. */
static int
make_nest(const char *dir, int levels)
{
	cleanup_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int i, next;

	for (i = 0; i < levels; i++) {
		if (fd < 0 || mkdirat(fd, "d", 0755) < 0)
			return -1;
		next = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		close(fd);
		fd = next;
	}
	return fd < 0 ? -1 : 0;
}

static int
test_depth(void)
{
	char cmd[3 * PATH_MAX + 64];
	struct bk_err err = BK_ERR_INIT;
	const char *from = at(base, "nest"), *to_bad = at(base, "nest_bad");
	const char *to_ok = at(base, "nest_ok"), *from_ok = at(from, "d");

	CHECK(mkdir(from, 0755) == 0 && mkdir(to_bad, 0755) == 0 && mkdir(to_ok, 0755) == 0);
	CHECK(make_nest(from, 257) == 0);
	CHECK(copy_paths(from, to_bad, NULL, NULL, &err) == -ELOOP);
	CHECK(err.code == ELOOP);
	CHECK(strncmp(err.msg, "copy 'd/d/d/", 12) == 0);
	err = (struct bk_err)BK_ERR_INIT;
	CHECK(copy_paths(from_ok, to_ok, NULL, NULL, &err) == 0);
	snprintf(cmd, sizeof(cmd), "rm -rf --one-file-system -- '%s' '%s' '%s'", from, to_bad,
		 to_ok);
	CHECK(system(cmd) == 0);
	return 0;
}

static int
test_enospc(void)
{
	char big[64 * 1024];
	struct bk_err err = BK_ERR_INIT;
	const char *from = at(base, "big_src");
	int ret;

	snprintf(small_mnt, sizeof(small_mnt), "%s/small", base);
	CHECK(mkdir(small_mnt, 0755) == 0);
	if (mount("tmpfs", small_mnt, "tmpfs", 0, "size=64k") < 0) {
		printf("# mount tmpfs: %s\n", strerror(errno));
		small_mnt[0] = '\0';
		return 77;
	}
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(mkdir(from, 0755) == 0);
	CHECK(put(at(from, "a"), big, 0644) == 0 && put(at(from, "b"), big, 0644) == 0);
	ret = copy_paths(from, small_mnt, NULL, NULL, &err);
	printf("# %s\n", err.msg);
	CHECK(ret == -ENOSPC);
	CHECK(err.code == ENOSPC);
	CHECK(strncmp(err.msg, "copy '", 6) == 0);
	CHECK(strstr(err.msg, ": No space left on device") != NULL);
	CHECK(umount2(small_mnt, MNT_DETACH) == 0);
	small_mnt[0] = '\0';
	return 0;
}

static bool
same_content(const char *path, const char *data, size_t len)
{
	static char buf[512 * 1024];
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));

	return n >= 0 && (size_t)n == len && memcmp(buf, data, len) == 0;
}

/* Whether every extent of path is shared with another file (a reflink). */
static bool
all_shared(const char *path)
{
	union {
		struct fiemap fm;
		char bytes[sizeof(struct fiemap) + 32 * sizeof(struct fiemap_extent)];
	} u;
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	unsigned i;

	memset(&u, 0, sizeof(u));
	u.fm.fm_length = FIEMAP_MAX_OFFSET;
	u.fm.fm_flags = FIEMAP_FLAG_SYNC;
	u.fm.fm_extent_count = 32;
	if (fd < 0 || ioctl(fd, FS_IOC_FIEMAP, &u.fm) < 0 || u.fm.fm_mapped_extents == 0)
		return false;
	for (i = 0; i < u.fm.fm_mapped_extents; i++)
		if (!(u.fm.fm_extents[i].fe_flags & FIEMAP_EXTENT_SHARED))
			return false;
	return true;
}

/* The real case: into btrfs from ext4 (byte copy) and from the same btrfs (reflink). */
static int
test_btrfs(void)
{
	char cmd[3 * PATH_MAX], data[300 * 1024];
	struct bk_err err = BK_ERR_INIT;
	struct copy_stats stats;
	struct stat st;
	size_t i;

	snprintf(btrfs_mnt, sizeof(btrfs_mnt), "%s/btrfs", base);
	snprintf(cmd, sizeof(cmd),
		 "truncate -s 256M %s/btrfs.img && mkfs.btrfs -q %s/btrfs.img >/dev/null 2>&1 && "
		 "mkdir %s && mount -o loop %s/btrfs.img %s 2>/dev/null",
		 base, base, btrfs_mnt, base, btrfs_mnt);
	if (system(cmd) != 0) {
		printf("# no loop-mounted btrfs here\n");
		btrfs_mnt[0] = '\0';
		return 77;
	}
	CHECK(mkdir(at(btrfs_mnt, "from_ext4"), 0755) == 0);
	CHECK(copy_paths(src, at(btrfs_mnt, "from_ext4"), NULL, &stats, &err) == 0);
	CHECK(stats.bytes == want_bytes && stats.files == want_files);
	CHECK_STR(slurp(at(btrfs_mnt, "from_ext4/file")), "hello, world\n");
	CHECK(has_mode(at(btrfs_mnt, "from_ext4/suid"), S_IFREG, 04755));
	/* Only mtime: the first copy's reads moved the source's atimes. */
	CHECK(lstat(at(btrfs_mnt, "from_ext4/sub"), &st) == 0 && st.st_mtim.tv_sec == 1500000000 &&
	      st.st_mtim.tv_nsec == 42);

	for (i = 0; i < sizeof(data) - 1; i++)
		data[i] = (char)('a' + i % 26);
	data[sizeof(data) - 1] = '\0';
	CHECK(mkdir(at(btrfs_mnt, "src"), 0755) == 0 && mkdir(at(btrfs_mnt, "dst"), 0755) == 0);
	CHECK(put(at(btrfs_mnt, "src/big"), data, 0644) == 0);
	CHECK(copy_paths(at(btrfs_mnt, "src"), at(btrfs_mnt, "dst"), NULL, &stats, &err) == 0);
	CHECK(stats.bytes == sizeof(data) - 1 && stats.files == 1);
	CHECK(same_content(at(btrfs_mnt, "dst/big"), data, sizeof(data) - 1));
	CHECK(all_shared(at(btrfs_mnt, "dst/big")));
	CHECK(umount2(btrfs_mnt, 0) == 0);
	btrfs_mnt[0] = '\0';
	return 0;
}

static int
test_bad_args(void)
{
	struct bk_err err = BK_ERR_INIT;

	CHECK(copy_paths(src, src, NULL, NULL, &err) == -EINVAL);
	CHECK(err.code == EINVAL);
	/* The destination inside the source. */
	err = (struct bk_err)BK_ERR_INIT;
	CHECK(mkdir(at(base, "self"), 0755) == 0);
	CHECK(mkdir(at(base, "self/into"), 0755) == 0);
	CHECK(copy_paths(at(base, "self"), at(base, "self/into"), NULL, NULL, &err) == -EINVAL);
	CHECK_STR(err.msg, "copy 'into': is the destination");
	return 0;
}

static void
cleanup_base(void)
{
	char cmd[PATH_MAX + 64];

	if (small_mnt[0])
		umount2(small_mnt, MNT_DETACH);
	if (btrfs_mnt[0])
		umount2(btrfs_mnt, MNT_DETACH);
	if (getenv("BK_TEST_KEEP") != NULL) {
		printf("# kept %s\n", base);
		return;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf --one-file-system -- '%s'", base);
	if (strncmp(base, "/tmp/bkt-copy-", 14) == 0 && strchr(base, 'X') == NULL)
		if (system(cmd) != 0)
			printf("# could not remove %s\n", base);
}

int
main(void)
{
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root\n");
		return 0;
	}
	RUN(test_setup);
	RUN(test_copy);
	RUN(test_times); /* before anything reads the copies and moves their atimes */
	RUN(test_contents);
	RUN(test_modes_owners);
	RUN(test_symlinks_not_followed);
	RUN(test_hardlinks);
	RUN(test_special_files);
	RUN(test_xattrs);
	RUN(test_cancel);
	RUN(test_depth);
	RUN(test_enospc);
	RUN(test_btrfs);
	RUN(test_bad_args);
	cleanup_base();
	return TAP_DONE();
}
