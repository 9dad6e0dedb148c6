/*
 * Pulling an image: manifest (or index, then the platform's manifest),
 * config, then the layers, each a btrfs snapshot of the one below it, keyed
 * by chain id in store/layers/<hex>/ so that images sharing a base store it
 * once and a second pull downloads nothing.
 *
 * Streaming.  Each missing layer has a fetcher thread running a blocking
 * libcurl transfer whose write callback hashes the compressed bytes and
 * queues them; the pull's own thread extracts the layers in order, libarchive
 * pulling from that queue (layer.c).  Layers download in parallel (up to
 * PULL_PARALLEL at once), but a layer can only be extracted onto the one
 * below it, so the queue of a layer that is ahead of the extraction is
 * bounded (QUEUE_AHEAD_MAX) and its fetcher waits there; the layer being
 * extracted streams through a smaller queue (QUEUE_STREAM_MAX), so a disk
 * slower than the network also holds the transfer back: no temporary
 * tarball, bounded memory.  The blob digest is checked when its transfer
 * ends, which the extractor waits for (it reads its source to the end) before
 * the layer can be committed; the diff id is checked against the config.
 *
 * Crash safety.  A layer is built in tmp/ (emptied at every start) and
 * renamed into layers/ only when verified and read-only; the image is built
 * in tmp/<id>/ and published by one rename.  After a kill -9, what is in
 * layers/ is whole and reused; everything else is gone at the next start.
 *
 * Concurrent pulls.  A layer is built by one pull at a time: the pull that
 * claims its chain id first downloads and commits it, and any other pull that
 * needs it (the same image, or another on the same base) waits for that and
 * reuses the layer, so each blob is fetched once; configs likewise, through
 * the config cache.  If the one fetching fails, one of the waiting pulls
 * claims the blob and fetches it itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "ops/ops.h"
#include "store/store.h"
#include "parse/parse.h"
#include "registry/registry.h"
#include "base/base.h"

#define PULL_PARALLEL    3
#define QUEUE_AHEAD_MAX  (32u << 20) /* bytes queued for a layer waiting its turn */
#define QUEUE_STREAM_MAX (8u << 20)  /* bytes queued for the layer being extracted */

/* ---- configuration ----------------------------------------------------- */

void
pull_result_free(struct pull_result *res)
{
	free(res->familiar);
	json_decref(res->config);
	free(res->manifest);
	free(res->layers_text);
	free(res->layers);
	free(res->config_raw);
	memset(res, 0, sizeof(*res));
}

/* ---- a layer's stream: fetcher thread -> queue -> extractor ------------ */

struct chunk {
	struct chunk *next;
	size_t len;
	char data[];
};

struct fetch {
	struct registry *reg;
	const struct manifest_layer *ml;
	const struct bk_pull_progress *progress;
	struct bk_cancel *cancel;
	pthread_t thread;
	bool started;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct chunk *head, *tail; /* protected by mu */
	size_t queued;             /* protected by mu */
	bool extracting;           /* protected by mu: its turn has come (smaller queue) */
	bool abort;                /* protected by mu: the extractor gave up */
	bool done;                 /* protected by mu: the transfer is over */
	int ret;                   /* protected by mu: its result, once done */
	struct bk_err err;         /* protected by mu: its error, once done */

	/* fetcher thread only */
	struct digest dig;
	uint64_t received;
	/* the blob kept as it came (for pushes): tmp/<blob_name>, renamed into the layer */
	int tmp_fd;
	int blob_fd;
	char blob_name[64];
	/* extractor only */
	struct chunk *current;
};

static int
fetch_sink(void *arg, const void *data, size_t len, struct bk_err *err)
{
	struct fetch *f = arg;
	struct chunk *c;

	f->received += len;
	/* Halfway through the blob (a test's kill -9 or dropped transfer). */
	if (f->received >= f->ml->size / 2 && f->received - len < f->ml->size / 2) {
		int ret = failpoint("pull.mid-blob", err);

		if (ret < 0)
			return ret;
	}
	/* The manifest gives the size: a longer stream is wrong whatever its digest. */
	if (f->received > f->ml->size)
		return bk_err_set(err, EBADMSG, "more than the %llu bytes the manifest announced",
				  (unsigned long long)f->ml->size);
	digest_update(&f->dig, data, len);
	if (write_all(f->blob_fd, data, len) < 0)
		return bk_err_sys(err, "keep the blob in tmp/%s", f->blob_name);
	c = xmalloc(sizeof(*c) + len);
	c->next = NULL;
	c->len = len;
	memcpy(c->data, data, len);
	pthread_mutex_lock(&f->mu);
	while (f->queued >= (f->extracting ? QUEUE_STREAM_MAX : QUEUE_AHEAD_MAX) && !f->abort)
		pthread_cond_wait(&f->cv, &f->mu);
	if (f->abort) {
		pthread_mutex_unlock(&f->mu);
		free(c);
		return bk_err_set(err, EINTR, "download stopped");
	}
	if (f->tail)
		f->tail->next = c;
	else
		f->head = c;
	f->tail = c;
	f->queued += len;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	if (f->progress && f->progress->layer)
		f->progress->layer(f->progress->arg, f->ml->digest, f->received, f->ml->size);
	return 0;
}

static void *
fetch_main(void *arg)
{
	struct fetch *f = arg;
	struct bk_err err = BK_ERR_INIT;
	char got[DIGEST_STR_SIZE];
	int ret;

	digest_init(&f->dig);
	/* A broken transfer resumes inside (Range): fetch_sink sees each byte once. */
	ret = registry_stream_blob(f->reg, f->ml->digest, f->ml->size, fetch_sink, f, &err);
	if (ret == 0) {
		digest_final(&f->dig, got);
		/* "digest mismatch" first: layer_build looks for it to report the cause. */
		if (strcmp(got, f->ml->digest) != 0 && f->received != f->ml->size)
			ret = bk_err_set(&err, EBADMSG,
					 "digest mismatch (got %s from %llu bytes, the manifest "
					 "says %llu)",
					 got, (unsigned long long)f->received,
					 (unsigned long long)f->ml->size);
		else if (strcmp(got, f->ml->digest) != 0)
			ret = bk_err_set(&err, EBADMSG, "digest mismatch (got %s)", got);
		else if (f->received != f->ml->size)
			ret = bk_err_set(&err, EBADMSG, "%llu bytes, the manifest says %llu",
					 (unsigned long long)f->received,
					 (unsigned long long)f->ml->size);
	}
	digest_free(&f->dig);
	pthread_mutex_lock(&f->mu);
	f->done = true;
	f->ret = ret;
	f->err = err;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

static int
fetch_start(struct fetch *f, struct bk_err *err)
{
	char rnd[13];
	int ret;

	random_hex(rnd, 12);
	snprintf(f->blob_name, sizeof(f->blob_name), "blob-%.16s-%s",
		 f->ml->digest + strlen("sha256:"), rnd);
	f->blob_fd = openat(f->tmp_fd, f->blob_name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (f->blob_fd < 0)
		return bk_err_sys(err, "create tmp/%s", f->blob_name);
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	ret = pthread_create(&f->thread, NULL, fetch_main, f);
	if (ret != 0) {
		errno = ret;
		close(f->blob_fd);
		unlinkat(f->tmp_fd, f->blob_name, 0);
		pthread_mutex_destroy(&f->mu);
		pthread_cond_destroy(&f->cv);
		return bk_err_sys(err, "start a download thread");
	}
	f->started = true;
	return 0;
}

/* Stop (if still running) and join the fetcher; free what it queued. */
static void
fetch_finish(struct fetch *f)
{
	if (!f->started)
		return;
	pthread_mutex_lock(&f->mu);
	f->abort = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->thread, NULL);
	while (f->head) {
		struct chunk *c = f->head;

		f->head = c->next;
		free(c);
	}
	free(f->current);
	f->current = NULL;
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	close(f->blob_fd);
	/* Gone already when the layer took it. */
	unlinkat(f->tmp_fd, f->blob_name, 0);
	f->started = false;
}

/* layer_reader: the next chunk, 0 once the transfer ended well, else its error. */
static ssize_t
fetch_read(void *arg, const void **buf, struct bk_err *err)
{
	struct fetch *f = arg;
	struct chunk *c;
	ssize_t ret;

	/* After the first chunk: the layer is half written in tmp/. */
	if (f->current != NULL && failpoint("pull.mid-extraction", err) < 0)
		return -err->code;
	free(f->current);
	f->current = NULL;
	pthread_mutex_lock(&f->mu);
	f->extracting = true;
	while (f->head == NULL && !f->done) {
		struct timespec ts;

		/* bk_cancel is a bare flag: look at it now and then. */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&f->cv, &f->mu, &ts);
		if (bk_cancelled(f->cancel)) {
			pthread_mutex_unlock(&f->mu);
			return bk_err_set(err, EINTR, "interrupted");
		}
	}
	c = f->head;
	if (c) {
		f->head = c->next;
		if (f->head == NULL)
			f->tail = NULL;
		f->queued -= c->len;
		pthread_cond_broadcast(&f->cv);
		pthread_mutex_unlock(&f->mu);
		f->current = c;
		*buf = c->data;
		return (ssize_t)c->len;
	}
	ret = f->ret;
	if (ret < 0)
		*err = f->err;
	pthread_mutex_unlock(&f->mu);
	return ret;
}

/* ---- the layer store --------------------------------------------------- */

struct pull {
	struct bk_engine *e;
	struct registry *reg;
	struct bk_cancel *cancel;
	const struct bk_pull_progress *progress;
	struct image_ref ref;
	struct manifest man;
	struct pull_layer *layers;
	size_t nlayers;
	int layers_fd;  /* store/layers */
	char repo[520]; /* "host/path": where layers came from, for a push's mounts */
	uint64_t fetched_bytes;
};

static bool
layer_present(struct pull *p, const char *chain)
{
	return layer_committed(p->layers_fd, chain);
}

/* Extract layer i from f onto layer i-1 and commit it (layerbuild.c). */
static int
build_layer(struct pull *p, size_t i, struct fetch *f, struct bk_err *err)
{
	struct pull_layer *l = &p->layers[i];
	struct layer_reader src = { fetch_read, f };
	struct layer_build b = {
		.chain_id = l->chain_id,
		.parent = i ? p->layers[i - 1].chain_id : NULL,
		.diff_id = l->diff_id,
		.digest = l->digest,
		.size = l->size,
		.comp = p->man.layers[i].comp,
		.blob_name = f->blob_name,
		.src = &src,
		.cancel = p->cancel,
		.fp = "pull",
		.source = p->repo,
	};
	int ret = layer_build(p->e, p->layers_fd, &b, &l->file_bytes, err);

	if (ret == 0) {
		l->fetched = true;
		p->fetched_bytes += l->size;
	}
	return ret;
}

/* ---- downloads shared by concurrent pulls ------------------------------ */

/*
 * What some pull of engine e is downloading now, process-wide: layers by
 * chain id ("layer sha256:..."), until committed to layers/, and configs by
 * digest ("config sha256:..."), until cached in configs/.  A handful at most
 * (PULL_PARALLEL layers and one config per pull).  A pull that needs one of
 * them waits on claims_done rather than fetching the blob a second time.
 */
#define CLAIM_KEY_SIZE (DIGEST_STR_SIZE + 8)

struct claim {
	const struct bk_engine *e;
	char key[CLAIM_KEY_SIZE];
};

static pthread_mutex_t claims_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t claims_done = PTHREAD_COND_INITIALIZER;
static struct claim *claims; /* protected by claims_lock */
static size_t nclaims;       /* protected by claims_lock */

static ssize_t
claim_find_locked(const struct bk_engine *e, const char *key)
{
	size_t i;

	for (i = 0; i < nclaims; i++)
		if (claims[i].e == e && strcmp(claims[i].key, key) == 0)
			return (ssize_t)i;
	return -1;
}

/* Claim "KIND DIGEST" for this pull: true, or false if another pull has it. */
static bool
claim_take(struct pull *p, const char *kind, const char *digest)
{
	char key[CLAIM_KEY_SIZE];
	bool taken = false;

	snprintf(key, sizeof(key), "%s %s", kind, digest);
	pthread_mutex_lock(&claims_lock);
	if (claim_find_locked(p->e, key) < 0) {
		claims = xrealloc(claims, (nclaims + 1) * sizeof(*claims));
		claims[nclaims].e = p->e;
		snprintf(claims[nclaims].key, sizeof(claims[nclaims].key), "%s", key);
		nclaims++;
		taken = true;
	}
	pthread_mutex_unlock(&claims_lock);
	return taken;
}

/* Drop a claim: the blob is stored, or this pull gave up on it. */
static void
claim_drop(struct pull *p, const char *kind, const char *digest)
{
	char key[CLAIM_KEY_SIZE];
	ssize_t i;

	snprintf(key, sizeof(key), "%s %s", kind, digest);
	pthread_mutex_lock(&claims_lock);
	i = claim_find_locked(p->e, key);
	if (i >= 0)
		claims[i] = claims[--nclaims];
	pthread_cond_broadcast(&claims_done);
	pthread_mutex_unlock(&claims_lock);
}

/* Until no pull has "KIND DIGEST": 0, or -EINTR if this pull is cancelled meanwhile. */
static int
claim_wait(struct pull *p, const char *kind, const char *digest, struct bk_err *err)
{
	char key[CLAIM_KEY_SIZE];
	struct timespec ts;

	snprintf(key, sizeof(key), "%s %s", kind, digest);
	pthread_mutex_lock(&claims_lock);
	while (claim_find_locked(p->e, key) >= 0) {
		if (bk_cancelled(p->cancel)) {
			pthread_mutex_unlock(&claims_lock);
			return bk_err_set(err, EINTR, "interrupted");
		}
		/* bk_cancel is a bare flag: look at it now and then. */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&claims_done, &claims_lock, &ts);
	}
	pthread_mutex_unlock(&claims_lock);
	return 0;
}

static void
report_done(struct pull *p, size_t i)
{
	if (p->progress && p->progress->layer)
		p->progress->layer(p->progress->arg, p->layers[i].digest, p->layers[i].size,
				   p->layers[i].size);
}

/*
 * Claim layer i and start its download, unless another pull builds it or it
 * is in layers/ already (committed by one since this pull looked).  The
 * claim comes before the look: a pull unclaims a layer only once it is
 * committed or given up, so a layer absent under our claim stays ours.
 */
static int
layer_take(struct pull *p, size_t i, struct fetch *f, bool *owned, struct bk_err *err)
{
	if (!claim_take(p, "layer", p->layers[i].chain_id))
		return 0;
	if (layer_present(p, p->layers[i].chain_id)) {
		claim_drop(p, "layer", p->layers[i].chain_id);
		return 0;
	}
	*owned = true;
	f->reg = p->reg;
	f->tmp_fd = p->e->store.tmp_fd;
	f->ml = &p->man.layers[i];
	f->progress = p->progress;
	f->cancel = p->cancel;
	return fetch_start(f, err);
}

/*
 * Layer i, which this pull did not claim: wait while another pull builds it,
 * then reuse it, or (that pull failed) claim it and download it here.
 * 1: reused; 0: ours to build now (*owned set, its download started).
 */
static int
layer_reuse_or_take(struct pull *p, size_t i, struct fetch *f, bool *owned, struct bk_err *err)
{
	int ret;

	for (;;) {
		if ((ret = claim_wait(p, "layer", p->layers[i].chain_id, err)) < 0)
			return ret;
		if (layer_present(p, p->layers[i].chain_id))
			return 1;
		if ((ret = layer_take(p, i, f, owned, err)) < 0)
			return ret;
		if (*owned)
			return 0;
		/* Claimed by another pull again, or committed meanwhile: look again. */
	}
}

/*
 * Make every layer present in layers/, downloading the missing ones in
 * parallel; those another pull is building are waited for and reused.
 */
static int
build_layers(struct pull *p, struct bk_err *err)
{
	size_t nalloc = p->nlayers ? p->nlayers : 1;
	struct fetch *fs = xcalloc(nalloc, sizeof(*fs));
	bool *owned = xcalloc(nalloc, sizeof(*owned));
	size_t first = 0, i, next = 0;
	int ret = 0;

	/* Everything below the highest layer present is present too. */
	for (i = p->nlayers; i > 0; i--)
		if (layer_present(p, p->layers[i - 1].chain_id)) {
			first = i;
			break;
		}
	for (i = 0; i < first; i++) {
		p->layers[i].file_bytes = layer_file_bytes(p->layers_fd, p->layers[i].chain_id);
		report_done(p, i);
	}
	next = first;
	for (i = first; i < p->nlayers && ret == 0; i++) {
		for (; next < p->nlayers && next < i + PULL_PARALLEL && ret == 0; next++)
			ret = layer_take(p, next, &fs[next], &owned[next], err);
		if (ret == 0 && !owned[i]) {
			ret = layer_reuse_or_take(p, i, &fs[i], &owned[i], err);
			if (ret == 1) {
				p->layers[i].file_bytes =
				    layer_file_bytes(p->layers_fd, p->layers[i].chain_id);
				report_done(p, i);
				ret = 0;
				continue;
			}
		}
		if (ret == 0)
			ret = build_layer(p, i, &fs[i], err);
		if (ret < 0)
			bk_err_wrap(err, "layer %s", p->layers[i].digest);
		fetch_finish(&fs[i]);
		if (owned[i])
			claim_drop(p, "layer", p->layers[i].chain_id);
		owned[i] = false;
	}
	for (i = 0; i < p->nlayers; i++) {
		fetch_finish(&fs[i]);
		if (owned[i])
			claim_drop(p, "layer", p->layers[i].chain_id);
	}
	free(owned);
	free(fs);
	return ret;
}

/* ---- manifest, config -------------------------------------------------- */

/* "REF" or "REF os/arch[/variant]". */
static int
parse_spec(const char *spec, struct image_ref *ref, struct platform *plat, struct bk_err *err)
{
	cleanup_free char *s = xstrdup(spec);
	char *sp, *p = s;
	size_t n;

	p += strspn(p, " \t");
	n = strlen(p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\n'))
		p[--n] = '\0';
	sp = strpbrk(p, " \t");
	platform_host(plat);
	if (sp) {
		*sp++ = '\0';
		sp += strspn(sp, " \t");
		if (platform_parse(sp, plat, err) < 0)
			return -err->code;
	}
	return ref_parse(p, ref, err);
}

int
pull_spec_name(const char *spec, char *out, size_t size, struct bk_err *err)
{
	struct image_ref ref;
	struct platform plat;
	int ret;

	if ((ret = parse_spec(spec, &ref, &plat, err)) < 0)
		return ret;
	if (ref_format_familiar(&ref, out, size) < 0)
		return bk_err_set(err, EINVAL, "reference '%.200s' too long", spec);
	return 0;
}

static int
fetch_manifest(struct pull *p, const struct platform *plat, struct pull_result *out,
	       struct bk_err *err)
{
	cleanup_free char *body = NULL, *ct = NULL;
	char got[DIGEST_STR_SIZE], child[DIGEST_STR_SIZE];
	const char *want = p->ref.digest[0] ? p->ref.digest : NULL;
	enum manifest_kind kind;
	size_t len;
	int ret;

	ret = registry_get_manifest(p->reg, want ? want : p->ref.tag, MANIFEST_MAX, &body, &len,
				    &ct, err);
	if (ret < 0)
		return ret;
	for (int depth = 0;; depth++) {
		digest_buf(body, len, got);
		if (want && strcmp(got, want) != 0)
			return bk_err_set(err, EBADMSG, "manifest %s: digest mismatch (got %s)",
					  want, got);
		if ((ret = manifest_kind(body, len, ct, &kind, err)) < 0)
			return ret;
		if (kind == MANIFEST_IMAGE)
			break;
		if (depth > 0)
			return bk_err_set(err, EPROTO, "index %s points to another index", want);
		if ((ret = manifest_index_select(body, len, plat, child, err)) < 0)
			return ret;
		free(body);
		free(ct);
		body = ct = NULL;
		ret = registry_get_manifest(p->reg, child, MANIFEST_MAX, &body, &len, &ct, err);
		if (ret < 0)
			return ret;
		want = child;
	}
	if ((ret = manifest_parse(body, len, &p->man, err)) < 0)
		return ret;
	snprintf(out->digest, sizeof(out->digest), "%s", got);
	out->manifest = take_ptr(body);
	out->manifest_len = len;
	return 0;
}

/*
 * Configs are blobs too: store/configs/<hex> keeps the verified ones, so that
 * pulling an image again fetches its manifest and nothing else.
 */
static int
config_cached(struct pull *p, char **body, size_t *len)
{
	cleanup_close int dfd =
	    openat(p->e->store.fd, "configs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char got[DIGEST_STR_SIZE];

	if (dfd < 0 ||
	    read_file_at(dfd, digest_hex(p->man.config_digest), CONFIG_MAX, body, len, NULL) < 0)
		return -1;
	digest_buf(*body, *len, got);
	if (strcmp(got, p->man.config_digest) != 0) {
		free(*body);
		*body = NULL;
		return -1;
	}
	return 0;
}

static void
config_cache_put(struct pull *p, const char *body, size_t len)
{
	cleanup_close int dfd = -1;
	struct bk_err err = BK_ERR_INIT;

	if (mkdirat(p->e->store.fd, "configs", 0700) < 0 && errno != EEXIST)
		return;
	dfd = openat(p->e->store.fd, "configs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* A cache: a copy lost to a power cut is fetched again. */
	if (dfd < 0 ||
	    write_file_replace(dfd, digest_hex(p->man.config_digest), body, len, &err) < 0)
		bk_log(BK_LOG_DEBUG, "pull: config not cached: %s", err.msg);
}

static int
fetch_config(struct pull *p, struct pull_result *out, struct bk_err *err)
{
	cleanup_free char *body = NULL;
	cleanup_free const char **ids = NULL;
	size_t len, i;
	int ret;

	/* A config another pull is fetching is waited for, then read from the cache. */
	while (config_cached(p, &body, &len) < 0) {
		if (!claim_take(p, "config", p->man.config_digest)) {
			if ((ret = claim_wait(p, "config", p->man.config_digest, err)) < 0)
				return bk_err_wrap(err, "config");
			continue;
		}
		ret = registry_get_blob(p->reg, p->man.config_digest, CONFIG_MAX, &body, &len, err);
		if (ret == 0)
			config_cache_put(p, body, len);
		claim_drop(p, "config", p->man.config_digest);
		if (ret < 0)
			return bk_err_wrap(err, "config");
		break;
	}
	ret = manifest_config_parse(body, len, p->man.nlayers, &out->config, &ids, err);
	if (ret < 0)
		return ret;
	/* As it came: its digest is the manifest's config digest, for a push. */
	out->config_raw = memcpy(xmalloc(len ? len : 1), body, len);
	out->config_raw_len = len;
	p->nlayers = p->man.nlayers;
	p->layers = xcalloc(p->nlayers ? p->nlayers : 1, sizeof(*p->layers));
	for (i = 0; i < p->nlayers; i++) {
		struct pull_layer *l = &p->layers[i];

		snprintf(l->digest, sizeof(l->digest), "%s", p->man.layers[i].digest);
		l->size = p->man.layers[i].size;
		snprintf(l->diff_id, sizeof(l->diff_id), "%s", ids[i]);
		manifest_chain_id(i ? p->layers[i - 1].chain_id : NULL, l->diff_id, l->chain_id);
	}
	return 0;
}

int
pull_build(struct bk_engine *e, const char *spec, int work_dfd, struct bk_cancel *cancel,
	   const struct bk_pull_progress *progress, struct pull_result *out, struct bk_err *err)
{
	struct registry_opts ropts = { .cancel = cancel };
	struct pull p = { .e = e, .cancel = cancel, .progress = progress, .layers_fd = -1 };
	struct platform plat;
	char familiar[512];
	int ret;

	memset(out, 0, sizeof(*out));
	if ((ret = parse_spec(spec, &p.ref, &plat, err)) < 0)
		return ret;
	snprintf(p.repo, sizeof(p.repo), "%s/%s", p.ref.domain, p.ref.path);
	if (ref_format_familiar(&p.ref, familiar, sizeof(familiar)) < 0)
		return bk_err_set(err, EINVAL, "reference '%.200s' too long", spec);
	out->familiar = xstrdup(familiar);
	ropts.mirrors = (const char *const *)e->registry.mirrors;
	ropts.insecure = (const char *const *)e->registry.insecure;
	ropts.auth_config = e->registry.auth_config;
	if ((ret = registry_open(&p.ref, &ropts, &p.reg, err)) < 0)
		goto out;
	if ((ret = p.layers_fd = layers_open_dir(e, err)) < 0)
		goto out;
	if ((ret = fetch_manifest(&p, &plat, out, err)) < 0 ||
	    (ret = failpoint("pull.manifest", err)) < 0 || (ret = fetch_config(&p, out, err)) < 0 ||
	    (ret = build_layers(&p, err)) < 0)
		goto out;
	if (bk_cancelled(cancel)) {
		ret = bk_err_set(err, EINTR, "interrupted");
		goto out;
	}
	if ((ret = image_dir_write(p.layers_fd, p.layers, p.nlayers, work_dfd, out, err)) == 0)
		ret = failpoint("pull.before-record", err);
out:
	out->requests = p.reg ? registry_requests(p.reg) : 0;
	out->fetched_bytes = p.fetched_bytes;
	out->layers = take_ptr(p.layers);
	out->nlayers = p.nlayers;
	manifest_free(&p.man);
	registry_free(p.reg);
	if (p.layers_fd >= 0)
		close(p.layers_fd);
	return ret;
}

/* ---- the public entry -------------------------------------------------- */

struct progress_relay {
	struct bk_engine *e;
	char id[BK_ID_SIZE];
	const struct bk_pull_progress *user;
};

/* Download threads report here: the image's `progress`, then the caller's callback. */
static void
relay_progress(void *arg, const char *digest, uint64_t done, uint64_t total)
{
	struct progress_relay *r = arg;

	image_pull_progress(&r->e->model, r->id, digest, done, total);
	if (r->user && r->user->layer)
		r->user->layer(r->user->arg, digest, done, total);
}

static int
pull_held(struct bk_engine *e, const char *ref, struct bk_cancel *cancel,
	  const struct bk_pull_progress *progress, char id_out[BK_ID_SIZE], struct bk_err *err)
{
	struct progress_relay relay = { .e = e, .user = progress };
	struct bk_pull_progress hook = { .layer = relay_progress, .arg = &relay };
	struct pull_result res;
	cleanup_close int work_fd = -1;
	char name[512];
	struct timespec t0, t1;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* A malformed reference fails before anything shows in the tree. */
	ret = pull_spec_name(ref, name, sizeof(name), err);
	if (ret < 0)
		return bk_err_wrap(err, "pull");
	ret = image_pull_begin(&e->model, ref, relay.id, err);
	if (ret < 0)
		return ret;
	memset(&res, 0, sizeof(res));
	if (mkdirat(e->store.tmp_fd, relay.id, 0700) < 0) {
		ret = bk_err_sys(err, "mkdir tmp/%s", relay.id);
	} else {
		work_fd = openat(e->store.tmp_fd, relay.id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (work_fd < 0)
			ret = bk_err_sys(err, "open tmp/%s", relay.id);
		else
			ret = pull_build(e, ref, work_fd, cancel, &hook, &res, err);
	}
	if (ret == 0)
		ret = image_pull_finish(&e->model, relay.id, work_fd,
					&(struct pulled){ .familiar = res.familiar,
							  .config = res.config,
							  .manifest = res.manifest,
							  .manifest_len = res.manifest_len,
							  .digest = res.digest,
							  .layers_text = res.layers_text,
							  .size = res.size },
					id_out, err);
	if (ret == 0)
		spare_refill(e, id_out);
	if (ret < 0) {
		store_discard(e->store.tmp_fd, relay.id);
		if (ret == -ENOSPC)
			store_reclaim(e->store.tmp_fd);
		image_pull_abort(&e->model, relay.id);
		pull_result_free(&res);
		return bk_err_wrap(err, "pull '%.200s'", ref);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	bk_log(BK_LOG_INFO,
	       "pulled '%s' (%s) as %s: %zu layer(s), %llu bytes fetched, %llu requests, %.3f s",
	       res.familiar, res.digest, id_out, res.nlayers, (unsigned long long)res.fetched_bytes,
	       (unsigned long long)res.requests,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	events_emit(&e->model.ev, BK_OBJ_IMAGE, id_out, "pull", "ref=%s", res.familiar);
	pull_result_free(&res);
	return 0;
}

int
bk_image_pull(struct bk_engine *e, const char *ref, struct bk_cancel *cancel,
	      const struct bk_pull_progress *progress, char id_out[BK_ID_SIZE], struct bk_err *err)
{
	int ret;

	/* Its layers are in layers/ before the image that names them is. */
	layers_hold(e);
	ret = pull_held(e, ref, cancel, progress, id_out, err);
	layers_release(e);
	return ret;
}
