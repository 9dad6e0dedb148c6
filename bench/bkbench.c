/*
 * bkbench: timings of bockerfs operations from a client's side, in-process
 * (no process start per operation, as a program using the tree would do).
 *
 *   bkbench MNT run N IMAGE          run-to-exit of `true`, median ms
 *   bkbench MNT state N ID           open+read+close of containers/ID/state, median us
 *   bkbench MNT index N              cat containers/index, median ms
 *   bkbench MNT runnone N IMAGE      run-to-exit of `true` with `net mode none` (clone,
 *                                    image, net, cmd, start, wait), median ms
 *   bkbench MNT runmounts N IMAGE FILE   as runnone, with FILE's lines written to the
 *                                    container's mounts before its start, median ms
 *   bkbench MNT keystroke N ID       a byte written to a running tty container's `in` until
 *                                    its echo is read from `out`, median us
 *   bkbench MNT exec N ID            exec of `true` in a running container, from the
 *                                    session's ctl write until its wait returns, median ms
 *   bkbench MNT read N PATH          open+read to the end+close of PATH, median us
 *   bkbench MNT ctl N PATH LINE      open+write LINE+close of the control file PATH, median us
 *   bkbench MNT ls N DIR             opendir+readdir to the end+closedir of DIR, median ms
 *   bkbench MNT burst N IMAGE        N run-to-exits of `true` at once (a thread each):
 *                                    "WALL_MS P50_MS P99_MS" (each start: run write to wait)
 *   bkbench MNT burstnone N IMAGE    the same with `net mode none` (as runnone)
 *
 * Prints one line: "median MIN MAX" in the unit named.  BKBENCH_GAP_MS=N: run, runnone,
 * runmounts and exec wait N ms after each one (after its rmdir), so that what the daemon
 * makes ahead is ready again: a start's latency alone, not under the last one's aftermath.
 */
#include <dirent.h>
#include <stdbool.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static ssize_t
slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n, total = 0;

	if (fd < 0)
		return -1;
	while ((n = read(fd, buf + total, size - 1 - (size_t)total)) > 0)
		total += n;
	close(fd);
	buf[total] = '\0';
	return total;
}

static int
run_once(const char *mnt, const char *image, double *us)
{
	char path[512], id[128], buf[256], line[256];
	double t = now_us();
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/containers/run", mnt);
	fd = open(path, O_RDWR);
	if (fd < 0)
		return -1;
	n = snprintf(line, sizeof(line), "%s true\n", image);
	if (write(fd, line, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	n = read(fd, id, sizeof(id) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	id[strcspn(id, "\n")] = '\0';
	id[n] = '\0';
	id[strcspn(id, "\n")] = '\0';
	snprintf(path, sizeof(path), "%s/containers/%s/wait", mnt, id);
	if (slurp(path, buf, sizeof(buf)) < 0)
		return -1;
	*us = now_us() - t;
	snprintf(path, sizeof(path), "%s/containers/%s", mnt, id);
	rmdir(path);
	return 0;
}

static int
write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_TRUNC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int
runnone_once(const char *mnt, const char *image, const char *mounts, double *us)
{
	char path[512], id[128], buf[256], line[256];
	double t = now_us();

	snprintf(path, sizeof(path), "%s/containers/clone", mnt);
	if (slurp(path, id, sizeof(id)) <= 0)
		return -1;
	id[strcspn(id, "\n")] = '\0';
	snprintf(path, sizeof(path), "%s/containers/%s/image", mnt, id);
	snprintf(line, sizeof(line), "%s\n", image);
	if (write_file(path, line) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/containers/%s/net", mnt, id);
	if (write_file(path, "mode none\n") < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/containers/%s/cmd", mnt, id);
	if (write_file(path, "true\n") < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/containers/%s/mounts", mnt, id);
	if (mounts && write_file(path, mounts) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/containers/%s/ctl", mnt, id);
	if (write_file(path, "start\n") < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/containers/%s/wait", mnt, id);
	if (slurp(path, buf, sizeof(buf)) < 0)
		return -1;
	*us = now_us() - t;
	snprintf(path, sizeof(path), "%s/containers/%s", mnt, id);
	rmdir(path);
	return 0;
}

static int
exec_once(const char *mnt, const char *ctr, double *us)
{
	char path[512], n[32], buf[256];
	double t;

	snprintf(path, sizeof(path), "%s/containers/%s/exec/clone", mnt, ctr);
	if (slurp(path, n, sizeof(n)) <= 0)
		return -1;
	n[strcspn(n, "\n")] = '\0';
	t = now_us();
	snprintf(path, sizeof(path), "%s/containers/%s/exec/%s/ctl", mnt, ctr, n);
	if (write_file(path, "exec true\n") < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/containers/%s/exec/%s/wait", mnt, ctr, n);
	if (slurp(path, buf, sizeof(buf)) < 0)
		return -1;
	*us = now_us() - t;
	return 0;
}

/* Keystroke round trips on container ctr (tty 1, running): t gets n of them, in us. */
static int
keystrokes(const char *mnt, const char *ctr, int n, double *t)
{
	char path[512], buf[4096];
	int in, out, i;

	snprintf(path, sizeof(path), "%s/containers/%s/in", mnt, ctr);
	in = open(path, O_WRONLY);
	snprintf(path, sizeof(path), "%s/containers/%s/out", mnt, ctr);
	out = open(path, O_RDONLY);
	if (in < 0 || out < 0)
		return -1;
	for (i = 0; i < n; i++) {
		char key = (char)('a' + i % 26);
		double start = now_us();
		ssize_t r;

		if (write(in, &key, 1) != 1)
			return -1;
		/* Until the terminal's echo of that key comes back. */
		do
			r = read(out, buf, sizeof(buf));
		while (r > 0 && memchr(buf, key, (size_t)r) == NULL);
		if (r <= 0)
			return -1;
		t[i] = now_us() - start;
	}
	close(in);
	close(out);
	return 0;
}

struct burst {
	const char *mnt, *image;
	bool none; /* net mode none */
	double us;
	int ret;
	pthread_barrier_t *go;
};

static void *
burst_one(void *arg)
{
	struct burst *b = arg;

	pthread_barrier_wait(b->go);
	b->ret = b->none ? runnone_once(b->mnt, b->image, NULL, &b->us)
			 : run_once(b->mnt, b->image, &b->us);
	return NULL;
}

/* n runs at once: the wall time from the go to the last wait, and each start's. */
static int
burst(const char *mnt, const char *image, int n, bool none)
{
	struct burst *b = calloc((size_t)n, sizeof(*b));
	pthread_t *th = calloc((size_t)n, sizeof(*th));
	double *t = calloc((size_t)n, sizeof(double)), start;
	pthread_barrier_t go;
	int i;

	pthread_barrier_init(&go, NULL, (unsigned)n + 1);
	for (i = 0; i < n; i++) {
		b[i] = (struct burst){ .mnt = mnt, .image = image, .none = none, .go = &go };
		if (pthread_create(&th[i], NULL, burst_one, &b[i]) != 0)
			return -1;
	}
	start = now_us();
	pthread_barrier_wait(&go);
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	start = now_us() - start;
	for (i = 0; i < n; i++) {
		if (b[i].ret < 0)
			return -1;
		t[i] = b[i].us / 1000.0;
	}
	qsort(t, (size_t)n, sizeof(double), cmp);
	printf("%.2f %.2f %.2f\n", start / 1000.0, t[n / 2], t[(n * 99 + 99) / 100 - 1]);
	return 0;
}

static int
ctl_once(const char *path, const char *line, double *us)
{
	double t = now_us();

	if (write_file(path, line) < 0)
		return -1;
	*us = now_us() - t;
	return 0;
}

static int
ls_once(const char *dir, double *us)
{
	double t = now_us();
	DIR *d = opendir(dir);
	long n = 0;

	if (d == NULL)
		return -1;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	*us = now_us() - t;
	return n > 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	const char *mnt, *mode;
	double *t;
	const char *gap = getenv("BKBENCH_GAP_MS");
	int n, i, gap_ms = gap ? atoi(gap) : 0;
	char path[512];
	static char buf[1 << 20], mounts[1 << 16];

	if (argc < 4) {
		fprintf(stderr, "usage: bkbench MNT run|state|index N [ARG]\n");
		return 2;
	}
	mnt = argv[1];
	mode = argv[2];
	n = atoi(argv[3]);
	if (strcmp(mode, "runmounts") == 0 &&
	    (argc < 6 || slurp(argv[5], mounts, sizeof(mounts)) < 0)) {
		fprintf(stderr, "bkbench: runmounts N IMAGE FILE: cannot read the mounts file\n");
		return 2;
	}
	t = calloc((size_t)n, sizeof(double));
	if (strcmp(mode, "burst") == 0 || strcmp(mode, "burstnone") == 0) {
		if (burst(mnt, argv[4], n, strcmp(mode, "burstnone") == 0) < 0) {
			perror(mode);
			return 1;
		}
		return 0;
	}
	if (strcmp(mode, "ctl") == 0 || strcmp(mode, "ls") == 0) {
		char line[512];

		snprintf(line, sizeof(line), "%s\n", argc > 5 ? argv[5] : "");
		for (i = 0; i < n; i++) {
			int ret = strcmp(mode, "ctl") == 0 ? ctl_once(argv[4], line, &t[i])
							   : ls_once(argv[4], &t[i]);

			if (ret < 0) {
				perror(argv[4]);
				return 1;
			}
			if (strcmp(mode, "ls") == 0)
				t[i] /= 1000.0;
		}
		qsort(t, (size_t)n, sizeof(double), cmp);
		printf("%.3f %.3f %.3f\n", t[n / 2], t[0], t[n - 1]);
		return 0;
	}
	if (strcmp(mode, "keystroke") == 0) {
		if (keystrokes(mnt, argv[4], n, t) < 0) {
			perror(mode);
			return 1;
		}
		qsort(t, (size_t)n, sizeof(double), cmp);
		printf("%.3f %.3f %.3f\n", t[n / 2], t[0], t[n - 1]);
		return 0;
	}
	for (i = 0; i < n; i++) {
		double start;

		if (strcmp(mode, "run") == 0 || strcmp(mode, "runnone") == 0 ||
		    strcmp(mode, "runmounts") == 0 || strcmp(mode, "exec") == 0) {
			int ret = strcmp(mode, "run") == 0 ? run_once(mnt, argv[4], &t[i])
				  : strcmp(mode, "runnone") == 0
				      ? runnone_once(mnt, argv[4], NULL, &t[i])
				  : strcmp(mode, "runmounts") == 0
				      ? runnone_once(mnt, argv[4], mounts, &t[i])
				      : exec_once(mnt, argv[4], &t[i]);

			if (ret < 0) {
				perror(mode);
				return 1;
			}
			t[i] /= 1000.0;
			if (gap_ms > 0)
				usleep((useconds_t)gap_ms * 1000);
			continue;
		}
		if (strcmp(mode, "state") == 0)
			snprintf(path, sizeof(path), "%s/containers/%s/state", mnt, argv[4]);
		else if (strcmp(mode, "read") == 0)
			snprintf(path, sizeof(path), "%s", argv[4]);
		else
			snprintf(path, sizeof(path), "%s/containers/index", mnt);
		start = now_us();
		if (slurp(path, buf, sizeof(buf)) < 0) {
			perror(path);
			return 1;
		}
		t[i] = now_us() - start;
		if (strcmp(mode, "index") == 0)
			t[i] /= 1000.0;
	}
	qsort(t, (size_t)n, sizeof(double), cmp);
	printf("%.3f %.3f %.3f\n", t[n / 2], t[0], t[n - 1]);
	return 0;
}
