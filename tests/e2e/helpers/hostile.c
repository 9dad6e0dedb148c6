/*
 * hostile: what tests/e2e/86-hostile-rootfs.bats runs inside a container
 * to rearrange its own filesystem with calls busybox has no applet for.
 * Built static by the Makefile (build/tests/helpers/hostile: the image has
 * no libc) and copied into the test's busybox image as /bin/hostile.
 *
 *   hostile sock PATH          bind a unix socket at PATH (the file stays)
 *   hostile swap A B [SECS]    exchange A and B with renameat2(RENAME_EXCHANGE)
 *                              in a tight loop (forever, or SECS seconds);
 *                              prints "swapping" after the first exchange
 *   hostile deep DIR N         N nested directories "d" in DIR
 *   hostile loops DIR N        N symlinks in DIR, each to the next, the last
 *                              to the first (every lookup through them: ELOOP)
 *   hostile subvol PATH        a btrfs subvolume at PATH
 *   hostile ro PATH            make subvolume PATH read-only
 *   hostile snap SRC DST       a snapshot of subvolume SRC at DST
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/btrfs.h>

static int
fail(const char *what)
{
	fprintf(stderr, "hostile: %s: %s\n", what, strerror(errno));
	return 1;
}

static int
parent_fd(const char *path, char *base, size_t size)
{
	char a[4096], b[4096];

	snprintf(a, sizeof(a), "%s", path);
	snprintf(b, sizeof(b), "%s", path);
	snprintf(base, size, "%s", basename(a));
	return open(dirname(b), O_RDONLY | O_DIRECTORY);
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "sock") == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int s = socket(AF_UNIX, SOCK_STREAM, 0);

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[2]);
		if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return fail("sock");
		return 0;
	}
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "swap") == 0) {
		time_t end = argc == 5 ? time(NULL) + atol(argv[4]) : 0;
		unsigned long n = 0;

		for (;;) {
			if (renameat2(AT_FDCWD, argv[2], AT_FDCWD, argv[3], RENAME_EXCHANGE) < 0)
				return fail("swap");
			if (n++ == 0) {
				printf("swapping\n");
				fflush(stdout);
			}
			if (end && (n & 1023) == 0 && time(NULL) >= end)
				break;
		}
		printf("swapped %lu times\n", n);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "deep") == 0) {
		int fd, i, n = atoi(argv[3]);

		if (mkdir(argv[2], 0755) < 0 && errno != EEXIST)
			return fail("deep: mkdir");
		fd = open(argv[2], O_RDONLY | O_DIRECTORY);

		for (i = 0; fd >= 0 && i < n; i++) {
			int next;

			if (mkdirat(fd, "d", 0755) < 0 && errno != EEXIST)
				return fail("deep: mkdir");
			next = openat(fd, "d", O_RDONLY | O_DIRECTORY);
			close(fd);
			fd = next;
		}
		return fd < 0 ? fail("deep: open") : 0;
	}
	if (argc == 4 && strcmp(argv[1], "loops") == 0) {
		int i, n = atoi(argv[3]);
		char path[4096], target[64];

		for (i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "%s/l%d", argv[2], i);
			snprintf(target, sizeof(target), "l%d", (i + 1) % n);
			if (symlink(target, path) < 0)
				return fail("loops");
		}
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "ro") == 0) {
		__u64 flags = BTRFS_SUBVOL_RDONLY;
		int fd = open(argv[2], O_RDONLY | O_DIRECTORY);

		if (fd < 0 || ioctl(fd, BTRFS_IOC_SUBVOL_SETFLAGS, &flags) < 0)
			return fail("ro");
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "subvol") == 0) {
		struct btrfs_ioctl_vol_args va = { 0 };
		int dfd = parent_fd(argv[2], va.name, sizeof(va.name));

		if (dfd < 0 || ioctl(dfd, BTRFS_IOC_SUBVOL_CREATE, &va) < 0)
			return fail("subvol");
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "snap") == 0) {
		struct btrfs_ioctl_vol_args_v2 va = { 0 };
		int dfd = parent_fd(argv[3], va.name, sizeof(va.name));

		va.fd = open(argv[2], O_RDONLY | O_DIRECTORY);
		if (dfd < 0 || va.fd < 0 || ioctl(dfd, BTRFS_IOC_SNAP_CREATE_V2, &va) < 0)
			return fail("snap");
		return 0;
	}
	fprintf(stderr, "usage: hostile sock|swap|deep|loops|ro|subvol|snap ...\n");
	return 2;
}
