/*
 * digest.h: streaming sha256 over OpenSSL's libcrypto (EVP), for blob,
 * manifest and layer digests in the "sha256:<64 hex>" form that OCI uses.
 */
#ifndef BK_DIGEST_H
#define BK_DIGEST_H

#include <stddef.h>

#define DIGEST_STR_SIZE 72 /* "sha256:" + 64 hex + NUL, rounded up */

struct digest {
	void *ctx; /* EVP_MD_CTX, owned */
};

/* Start a sha256; aborts on out-of-memory like xmalloc. */
void digest_init(struct digest *d);
void digest_update(struct digest *d, const void *data, size_t len);
/* Finish into out ("sha256:..."); d is reset and may be reused after digest_init. */
void digest_final(struct digest *d, char out[DIGEST_STR_SIZE]);
/* Release d without a result (on error paths); safe on a finished or zeroed digest. */
void digest_free(struct digest *d);
/* One-shot sha256 of a buffer. */
void digest_buf(const void *data, size_t len, char out[DIGEST_STR_SIZE]);

#endif
