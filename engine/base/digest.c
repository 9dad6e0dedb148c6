/*
 * sha256 through libcrypto's EVP interface.  libcurl already pulls libcrypto
 * in on Debian (libcurl4-openssl-dev), and EVP picks the SHA-NI or AVX2 code
 * at run time, which matters: every layer byte is hashed twice (compressed
 * for the blob digest, uncompressed for the diff id).
 */
#include <stdio.h>
#include <stdlib.h>
#include <openssl/evp.h>

#include "base/base.h"

void
digest_init(struct digest *d)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		abort();
	d->ctx = ctx;
}

void
digest_update(struct digest *d, const void *data, size_t len)
{
	if (len > 0 && EVP_DigestUpdate(d->ctx, data, len) != 1)
		abort();
}

void
digest_final(struct digest *d, char out[DIGEST_STR_SIZE])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;
	char *p = out;

	if (EVP_DigestFinal_ex(d->ctx, md, &n) != 1 || n != 32)
		abort();
	p += snprintf(out, DIGEST_STR_SIZE, "sha256:");
	for (i = 0; i < n; i++) {
		*p++ = hex[md[i] >> 4];
		*p++ = hex[md[i] & 15];
	}
	*p = '\0';
	digest_free(d);
}

void
digest_free(struct digest *d)
{
	if (d->ctx)
		EVP_MD_CTX_free(d->ctx);
	d->ctx = NULL;
}

void
digest_buf(const void *data, size_t len, char out[DIGEST_STR_SIZE])
{
	struct digest d;

	digest_init(&d);
	digest_update(&d, data, len);
	digest_final(&d, out);
}
