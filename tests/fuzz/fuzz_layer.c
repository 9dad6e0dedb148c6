/*
 * Fuzz engine/store/layer.c's layer_extract (with small caps): each input is a layer blob (plain
 * tar; gzip or zstd if it starts with their magic; gzip both by ISA-L and by
 * libarchive's zlib, which must agree), fed in odd-sized chunks
 * as the network would, and extracted into a fresh directory BASE/root next
 * to a canary directory BASE/victim.  After each input:
 *   - BASE holds root and victim only, victim and its file are unchanged
 *     (content, mode, link count: no hardlink to it either), and root is
 *     still the directory that was handed over;
 *   - a failure carries an errno and a message;
 *   - on success the diff id is the sha256 of the tar stream (of the input
 *     itself when uncompressed);
 * then root is removed, so every input starts from an empty layer.
 *
 * A custom mutator fixes the header checksums that most mutations break,
 * so that the fuzzer gets past libarchive's check to layer.c.
 *
 * BASE is $FUZZ_TMP (run.sh gives a fresh directory) or a new directory in
 * /tmp.  As root, the target first moves to a mount namespace of its own and
 * mounts a tmpfs (nosuid, nodev, 512 MiB) on BASE: device nodes a layer makes
 * are inert, a decompression bomb ends in ENOSPC, and whatever a crash leaves
 * goes with the process.  Without root, owners and device nodes are skipped
 * by layer_extract itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/limits.h>
#include <sched.h>
#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "store/store.h"
#include "base/base.h"

#define CHUNK  1000 /* not a multiple of 512: tar blocks straddle reads */
#define CANARY "canary\n"

static char base[PATH_MAX - 64];
static char root_path[PATH_MAX];
static char victim_path[PATH_MAX];
static bool made_base, mounted;
static struct stat victim_st, hello_st;

/* Caps small enough for inputs of 64 KiB to reach (and for the tmpfs to hold). */
static const struct layer_limits limits = {
	.entries = 4096,
	.tar_bytes = 32u << 20,
	.entry_size = 8u << 20,
	.ratio = 100,
	.ratio_floor = 1u << 20,
};

/* ---- the directories -------------------------------------------------- */

/* Remove what dfd/name is, never following a symlink; directories made searchable first. */
static void
remove_at(int dfd, const char *name)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	int fd;

	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return;
	fchmodat(dfd, name, 0700, 0);
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "fuzz: cannot remove '%s': %s\n", name, strerror(errno));
		abort();
	}
	d = fdopendir(fd);
	if (d == NULL)
		abort();
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			remove_at(dirfd(d), de->d_name);
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0) {
		fprintf(stderr, "fuzz: cannot rmdir '%s': %s\n", name, strerror(errno));
		abort();
	}
}

static void
cleanup_base(void)
{
	if (mounted)
		umount2(base, MNT_DETACH);
	if (made_base)
		rmdir(base);
}

/* As root: a private mount namespace and a tmpfs on base. */
static void
mount_tmpfs(void)
{
	if (geteuid() != 0)
		return;
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", base, "tmpfs", MS_NOSUID | MS_NODEV, "size=512m,mode=0700") < 0) {
		fprintf(stderr, "fuzz: no tmpfs on %s (%s): extracting to it as it is\n", base,
			strerror(errno));
		return;
	}
	mounted = true;
}

static void
make_victim(void)
{
	char hello[PATH_MAX + 8];
	int fd;

	snprintf(victim_path, sizeof(victim_path), "%s/victim", base);
	snprintf(root_path, sizeof(root_path), "%s/root", base);
	snprintf(hello, sizeof(hello), "%s/hello", victim_path);
	if (mkdir(victim_path, 0755) < 0)
		abort();
	fd = open(hello, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0 || write_all(fd, CANARY, strlen(CANARY)) < 0)
		abort();
	close(fd);
	if (chmod(victim_path, 0755) < 0 || chmod(hello, 0640) < 0 ||
	    lstat(victim_path, &victim_st) < 0 || lstat(hello, &hello_st) < 0)
		abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("FUZZ_TMP");

	(void)argc;
	(void)argv;
	bk_log_set_sink(fuzz_quiet_sink);
	umask(022);
	if (tmp && *tmp) {
		snprintf(base, sizeof(base), "%s", tmp);
	} else {
		snprintf(base, sizeof(base), "/tmp/bkfuzz-layer.XXXXXX");
		if (mkdtemp(base) == NULL)
			abort();
		made_base = true;
	}
	atexit(cleanup_base);
	mount_tmpfs();
	make_victim();
	return 0;
}

/* ---- the checks ------------------------------------------------------- */

static bool
same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_mode == b->st_mode &&
	       a->st_nlink == b->st_nlink && a->st_uid == b->st_uid && a->st_gid == b->st_gid &&
	       a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static void
check_outside(int root_fd)
{
	char hello[PATH_MAX + 8], buf[64] = "";
	struct stat st, rst;
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	ssize_t n;
	int fd, count = 0;

	snprintf(hello, sizeof(hello), "%s/hello", victim_path);
	FUZZ_ASSERT(lstat(victim_path, &st) == 0 && same_stat(&st, &victim_st));
	FUZZ_ASSERT(lstat(hello, &st) == 0 && same_stat(&st, &hello_st));
	fd = open(hello, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	FUZZ_ASSERT(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	FUZZ_ASSERT(n == (ssize_t)strlen(CANARY) && memcmp(buf, CANARY, (size_t)n) == 0);
	d = opendir(victim_path);
	FUZZ_ASSERT(d != NULL);
	while ((de = readdir(d)) != NULL)
		count++;
	FUZZ_ASSERT(count == 3); /* ".", "..", "hello" */
	closedir(d);
	d = opendir(base);
	FUZZ_ASSERT(d != NULL);
	for (count = 0; (de = readdir(d)) != NULL; count++)
		FUZZ_ASSERT(!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
			    !strcmp(de->d_name, "root") || !strcmp(de->d_name, "victim"));
	FUZZ_ASSERT(count == 4);
	/* The root handed over is still the directory at root_path. */
	FUZZ_ASSERT(fstat(root_fd, &rst) == 0 && lstat(root_path, &st) == 0);
	FUZZ_ASSERT(S_ISDIR(st.st_mode) && st.st_ino == rst.st_ino && st.st_dev == rst.st_dev);
}

/* ---- the reader ------------------------------------------------------- */

struct memsrc {
	const uint8_t *p;
	size_t left;
};

static ssize_t
mem_read(void *arg, const void **buf, struct bk_err *err)
{
	struct memsrc *m = arg;
	size_t n = m->left < CHUNK ? m->left : CHUNK;

	(void)err;
	*buf = m->p;
	m->p += n;
	m->left -= n;
	return (ssize_t)n;
}

static enum layer_comp
comp_of(const uint8_t *data, size_t size)
{
	if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b)
		return LAYER_GZIP;
	if (size >= 4 && data[0] == 0x28 && data[1] == 0xb5 && data[2] == 0x2f && data[3] == 0xfd)
		return LAYER_ZSTD;
	return LAYER_TAR;
}

/* ---- the mutator ------------------------------------------------------ */

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

/* A tar header's size field: octal digits, NUL- or space-ended; -1 if it is not. */
static long long
header_size(const uint8_t *h)
{
	long long n = 0;
	size_t i = 0;

	while (i < 12 && h[124 + i] == ' ')
		i++;
	for (; i < 12 && h[124 + i] >= '0' && h[124 + i] <= '7'; i++)
		n = n * 8 + (h[124 + i] - '0');
	if (i < 12 && h[124 + i] != '\0' && h[124 + i] != ' ')
		return -1;
	return n;
}

/*
 * Recompute the checksum of every ustar header in an uncompressed tar, walking
 * header to header by the size fields: libarchive refuses a header whose
 * checksum is wrong, which almost every mutation of it makes.
 */
static void
fix_checksums(uint8_t *data, size_t size)
{
	size_t off = 0;

	while (off + 512 <= size) {
		uint8_t *h = data + off;
		unsigned int sum = 0;
		long long n = header_size(h);

		if (memcmp(h + 257, "ustar", 5) != 0 || n < 0 || n > (long long)size)
			return;
		memset(h + 148, ' ', 8);
		for (size_t i = 0; i < 512; i++)
			sum += h[i];
		snprintf((char *)h + 148, 8, "%06o", sum & 0777777);
		h[155] = ' ';
		off += 512 + ((size_t)n + 511) / 512 * 512;
	}
}

/* Mutate as libFuzzer does, then (seven times in eight) make the tar headers valid again. */
size_t
LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	size = LLVMFuzzerMutate(data, size, max_size);
	if (seed % 8 != 0 && comp_of(data, size) == LAYER_TAR)
		fix_checksums(data, size);
	return size;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bk_err err = BK_ERR_INIT;
	struct layer_stats st;
	char diff[DIGEST_STR_SIZE] = "", want[DIGEST_STR_SIZE];
	/* A copy of exactly size bytes: ASan sees any read past the blob. */
	uint8_t *copy = malloc(size ? size : 1);
	struct memsrc m = { copy, size };
	struct layer_reader r = { mem_read, &m };
	enum layer_comp comp = comp_of(data, size);
	int fd, ret;

	if (copy == NULL)
		abort();
	memcpy(copy, data, size);
	if (mkdir(root_path, 0755) < 0)
		abort();
	fd = open(root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		abort();
	layer_set_inflater(LAYER_INFLATE_ISAL);
	ret = layer_extract_limited(fd, comp, &r, &limits, NULL, diff, &st, &err);
	fuzz_check_err(ret, &err, "layer_extract");
	check_outside(fd);
	if (ret == 0) {
		FUZZ_ASSERT(ref_digest_valid(diff) && m.left == 0);
		FUZZ_ASSERT(st.entries <= limits.entries && st.tar_bytes <= limits.tar_bytes);
		if (comp == LAYER_TAR) {
			digest_buf(data, size, want);
			FUZZ_ASSERT(strcmp(diff, want) == 0 && st.tar_bytes == size);
		}
	}
	close(fd);
	remove_at(AT_FDCWD, root_path);
	if (comp == LAYER_GZIP) {
		/*
		 * Differential: what ISA-L accepts, libarchive's zlib accepts with
		 * the same diff id (ISA-L may refuse more: it checks the CRC of
		 * every member).
		 */
		struct memsrc m2 = { copy, size };
		struct layer_reader r2 = { mem_read, &m2 };
		struct bk_err err2 = BK_ERR_INIT;
		char diff2[DIGEST_STR_SIZE];
		int ret2;

		if (mkdir(root_path, 0755) < 0)
			abort();
		fd = open(root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			abort();
		layer_set_inflater(LAYER_INFLATE_ZLIB);
		ret2 = layer_extract_limited(fd, comp, &r2, &limits, NULL, diff2, NULL, &err2);
		fuzz_check_err(ret2, &err2, "layer_extract (zlib)");
		check_outside(fd);
		if (ret == 0)
			FUZZ_ASSERT(ret2 == 0 && strcmp(diff, diff2) == 0);
		close(fd);
		remove_at(AT_FDCWD, root_path);
	}
	free(copy);
	return 0;
}
