/* pca.c: principal components of latents, through LAPACK's dsyevr.
 *
 * n = points, d = dimensions of a point, k = components kept.
 * The covariance (d x d) is formed in double from centred data, and its
 * top k eigenpairs come from dsyevr (relatively robust representations),
 * which Debian ships inside OpenBLAS. LAPACK's matrices are column-major;
 * the covariance is symmetric, so the layout only matters for the
 * eigenvectors, read back as the columns of ev. */
#include "aec.h"
#include "report/embed.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK (Fortran): the trailing size_t are the hidden lengths of the
 * character arguments that gfortran passes. */
void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n,
             double *a, const int *lda, const double *vl, const double *vu,
             const int *il, const int *iu, const double *abstol, int *m, double *w,
             double *z, const int *ldz, int *isuppz, double *work, const int *lwork,
             int *iwork, const int *liwork, int *info, size_t, size_t, size_t);

/* Index of the first non-finite value of x[0..n), or -1. */
static long first_non_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return (long)i;
    return -1;
}

static int pca_check(const float *z, int n, int d, int k)
{
    if (n < 2 || d < 1 || k < 1 || d < k) {
        aec_error("PCA of %d points of %d dimensions into %d components: need at least "
                  "2 points and 1 <= components <= dimensions", n, d, k);
        return -1;
    }
    long bad = first_non_finite(z, (size_t)n * d);
    if (bad >= 0) {
        aec_error("PCA: point %ld, dimension %ld is not a finite number",
                  bad / d, bad % d);
        return -1;
    }
    return 0;
}

/* mean[d], and the d x d covariance (divisor n - 1); x[d] is scratch. */
static void covariance(const float *z, int n, int d, double *mean, double *cov, double *x)
{
    memset(mean, 0, sizeof *mean * d);
    memset(cov, 0, sizeof *cov * d * d);
    for (int i = 0; i < n; i++)
        for (int c = 0; c < d; c++)
            mean[c] += z[(size_t)i * d + c];
    for (int c = 0; c < d; c++)
        mean[c] /= n;
    for (int i = 0; i < n; i++) {
        for (int c = 0; c < d; c++)
            x[c] = z[(size_t)i * d + c] - mean[c];
        for (int a = 0; a < d; a++)
            for (int b = 0; b <= a; b++)
                cov[a * d + b] += x[a] * x[b];
    }
    for (int a = 0; a < d; a++)
        for (int b = 0; b <= a; b++)
            cov[b * d + a] = cov[a * d + b] /= (n - 1);
}

/* The top k eigenpairs of the symmetric d x d matrix a (destroyed): dsyevr
 * gives eigenvalues il..iu in ascending order, so w[0] is the k-th largest and
 * column k-1 of ev the top eigenvector. 0, or LAPACK's info. */
static int top_eigen(double *a, int d, int k, double *w, double *ev)
{
    int il = d - k + 1, iu = d, m = 0, info = 0, lwork = -1, liwork = -1, iw_query = 0;
    double vl = 0, vu = 0, abstol = 0, w_query = 0;
    int *isuppz = malloc(sizeof *isuppz * 2 * d);
    if (!isuppz)
        return -1;
    dsyevr_("V", "I", "L", &d, a, &d, &vl, &vu, &il, &iu, &abstol, &m, w, ev, &d, isuppz,
            &w_query, &lwork, &iw_query, &liwork, &info, 1, 1, 1);
    lwork = (int)w_query;
    liwork = iw_query;
    double *work = malloc(sizeof *work * lwork);
    int *iwork = malloc(sizeof *iwork * liwork);
    if (info == 0 && (!work || !iwork))
        info = -1;
    if (info == 0)
        dsyevr_("V", "I", "L", &d, a, &d, &vl, &vu, &il, &iu, &abstol, &m, w, ev, &d, isuppz,
                work, &lwork, iwork, &liwork, &info, 1, 1, 1);
    if (info == 0 && m != k)
        info = -2;
    free(isuppz);
    free(work);
    free(iwork);
    return info;
}

/* Flip v[0..d) so that its largest-magnitude entry (the first, on a tie) is positive. */
static void fix_sign(double *v, int d)
{
    int big = 0;
    for (int c = 1; c < d; c++)
        if (fabs(v[c]) > fabs(v[big]))
            big = c;
    if (v[big] < 0)
        for (int c = 0; c < d; c++)
            v[c] = -v[c];
}

/* Components largest first: comp[j * d + c], with their fractions of the trace. */
static void order_components(const double *w, const double *ev, const double *cov_diag,
                             int d, int k, double *comp, double *explained)
{
    double total = 0;
    for (int c = 0; c < d; c++)
        total += cov_diag[c];
    for (int j = 0; j < k; j++) {
        int col = k - 1 - j;
        memcpy(comp + (size_t)j * d, ev + (size_t)col * d, sizeof *comp * d);
        fix_sign(comp + (size_t)j * d, d);
        if (explained)
            explained[j] = total > 0 ? fmax(w[col], 0.0) / total : 0.0;
    }
}

static void project(const float *z, int n, int d, int k, const double *mean,
                    const double *comp, float *out)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++) {
            double s = 0;
            for (int c = 0; c < d; c++)
                s += (z[(size_t)i * d + c] - mean[c]) * comp[(size_t)j * d + c];
            out[(size_t)i * k + j] = (float)s;
        }
}

int aec_pca(const float *z, int n, int d, int k, float *out, double *explained)
{
    if (pca_check(z, n, d, k) != 0)
        return -1;
    size_t dd = (size_t)d * d;
    double *buf = malloc(sizeof *buf * (3 * dd + 4 * (size_t)d));
    if (!buf) {
        aec_error("PCA: out of memory for %d dimensions", d);
        return -1;
    }
    double *cov = buf, *ev = cov + dd, *comp = ev + dd, *mean = comp + dd;
    double *diag = mean + d, *w = diag + d, *x = w + d;
    covariance(z, n, d, mean, cov, x);
    for (int c = 0; c < d; c++)
        diag[c] = cov[(size_t)c * d + c];
    int info = top_eigen(cov, d, k, w, ev);
    if (info != 0) {
        aec_error("PCA: LAPACK dsyevr failed (info %d) on a %dx%d covariance", info, d, d);
        free(buf);
        return -1;
    }
    order_components(w, ev, diag, d, k, comp, explained);
    project(z, n, d, k, mean, comp, out);
    free(buf);
    return 0;
}
