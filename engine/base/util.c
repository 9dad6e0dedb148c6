/*
 * Atomic file replacement, file reading and other small helpers (declared in
 * base/base.h; allocation is common/xalloc.h's).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "bocker.h"
#include "base/base.h"

int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
replace_file(int dfd, const char *name, const void *data, size_t len, bool durable,
	     struct bk_err *err)
{
	char tmp[NAME_MAX + 1];
	cleanup_close int fd = -1;
	int ret;

	ret = snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	if (ret < 0 || (size_t)ret >= sizeof(tmp))
		return bk_err_set(err, ENAMETOOLONG, "write %s: name too long", name);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return bk_err_sys(err, "write %s: create temp file", name);
	if (write_all(fd, data, len) < 0 || (durable && fsync(fd) < 0)) {
		ret = bk_err_sys(err, "write %s", name);
		unlinkat(dfd, tmp, 0);
		return ret;
	}
	if (renameat(dfd, tmp, dfd, name) < 0) {
		ret = bk_err_sys(err, "write %s: rename", name);
		unlinkat(dfd, tmp, 0);
		return ret;
	}
	/* The rename is durable only once the directory itself is synced. */
	if (durable && fsync(dfd) < 0)
		return bk_err_sys(err, "write %s: sync directory", name);
	return 0;
}

int
write_file_atomic(int dfd, const char *name, const void *data, size_t len, struct bk_err *err)
{
	return replace_file(dfd, name, data, len, true, err);
}

int
write_file_replace(int dfd, const char *name, const void *data, size_t len, struct bk_err *err)
{
	return replace_file(dfd, name, data, len, false, err);
}

int
read_fd_all(int fd, size_t max, char **out, size_t *len, struct bk_err *err)
{
	cleanup_free char *buf = NULL;
	size_t used = 0, cap = 4096;

	buf = xmalloc(cap);
	for (;;) {
		ssize_t n;

		if (used + 1 >= cap) {
			if (cap > max)
				return bk_err_set(err, EFBIG, "larger than %zu bytes", max);
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		n = read(fd, buf + used, cap - used - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return bk_err_sys(err, "read");
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	if (used > max)
		return bk_err_set(err, EFBIG, "larger than %zu bytes", max);
	buf[used] = '\0';
	if (len)
		*len = used;
	*out = take_ptr(buf);
	return 0;
}

int
read_file_at(int dfd, const char *name, size_t max, char **out, size_t *len, struct bk_err *err)
{
	cleanup_close int fd = -1;

	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return bk_err_sys(err, "read %s", name);
	if (read_fd_all(fd, max, out, len, err) < 0)
		return bk_err_wrap(err, "read %s", name);
	return 0;
}

bool
word_in(const char *list, const char *word, const char *seps)
{
	size_t n = strlen(word);
	const char *p;

	if (n == 0)
		return false;
	for (p = strstr(list, word); p; p = strstr(p + 1, word))
		if ((p == list || strchr(seps, p[-1])) && (p[n] == '\0' || strchr(seps, p[n])))
			return true;
	return false;
}

int
read_file_root(int dfd, const char *name, mode_t forbid, size_t max, char **out, size_t *len,
	       struct bk_err *err)
{
	cleanup_close int fd =
	    openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		return bk_err_sys(err, "%s", name);
	if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & forbid))
		return bk_err_set(err, EPERM, "%s: not a regular file of root's", name);
	return read_fd_all(fd, max, out, len, err);
}

int
random_hex(char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[64];
	size_t i;

	if (n > 2 * sizeof(raw))
		return -EINVAL;
	if (getrandom(raw, (n + 1) / 2, 0) < 0)
		return -errno;
	for (i = 0; i < n; i++)
		out[i] = hex[(raw[i / 2] >> ((i & 1) ? 0 : 4)) & 0xf];
	out[n] = '\0';
	return 0;
}

int
parse_size(const char *s, uint64_t *out)
{
	const char *digits = s;
	char *end = NULL;
	double v;
	uint64_t mult = 1;

	/*
	 * Decimal digits and an optional fraction, as docker's sizes: strtod
	 * alone would also take a sign, an exponent, hex, "inf" and "nan".
	 */
	if (s == NULL || *s < '0' || *s > '9')
		return -EINVAL;
	while (*digits >= '0' && *digits <= '9')
		digits++;
	if (*digits == '.') {
		if (digits[1] < '0' || digits[1] > '9')
			return -EINVAL;
		for (digits++; *digits >= '0' && *digits <= '9'; digits++)
			;
	}
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end != digits || v < 0)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		mult = 1ULL << 10;
		end++;
		break;
	case 'm':
	case 'M':
		mult = 1ULL << 20;
		end++;
		break;
	case 'g':
	case 'G':
		mult = 1ULL << 30;
		end++;
		break;
	case 't':
	case 'T':
		mult = 1ULL << 40;
		end++;
		break;
	default:
		break;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end != '\0')
		return -EINVAL;
	if (v * (double)mult >= 18446744073709551615.0)
		return -EINVAL;
	*out = (uint64_t)(v * (double)mult);
	return 0;
}

/*
 * A directory stream on dfd with its own file offset: dup() would share the
 * offset, so a second listing of the same fd would start at its end.
 */
DIR *
opendir_at(int dfd)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (d == NULL)
		close(fd);
	return d;
}

int
new_id(const char *prefix, char out[BK_ID_SIZE])
{
	char hex[13];
	int ret = random_hex(hex, 12);

	if (ret < 0)
		return ret;
	snprintf(out, BK_ID_SIZE, "%s%s", prefix, hex);
	return 0;
}

void
strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}
