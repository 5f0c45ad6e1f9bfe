/* tsne.c: Barnes-Hut t-SNE (van der Maaten, "Accelerating t-SNE using
 * tree-based algorithms", JMLR 15, 2014), for 2-D maps of latents.
 *
 * Glossary, used in every comment and loop below:
 *   n = points, d = input dimensions, K = neighbours per point (3 x perplexity)
 *   P = input similarities: sparse, symmetric, summing to 1 (CSR rows)
 *   Y = the map, n x 2 in double; Z = sum over pairs k != l of 1 / (1 + |y_k - y_l|^2)
 *
 * The steps:
 *   1. exact K nearest neighbours: distances in blocks of rows with one
 *      cblas_sgemm each (|x|^2 + |y|^2 - 2 x.y), a bounded max-heap per row,
 *      then the K distances recomputed exactly in double;
 *   2. for each point, a bisection on the Gaussian's precision so that its
 *      conditional distribution over its K neighbours has the perplexity;
 *      P = (P_cond + P_cond^T) / (2n);
 *   3. gradient descent from N(0, 1e-4^2) noise drawn by aec_rng(seed):
 *      P exaggerated 12x and momentum 0.5 for the first 250 iterations, then
 *      momentum 0.8; per-coordinate gains (+0.2 / x0.8, at least 0.01);
 *      learning rate max(200, n / 12). The attractive forces are exact over
 *      P's non-zeros; the repulsive ones come from a quadtree rebuilt every
 *      iteration, a cell standing for its points when side / distance to its
 *      centre of mass < theta (the side, rather than the paper's diagonal).
 * The gradient used is dC/dy / 4, as in the reference implementation; the
 * learning rate is in those units.
 *
 * Everything but the BLAS call runs on one thread in a fixed order, and the
 * BLAS's float distances only choose the neighbours (the distances used are
 * recomputed in double), so a seed gives the same bytes every run on a given
 * machine and BLAS. Another BLAS kernel could round a near-tie the other way
 * and pick another K-th neighbour. */
#include "aec.h"
#include "core/clock.h"
#include "core/stop.h"
#include "report/embed.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXAGGERATION      12.0
#define EXAGGERATION_ITS  250     /* and the momentum switch */
#define MOMENTUM_EARLY    0.5
#define MOMENTUM_LATE     0.8
#define INIT_STD          1e-4
#define MIN_GAIN          0.01
#define BISECT_STEPS      200     /* perplexity calibration */
#define BISECT_TOL        1e-5    /* |entropy - log(perplexity)|, in nats */
#define TREE_MAX_DEPTH    50      /* cells 2^-50 of the map: closer points share a leaf */

/* ---- checks ------------------------------------------------------------------------------- */

static int tsne_check(const float *z, int n, int d, const aec_tsne_opts *o)
{
    if (d < 1 || !(o->perplexity >= 1) || !isfinite(o->perplexity) || o->iterations < 0 ||
        !(o->theta >= 0) || !isfinite(o->theta)) {
        aec_error("t-SNE: need dimensions >= 1, perplexity >= 1, iterations >= 0, theta >= 0 "
                  "(got %d, %g, %d, %g)", d, o->perplexity, o->iterations, o->theta);
        return -1;
    }
    if (!(n > 3 * o->perplexity)) {
        aec_error("t-SNE with perplexity %g needs more than %g points (3 x perplexity), "
                  "but has %d; lower the perplexity to below %g", o->perplexity,
                  3 * o->perplexity, n, n / 3.0);
        return -1;
    }
    for (size_t i = 0; i < (size_t)n * d; i++)
        if (!isfinite(z[i])) {
            aec_error("t-SNE: point %zu, dimension %zu is not a finite number",
                      i / (size_t)d, i % (size_t)d);
            return -1;
        }
    return 0;
}

/* ---- 1. K nearest neighbours ------------------------------------------------------------------ */

typedef struct {
    double dist2;       /* squared Euclidean distance */
    int j;              /* the neighbour */
} knn_entry;

/* a before b: nearer, or as near with a lower index (a total order). */
static int knn_less(knn_entry a, knn_entry b)
{
    return a.dist2 < b.dist2 || (a.dist2 == b.dist2 && a.j < b.j);
}

static int knn_cmp(const void *pa, const void *pb)
{
    knn_entry a = *(const knn_entry *)pa, b = *(const knn_entry *)pb;
    return knn_less(a, b) ? -1 : knn_less(b, a) ? 1 : 0;
}

/* Restore the max-heap h[0..K) after h[0] changed. */
static void heap_down(knn_entry *h, int K)
{
    int i = 0;
    for (;;) {
        int big = i, l = 2 * i + 1, r = l + 1;
        if (l < K && knn_less(h[big], h[l]))
            big = l;
        if (r < K && knn_less(h[big], h[r]))
            big = r;
        if (big == i)
            return;
        knn_entry t = h[i];
        h[i] = h[big];
        h[big] = t;
        i = big;
    }
}

static void heap_up(knn_entry *h, int i)
{
    while (i > 0 && knn_less(h[(i - 1) / 2], h[i])) {
        knn_entry t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

/* The K nearest of row i of a block of distances (dot[j] = x_i . x_j) into h. */
static void knn_select(const float *dot, const float *sq, int n, int i, int K, knn_entry *h)
{
    int size = 0;
    for (int j = 0; j < n; j++) {
        if (j == i)
            continue;
        knn_entry e = { (double)(sq[i] + sq[j] - 2 * dot[j]), j };
        if (size < K) {
            h[size] = e;
            heap_up(h, size++);
        } else if (knn_less(e, h[0])) {
            h[0] = e;
            heap_down(h, K);
        }
    }
}

static double dist2_exact(const float *a, const float *b, int d)
{
    double s = 0;
    for (int c = 0; c < d; c++) {
        double t = (double)a[c] - b[c];
        s += t * t;
    }
    return s;
}

/* x: the points centred (distances unchanged, less cancellation); sq: |x_i|^2. */
static float *knn_centred(const float *z, int n, int d, float *sq)
{
    float *x = malloc(sizeof *x * n * (size_t)d);
    double *mean = calloc((size_t)d, sizeof *mean);
    if (x && mean) {
        for (size_t i = 0; i < (size_t)n * d; i++)
            mean[i % d] += z[i];
        for (size_t i = 0; i < (size_t)n * d; i++)
            x[i] = (float)(z[i] - mean[i % d] / n);
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int c = 0; c < d; c++)
                s += (double)x[(size_t)i * d + c] * x[(size_t)i * d + c];
            sq[i] = (float)s;
        }
    }
    free(mean);
    return x;
}

/* nb[i * K ...]: the K nearest neighbours of each point, nearest first, with
 * exact distances. 0, or -1 out of memory. */
static int knn_all(const float *z, int n, int d, int K, knn_entry *nb)
{
    int rows = n > (1 << 22) / 256 ? (1 << 22) / n + 1 : 256;   /* a block: ~16 MB */
    float *sq = malloc(sizeof *sq * n), *dot = malloc(sizeof *dot * (size_t)rows * n);
    float *x = sq ? knn_centred(z, n, d, sq) : NULL;
    if (!sq || !dot || !x) {
        free(sq), free(dot), free(x);
        return -1;
    }
    for (int i0 = 0; i0 < n; i0 += rows) {
        int b = n - i0 < rows ? n - i0 : rows;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, n, d, 1.0f,
                    x + (size_t)i0 * d, d, x, d, 0.0f, dot, n);
        for (int r = 0; r < b; r++)
            knn_select(dot + (size_t)r * n, sq, n, i0 + r, K, nb + (size_t)(i0 + r) * K);
    }
    for (int i = 0; i < n; i++) {
        knn_entry *h = nb + (size_t)i * K;
        for (int k = 0; k < K; k++)
            h[k].dist2 = dist2_exact(z + (size_t)i * d, z + (size_t)h[k].j * d, d);
        qsort(h, (size_t)K, sizeof *h, knn_cmp);
    }
    free(sq), free(dot), free(x);
    return 0;
}

/* ---- 2. input similarities ------------------------------------------------------------------ */

/* p[k] = exp(-beta (dist2_k - dist2_0)) / sum: distances relative to the
 * nearest, so that nothing underflows. Returns the entropy (nats). */
static double cond_row(const knn_entry *h, int K, double beta, double *p)
{
    double sum = 0, wsum = 0;
    for (int k = 0; k < K; k++) {
        double dd = h[k].dist2 - h[0].dist2;
        p[k] = exp(-beta * dd);
        sum += p[k];
        wsum += p[k] * dd;
    }
    for (int k = 0; k < K; k++)
        p[k] /= sum;
    return log(sum) + beta * wsum / sum;
}

/* Bisect beta (the Gaussian's precision) until the entropy is log(perplexity). */
static void calibrate_row(const knn_entry *h, int K, double perplexity, double *p)
{
    double target = log(perplexity), mean = 0, lo = 0, hi = INFINITY;
    for (int k = 0; k < K; k++)
        mean += (h[k].dist2 - h[0].dist2) / K;
    double beta = mean > 0 ? 1 / mean : 1;
    for (int step = 0; step < BISECT_STEPS; step++) {
        double H = cond_row(h, K, beta, p);
        if (fabs(H - target) < BISECT_TOL)
            return;
        if (H > target) {                   /* too flat: sharpen */
            lo = beta;
            beta = isinf(hi) ? 2 * beta : (beta + hi) / 2;
        } else {
            hi = beta;
            beta = (lo + beta) / 2;
        }
    }
}

typedef struct {
    int n;
    int *start;         /* row i is [start[i], start[i + 1]) */
    int *col;
    double *val;
} sparse;

typedef struct {
    int col;
    double val;
} sp_entry;

static int sp_entry_cmp(const void *pa, const void *pb)
{
    const sp_entry *a = pa, *b = pb;
    return (a->col > b->col) - (a->col < b->col);
}

static void sparse_free(sparse *P)
{
    free(P->start), free(P->col), free(P->val);
}

/* Sort row i's entries by column and add up duplicates into P (from *out on). */
static void sparse_merge_row(sp_entry *e, int m, sparse *P, int *out)
{
    qsort(e, (size_t)m, sizeof *e, sp_entry_cmp);
    for (int a = 0; a < m; a++) {
        if (*out > 0 && a > 0 && P->col[*out - 1] == e[a].col) {
            P->val[*out - 1] += e[a].val;
            continue;
        }
        P->col[*out] = e[a].col;
        P->val[(*out)++] = e[a].val;
    }
}

/* row_start[i]: where row i of P_cond + P_cond^T begins, K of its own
 * entries plus one for each point that has i as a neighbour. */
static void row_starts(const knn_entry *nb, int n, int K, int *row_start)
{
    memset(row_start, 0, sizeof *row_start * ((size_t)n + 1));
    for (size_t t = 0; t < (size_t)n * K; t++)
        row_start[t / K + 1]++, row_start[nb[t].j + 1]++;
    for (int i = 0; i < n; i++)
        row_start[i + 1] += row_start[i];
}

/* P = P_cond + P_cond^T (normalised later); pc[i * K + k] belongs to nb[i * K + k]. */
static int sparse_symmetric(const knn_entry *nb, const double *pc, int n, int K, sparse *P)
{
    size_t nnz = 2 * (size_t)n * K;
    int *fill = malloc(sizeof *fill * ((size_t)n + 1)), out = 0;
    sp_entry *e = malloc(sizeof *e * nnz);
    *P = (sparse){ n, malloc(sizeof *P->start * ((size_t)n + 1)),
                   malloc(sizeof *P->col * nnz), malloc(sizeof *P->val * nnz) };
    if (!fill || !e || !P->start || !P->col || !P->val) {
        free(fill), free(e), sparse_free(P);
        return -1;
    }
    row_starts(nb, n, K, fill);
    memcpy(P->start, fill, sizeof *fill * ((size_t)n + 1));
    for (size_t t = 0; t < (size_t)n * K; t++) {
        int i = (int)(t / K), j = nb[t].j;
        e[fill[i]++] = (sp_entry){ j, pc[t] };
        e[fill[j]++] = (sp_entry){ i, pc[t] };
    }
    for (int i = 0; i < n; i++) {       /* rows shrink in place as duplicates merge */
        int from = P->start[i];
        P->start[i] = out;
        sparse_merge_row(e + from, P->start[i + 1] - from, P, &out);
    }
    P->start[n] = out;
    free(fill), free(e);
    return 0;
}

static void sparse_normalise(sparse *P)
{
    double total = 0;
    for (int t = 0; t < P->start[P->n]; t++)
        total += P->val[t];
    for (int t = 0; t < P->start[P->n]; t++)
        P->val[t] /= total;
}

/* Steps 1 and 2: P from the points. 0, or -1 after a message. */
static int input_similarities(const float *z, int n, int d, double perplexity, sparse *P)
{
    int K = (int)(3 * perplexity);
    knn_entry *nb = malloc(sizeof *nb * n * (size_t)K);
    double *pc = malloc(sizeof *pc * n * (size_t)K);
    int rc = nb && pc ? knn_all(z, n, d, K, nb) : -1;
    if (rc == 0) {
        for (int i = 0; i < n; i++)
            calibrate_row(nb + (size_t)i * K, K, perplexity, pc + (size_t)i * K);
        rc = sparse_symmetric(nb, pc, n, K, P);
    }
    if (rc == 0)
        sparse_normalise(P);
    else
        aec_error("t-SNE: out of memory for the neighbours of %d points", n);
    free(nb), free(pc);
    return rc;
}

/* ---- the quadtree --------------------------------------------------------------------------- */

typedef struct {
    double cx, cy, half;    /* the cell: centre and half its side */
    double mx, my;          /* centre of mass of its points */
    int count;              /* points in the cell */
    int first;              /* they are order[first .. first + count) */
    int n_kids;             /* non-empty quadrants; 0 in a leaf */
    int kid[4];             /* their nodes */
} qnode;

typedef struct {
    const double *y;        /* n x 2 */
    int *order, *scratch;   /* a permutation of the points, grouped by cell */
    qnode *node;
    int n_nodes, cap;
} qtree;

static int quadrant(const qnode *q, const double *p)
{
    return (p[0] >= q->cx) + 2 * (p[1] >= q->cy);
}

/* 1 if the cell's points all sit at one place (they cannot be split). */
static int all_same(const qtree *t, int first, int count)
{
    const double *a = t->y + 2 * (size_t)t->order[first];
    for (int k = 1; k < count; k++) {
        const double *b = t->y + 2 * (size_t)t->order[first + k];
        if (a[0] != b[0] || a[1] != b[1])
            return 0;
    }
    return 1;
}

/* A new node for order[first .. first + count) in the given cell; its index, or -1. */
static int qnode_new(qtree *t, double cx, double cy, double half, int first, int count)
{
    if (t->n_nodes == t->cap) {
        int cap = t->cap ? 2 * t->cap : 1024;
        qnode *nn = realloc(t->node, sizeof *nn * cap);
        if (!nn)
            return -1;
        t->node = nn;
        t->cap = cap;
    }
    qnode *q = &t->node[t->n_nodes];
    *q = (qnode){ cx, cy, half, 0, 0, count, first, 0, { -1, -1, -1, -1 } };
    for (int k = first; k < first + count; k++) {
        q->mx += t->y[2 * (size_t)t->order[k]] / count;
        q->my += t->y[2 * (size_t)t->order[k] + 1] / count;
    }
    return t->n_nodes++;
}

/* Group the node's points by quadrant (stably); bounds[0..4] delimit them. */
static void qnode_split(qtree *t, const qnode *q, int bounds[5])
{
    int at[4] = { 0 };
    for (int k = q->first; k < q->first + q->count; k++)
        at[quadrant(q, t->y + 2 * (size_t)t->order[k])]++;
    bounds[0] = q->first;
    for (int c = 0; c < 4; c++)
        bounds[c + 1] = bounds[c] + at[c], at[c] = bounds[c];
    for (int k = q->first; k < q->first + q->count; k++) {
        int p = t->order[k];
        t->scratch[at[quadrant(q, t->y + 2 * (size_t)p)]++] = p;
    }
    memcpy(t->order + q->first, t->scratch + q->first, sizeof *t->order * q->count);
}

/* Build the subtree of order[first .. first + count); its root's index, or -1. */
static int qtree_build(qtree *t, double cx, double cy, double half, int first, int count,
                       int depth)
{
    int id = qnode_new(t, cx, cy, half, first, count);
    if (id < 0 || count == 1 || depth == TREE_MAX_DEPTH || all_same(t, first, count))
        return id;
    int bounds[5];
    qnode_split(t, &t->node[id], bounds);
    for (int c = 0; c < 4; c++) {
        if (bounds[c + 1] == bounds[c])
            continue;
        double h = half / 2, x = cx + (c & 1 ? h : -h), y = cy + (c & 2 ? h : -h);
        int kid = qtree_build(t, x, y, h, bounds[c], bounds[c + 1] - bounds[c], depth + 1);
        if (kid < 0)
            return -1;
        t->node[id].kid[t->node[id].n_kids++] = kid;    /* after the call: it may move t->node */
    }
    return id;
}

/* Rebuild the tree over the current map. 0, or -1 (out of memory, or a map
 * that is no longer finite). */
static int qtree_rebuild(qtree *t, int n)
{
    double lo[2] = { INFINITY, INFINITY }, hi[2] = { -INFINITY, -INFINITY };
    for (int i = 0; i < n; i++)
        for (int c = 0; c < 2; c++) {
            lo[c] = fmin(lo[c], t->y[2 * i + c]);
            hi[c] = fmax(hi[c], t->y[2 * i + c]);
        }
    for (int i = 0; i < n; i++)
        if (!isfinite(t->y[2 * i]) || !isfinite(t->y[2 * i + 1]))
            return -1;
    for (int i = 0; i < n; i++)
        t->order[i] = i;
    double half = fmax(hi[0] - lo[0], hi[1] - lo[1]) / 2 * (1 + 1e-9) + 1e-300;
    t->n_nodes = 0;
    return qtree_build(t, (lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, half, 0, n, 0) < 0 ? -1 : 0;
}

/* ---- repulsive forces ---------------------------------------------------------------------- */

typedef struct {
    double z;           /* this point's share of Z */
    double fx, fy;      /* sum of q^2 Z^2 (y_i - y_j): the repulsion before dividing by Z */
} repulsion;

static void repel_point(repulsion *r, double dx, double dy, double weight)
{
    double q = 1 / (1 + dx * dx + dy * dy);
    r->z += weight * q;
    r->fx += weight * q * q * dx;
    r->fy += weight * q * q * dy;
}

/* A leaf: each of its points but i itself, exactly. */
static void repel_leaf(const qtree *t, const qnode *q, int i, repulsion *r)
{
    const double *yi = t->y + 2 * (size_t)i;
    for (int k = q->first; k < q->first + q->count; k++) {
        int j = t->order[k];
        if (j != i)
            repel_point(r, yi[0] - t->y[2 * (size_t)j], yi[1] - t->y[2 * (size_t)j + 1], 1);
    }
}

static int cell_holds(const qnode *q, const double *p)
{
    return fabs(p[0] - q->cx) <= q->half && fabs(p[1] - q->cy) <= q->half;
}

/* The repulsion on point i from all others (theta2 = theta^2): depth first
 * from the root, a cell standing for its points when far enough. */
static void repel(const qtree *t, int i, double theta2, repulsion *r)
{
    const double *yi = t->y + 2 * (size_t)i;
    int stack[3 * TREE_MAX_DEPTH + 4], top = 0;
    stack[top++] = 0;
    while (top > 0) {
        const qnode *q = &t->node[stack[--top]];
        double dx = yi[0] - q->mx, dy = yi[1] - q->my, side = 2 * q->half;
        if (q->n_kids == 0)
            repel_leaf(t, q, i, r);
        else if (side * side < theta2 * (dx * dx + dy * dy) && !cell_holds(q, yi))
            repel_point(r, dx, dy, q->count);
        else
            for (int c = q->n_kids - 1; c >= 0; c--)
                stack[top++] = q->kid[c];
    }
}

/* ---- 3. gradient descent -------------------------------------------------------------------- */

typedef struct {
    int n;
    const sparse *P;
    double *y, *update, *gains, *grad, *rep;    /* each n x 2 */
    double z;           /* Z of the map the gradient was last taken at */
    qtree tree;
} tsne_state;

/* Z and the repulsions rep[i] (still to be divided by Z). 0, or -1 (see qtree_rebuild). */
static int repulsive_forces(tsne_state *s, double theta)
{
    if (qtree_rebuild(&s->tree, s->n) != 0)
        return -1;
    s->z = 0;
    for (int k = 0; k < s->n; k++) {
        int i = s->tree.order[k];      /* in tree order: neighbours walk the same cells */
        repulsion r = { 0, 0, 0 };
        repel(&s->tree, i, theta * theta, &r);
        s->z += r.z;
        s->rep[2 * i] = r.fx;
        s->rep[2 * i + 1] = r.fy;
    }
    return 0;
}

/* grad = exaggeration * sum_j p_ij q_ij Z (y_i - y_j) - rep / Z. */
static void gradient(tsne_state *s, double exaggeration)
{
    const sparse *P = s->P;
    for (int i = 0; i < s->n; i++) {
        double ax = 0, ay = 0, *yi = s->y + 2 * i;
        for (int t = P->start[i]; t < P->start[i + 1]; t++) {
            const double *yj = s->y + 2 * (size_t)P->col[t];
            double dx = yi[0] - yj[0], dy = yi[1] - yj[1];
            double w = P->val[t] / (1 + dx * dx + dy * dy);
            ax += w * dx;
            ay += w * dy;
        }
        s->grad[2 * i] = exaggeration * ax - s->rep[2 * i] / s->z;
        s->grad[2 * i + 1] = exaggeration * ay - s->rep[2 * i + 1] / s->z;
    }
}

/* Gains, momentum, step; then centre the map. */
static void descend(tsne_state *s, double momentum, double rate)
{
    double mean[2] = { 0, 0 };
    for (int c = 0; c < 2 * s->n; c++) {
        double g = s->grad[c], *gain = &s->gains[c];
        *gain = (g > 0) != (s->update[c] > 0) ? *gain + 0.2 : *gain * 0.8;
        if (*gain < MIN_GAIN)
            *gain = MIN_GAIN;
        s->update[c] = momentum * s->update[c] - rate * *gain * g;
        s->y[c] += s->update[c];
        mean[c & 1] += s->y[c];
    }
    for (int c = 0; c < 2 * s->n; c++)
        s->y[c] -= mean[c & 1] / s->n;
}

/* KL(P || Q) of the map the gradient was last taken at (un-exaggerated P). */
static double kl_divergence(const tsne_state *s)
{
    const sparse *P = s->P;
    double kl = 0;
    for (int i = 0; i < s->n; i++)
        for (int t = P->start[i]; t < P->start[i + 1]; t++) {
            const double *yi = s->y + 2 * i, *yj = s->y + 2 * (size_t)P->col[t];
            double dx = yi[0] - yj[0], dy = yi[1] - yj[1], p = P->val[t];
            double q = 1 / (1 + dx * dx + dy * dy) / s->z;
            if (p > 0)
                kl += p * log(p / q);
        }
    return kl;
}

/* ---- progress --------------------------------------------------------------------------- */

/* On a terminal, one line redrawn 4 times a second; elsewhere (a log) a
 * line at the start and one at the end. */
typedef struct {
    int on, tty, drawn, iterations;
    double t0, last;
} tsne_progress;

static tsne_progress progress_start(const aec_tsne_opts *o, int n, int d)
{
    tsne_progress p = { .on = o->progress, .iterations = o->iterations };
    p.tty = p.on && isatty(STDERR_FILENO);
    p.t0 = aec_seconds();
    p.last = p.t0;
    if (p.on && !p.tty)
        fprintf(stderr, "t-SNE: %d points of %d dimensions, perplexity %g, %d iterations\n",
                n, d, o->perplexity, o->iterations);
    return p;
}

static void progress_step(tsne_progress *p, const tsne_state *s, int it)
{
    if (!p->tty || aec_seconds() - p->last < 0.25)
        return;
    fprintf(stderr, "\rt-SNE: iteration %d/%d (KL %.2f)\033[K", it, p->iterations,
            kl_divergence(s));
    fflush(stderr);
    p->last = aec_seconds();
    p->drawn = 1;
}

/* Clear the line; then, if the run finished, the time taken. */
static void progress_end(tsne_progress *p, const tsne_state *s, int ok)
{
    if (p->tty && p->drawn)
        fputs("\r\033[K", stderr);
    if (p->on && ok)
        fprintf(stderr, "t-SNE: %d iterations in %.1f s (KL %.2f)\n", p->iterations,
                aec_seconds() - p->t0, s->z > 0 ? kl_divergence(s) : NAN);
}

/* ---- the whole --------------------------------------------------------------------------- */

static void state_free(tsne_state *s)
{
    free(s->y), free(s->update), free(s->gains), free(s->grad), free(s->rep);
    free(s->tree.order), free(s->tree.scratch), free(s->tree.node);
}

/* Buffers, and the map drawn from N(0, INIT_STD^2). 0, or -1 after a message. */
static int state_init(tsne_state *s, int n, const sparse *P, uint64_t seed)
{
    size_t m = 2 * (size_t)n;
    *s = (tsne_state){ .n = n, .P = P };
    s->y = malloc(sizeof *s->y * m);
    s->update = calloc(m, sizeof *s->update);
    s->gains = malloc(sizeof *s->gains * m);
    s->grad = malloc(sizeof *s->grad * m);
    s->rep = malloc(sizeof *s->rep * m);
    s->tree.order = malloc(sizeof *s->tree.order * n);
    s->tree.scratch = malloc(sizeof *s->tree.scratch * n);
    s->tree.y = s->y;
    if (!s->y || !s->update || !s->gains || !s->grad || !s->rep || !s->tree.order ||
        !s->tree.scratch) {
        aec_error("t-SNE: out of memory for a map of %d points", n);
        state_free(s);
        return -1;
    }
    aec_rng r;
    aec_rng_seed(&r, seed);
    for (size_t c = 0; c < m; c++) {
        s->y[c] = INIT_STD * aec_rng_normal(&r);
        s->gains[c] = 1;
    }
    return 0;
}

static int optimise(tsne_state *s, const aec_tsne_opts *o, tsne_progress *p)
{
    double rate = fmax(200.0, s->n / 12.0);
    for (int it = 0; it < o->iterations; it++) {
        int early = it < EXAGGERATION_ITS;
        if (aec_stop_signal())
            return 1;           /* SIGINT or SIGTERM during a report (core/stop.c) */
        if (repulsive_forces(s, o->theta) != 0) {
            aec_error("t-SNE: the map diverged at iteration %d (or out of memory)", it);
            return -1;
        }
        gradient(s, early ? EXAGGERATION : 1.0);
        progress_step(p, s, it + 1);
        descend(s, early ? MOMENTUM_EARLY : MOMENTUM_LATE, rate);
    }
    return 0;
}

int aec_tsne(const float *z, int n, int d, const aec_tsne_opts *o, float *out)
{
    aec_tsne_opts defaults = AEC_TSNE_DEFAULTS;
    o = o ? o : &defaults;
    if (tsne_check(z, n, d, o) != 0)
        return -1;
    sparse P = { 0 };
    tsne_state s;
    tsne_progress p = progress_start(o, n, d);
    if (input_similarities(z, n, d, o->perplexity, &P) != 0)
        return -1;
    if (state_init(&s, n, &P, o->seed) != 0) {
        sparse_free(&P);
        return -1;
    }
    int rc = optimise(&s, o, &p);
    if (rc == 0 && repulsive_forces(&s, o->theta) != 0) {  /* Z of the final map, for its KL */
        aec_error("t-SNE: the map diverged at the last iteration (or out of memory)");
        rc = -1;
    }
    progress_end(&p, &s, rc == 0);
    for (size_t c = 0; rc == 0 && c < 2 * (size_t)n; c++)
        out[c] = (float)s.y[c];
    state_free(&s);
    sparse_free(&P);
    return rc;
}
