/* embed.h: 2-D maps of latent spaces (pca.c, tsne.c). Internal to the runtime
 * and its tests; not part of the public interface (aec.h).
 *
 * Both take latents as the runtime keeps them: z is n rows of d floats
 * (row-major [n, d]), and write n rows of k (PCA) or 2 (t-SNE) floats.
 * Both are deterministic: the same input (and seed) give the same bytes. */
#ifndef AEC_REPORT_EMBED_H
#define AEC_REPORT_EMBED_H

#include <stdint.h>

/* Principal components: centre the data, form the d x d covariance in double,
 * take its top k eigenvectors (LAPACK dsyevr), project onto them. Each
 * component's sign is fixed so that its largest-magnitude loading is positive
 * (the first such, on a tie). out is n x k; explained (may be NULL) gets the
 * k fractions of the total variance, largest first. 0, or -1 after aec_error
 * (n < 2, k < 1, d < k, a non-finite input, LAPACK failure). */
int aec_pca(const float *z, int n, int d, int k, float *out, double *explained);

/* Barnes-Hut t-SNE (van der Maaten, JMLR 2014). */
typedef struct {
    double perplexity;  /* effective neighbours; needs n > 3 * perplexity */
    int iterations;     /* of gradient descent (the first 250 exaggerate P by 12) */
    uint64_t seed;      /* of the initial map: N(0, 1e-4^2) noise from aec_rng */
    double theta;       /* Barnes-Hut accuracy: 0 is exact, larger is faster */
    int progress;       /* print progress on stderr */
} aec_tsne_opts;

#define AEC_TSNE_DEFAULTS \
    ((aec_tsne_opts){ .perplexity = 30, .iterations = 1000, .seed = 1, .theta = 0.5, .progress = 0 })

/* out is n x 2. o NULL means AEC_TSNE_DEFAULTS. 0, -1 after aec_error, or 1
 * when SIGINT or SIGTERM asked to stop (core/stop.h; silently). */
int aec_tsne(const float *z, int n, int d, const aec_tsne_opts *o, float *out);

#endif
