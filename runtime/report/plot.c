/* plot.c: line charts (loss curves) and scatter plots (latents) as PNG files,
 * drawn with cairo on an image surface, text in DejaVu Sans through cairo's
 * toy text API.
 *
 * A chart is planned before it is drawn: the axes are fitted to the data
 * (ticks, their labels), the margins are measured from those labels, and the
 * legend is placed; aec_plot_*_layout return that plan, so the tests know
 * where to look. Coordinates are pixels, y down; an axis maps data to the
 * fraction 0..1 of the data area (log10 of the data on a log axis). */
#include "aec.h"
#include "io/files.h"
#include "report/plot.h"

#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define PLOT_FONT "DejaVu Sans"
#define LINES_W 800
#define LINES_H 500
#define SCATTER_W 800
#define SCATTER_H 700
#define TICK_TARGET 8       /* at most this many ticks per linear axis */
#define TICK_MAX 16         /* room for a log axis's 1-2-5 ticks */
#define TICK_LEN 5
#define PAD_FRAC 0.04       /* the data's range is widened by this on each side */
#define MARKER_MAX 50       /* markers on series of at most this many points */
#define LEGEND_ROW 20
#define LEGEND_PAD 8
#define BIG 1e150           /* larger values (and, on a log axis, values below
                               1 / BIG) are skipped, so ranges stay finite */
#define TURN 6.283185307179586  /* a full circle, radians (M_PI is not in C11) */

const unsigned char aec_plot_palette[AEC_PLOT_COLOURS][3] = {
    {0x1f, 0x77, 0xb4}, {0xff, 0x7f, 0x0e}, {0x2c, 0xa0, 0x2c}, {0xd6, 0x27, 0x28},
    {0x94, 0x67, 0xbd}, {0x8c, 0x56, 0x4b}, {0xe3, 0x77, 0xc2}, {0x7f, 0x7f, 0x7f},
    {0xbc, 0xbd, 0x22}, {0x17, 0xbe, 0xcf}};

const char *const aec_plot_fashion_mnist_classes[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

typedef struct {
    double lo, hi;              /* the range shown (log10 of the data on a log axis) */
    int log;
    int n;                      /* ticks */
    double t[TICK_MAX];         /* tick values, in data units */
    char label[TICK_MAX][32];
} plot_axis;

typedef struct {
    cairo_surface_t *surface;
    cairo_t *cr;
    aec_plot_layout lay;
    plot_axis x, y;
    int legend_rows;            /* entries shown; a scatter's last may be "+ k more" */
} plot_chart;

/* ---- ticks ----------------------------------------------------------------------- */

int aec_plot_ticks(double lo, double hi, int target, double *t, double *step)
{
    if (!(hi > lo) || !isfinite(hi - lo) || target < 2)
        return 0;
    double raw = (hi - lo) / (target - 1), p = pow(10.0, floor(log10(raw)));
    double s = raw <= p ? p : raw <= 2 * p ? 2 * p : raw <= 5 * p ? 5 * p : 10 * p;
    if (!(s > 0) || !isfinite(lo / s) || !isfinite(hi / s))    /* denormal ranges */
        return 0;
    double eps = s * 1e-9, k = ceil((lo - eps) / s), k1 = floor((hi + eps) / s);
    int n = 0;
    for (; k <= k1 && n < target; k++)
        t[n++] = fabs(k) < 0.5 ? 0.0 : k * s;
    if (step)
        *step = s;
    return n;
}

/* Ticks of a log axis over [lo, hi] (data units, lo > 0): 1, 2 and 5 times
 * powers of ten over up to 3 decades, powers of ten (every few) beyond, and
 * linear ticks within less than a decade. *step is 0 unless linear. */
static int log_ticks(double lo, double hi, double *t, double *step)
{
    static const double mant[3] = {1, 2, 5};
    double span = log10(hi / lo);
    if (span < 1.0)
        return aec_plot_ticks(lo, hi, TICK_TARGET, t, step);
    int m = span > 3.0 ? 1 : 3, every = (int)ceil(span / 8.0), n = 0;
    *step = 0;
    for (int d = (int)floor(log10(lo)); d <= (int)ceil(log10(hi)); d++) {
        if (d % every != 0)
            continue;
        for (int j = 0; j < m && n < TICK_MAX; j++) {
            double v = mant[j] * pow(10.0, d);
            if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9))
                t[n++] = v;
        }
    }
    return n;
}

/* A tick's label: as many decimals as the step needs ("0.005", "0.010"),
 * %g for log ticks (step 0) and extreme magnitudes; a minus sign, not a
 * hyphen, before negative values. */
static void tick_label(double v, double step, char *buf, size_t size)
{
    const char *sign = v < 0 ? "\u2212" : "";
    if (step >= 1e-4 && step < 1e6 && fabs(v) < 1e7) {
        int dec = (int)ceil(-log10(step) - 1e-9);
        snprintf(buf, size, "%s%.*f", sign, dec > 0 ? dec : 0, fabs(v));
    } else {
        snprintf(buf, size, "%s%g", sign, fabs(v));
    }
}

/* The range shown for data in [lo, hi] (lo > hi when there is none). */
static void axis_fit(plot_axis *a, double lo, double hi, int log)
{
    if (!(lo <= hi)) {          /* no data: 0 .. 1, or 0.1 .. 1 on a log axis */
        lo = log ? -1.0 : 0.0;
        hi = log ? 0.0 : 1.0;
    }
    double pad = (hi - lo) * PAD_FRAC;
    if (!(hi > lo))
        pad = log ? 0.5 : lo != 0.0 ? fabs(lo) * 0.1 : 1.0;
    a->lo = lo - pad;
    a->hi = hi + pad;
    a->log = log;
    double step = 0;
    a->n = log ? log_ticks(pow(10.0, a->lo), pow(10.0, a->hi), a->t, &step)
               : aec_plot_ticks(a->lo, a->hi, TICK_TARGET, a->t, &step);
    for (int i = 0; i < a->n; i++)
        tick_label(a->t[i], step, a->label[i], sizeof a->label[i]);
}

static void extent_add(double *lo, double *hi, double v)
{
    *lo = v < *lo ? v : *lo;
    *hi = v > *hi ? v : *hi;
}

static int usable(double v)
{
    return isfinite(v) && fabs(v) < BIG;
}

/* ---- mapping data to pixels ------------------------------------------------------- */

static double axis_frac(const plot_axis *a, double v)
{
    return ((a->log ? log10(v) : v) - a->lo) / (a->hi - a->lo);
}

static double map_x(const plot_chart *c, double v)
{
    return c->lay.plot.x + axis_frac(&c->x, v) * c->lay.plot.w;
}

static double map_y(const plot_chart *c, double v)
{
    return c->lay.plot.y + (1.0 - axis_frac(&c->y, v)) * c->lay.plot.h;
}

static int in_rect(const aec_plot_rect *r, double x, double y)
{
    return x >= r->x && x <= r->x + r->w && y >= r->y && y <= r->y + r->h;
}

/* ---- the canvas and text ---------------------------------------------------------- */

static void set_colour(cairo_t *cr, int k)
{
    const unsigned char *c = aec_plot_palette[(k % AEC_PLOT_COLOURS + AEC_PLOT_COLOURS)
                                              % AEC_PLOT_COLOURS];
    cairo_set_source_rgb(cr, c[0] / 255.0, c[1] / 255.0, c[2] / 255.0);
}

static void set_font(cairo_t *cr, double size, int bold)
{
    cairo_select_font_face(cr, PLOT_FONT, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

static double text_width(cairo_t *cr, const char *s)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    return e.x_advance;
}

/* Draw s with the point (x, y) at fraction ax of its width (0 left, 1 right)
 * and fraction ay of its capital height above the baseline (0 baseline,
 * 0.5 the middle of the capitals, 1 their top). */
static void text_at(cairo_t *cr, const char *s, double x, double y, double ax, double ay)
{
    cairo_text_extents_t cap;
    cairo_text_extents(cr, "H", &cap);
    cairo_move_to(cr, x - ax * text_width(cr, s), y - ay * cap.y_bearing);
    cairo_show_text(cr, s);
}

/* A white width x height canvas; -1 (nothing reported) when cairo fails. */
static int canvas_open(plot_chart *c, int width, int height)
{
    memset(c, 0, sizeof *c);
    c->lay.width = width;
    c->lay.height = height;
    c->surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    c->cr = cairo_create(c->surface);
    cairo_set_source_rgb(c->cr, 1, 1, 1);
    cairo_paint(c->cr);
    return cairo_status(c->cr) == CAIRO_STATUS_SUCCESS ? 0 : -1;
}

static void canvas_close(plot_chart *c)
{
    cairo_destroy(c->cr);
    cairo_surface_destroy(c->surface);
}

static cairo_status_t png_sink(void *closure, const unsigned char *data, unsigned int len)
{
    aec_out_file *o = closure;
    aec_out_write(o, data, len);
    return o->failed ? CAIRO_STATUS_WRITE_ERROR : CAIRO_STATUS_SUCCESS;
}

static int surface_save(cairo_surface_t *surface, const char *path)
{
    aec_out_file o;
    if (aec_out_open(&o, path) != 0)
        return -1;
    cairo_status_t st = cairo_surface_write_to_png_stream(surface, png_sink, &o);
    if (st == CAIRO_STATUS_SUCCESS)
        return aec_out_commit(&o);
    if (!o.failed)      /* a failed write has been reported */
        aec_error("%s: cannot encode the plot: cairo: %s", path, cairo_status_to_string(st));
    aec_out_abort(&o);
    return -1;
}

/* Write the canvas to path (PATH.tmp, then rename) and close it. A cairo
 * failure while drawing (out of memory) makes the context inert, so the
 * drawing code need not check; it is reported here. */
static int canvas_save(plot_chart *c, const char *path)
{
    cairo_status_t st = cairo_status(c->cr);
    int rc = -1;
    if (st != CAIRO_STATUS_SUCCESS) {
        aec_error("%s: cannot draw the plot: cairo: %s", path, cairo_status_to_string(st));
    } else {
        cairo_surface_flush(c->surface);
        rc = surface_save(c->surface, path);
    }
    canvas_close(c);
    return rc;
}

/* ---- axes, shared by both kinds of plot ------------------------------------------- */

/* Draw only inside the data area, until cairo_restore. */
static void clip_to_plot(plot_chart *c)
{
    const aec_plot_rect *p = &c->lay.plot;
    cairo_save(c->cr);
    cairo_rectangle(c->cr, p->x, p->y, p->w, p->h);
    cairo_clip(c->cr);
}

/* Left margin: room for the widest y tick label, and the y axis label. */
static double left_margin(plot_chart *c, int has_ylabel)
{
    double w = 0;
    set_font(c->cr, 11, 0);
    for (int i = 0; i < c->y.n; i++) {
        double tw = text_width(c->cr, c->y.label[i]);
        w = tw > w ? tw : w;
    }
    return ceil(w) + TICK_LEN + 6 + (has_ylabel ? 28 : 0) + 10;
}

static void draw_grid(plot_chart *c)
{
    const aec_plot_rect *p = &c->lay.plot;
    cairo_set_source_rgb(c->cr, 0.9, 0.9, 0.9);
    cairo_set_line_width(c->cr, 1);
    for (int i = 0; i < c->x.n; i++) {
        double x = floor(map_x(c, c->x.t[i])) + 0.5;
        cairo_move_to(c->cr, x, p->y);
        cairo_line_to(c->cr, x, p->y + p->h);
    }
    for (int i = 0; i < c->y.n; i++) {
        double y = floor(map_y(c, c->y.t[i])) + 0.5;
        cairo_move_to(c->cr, p->x, y);
        cairo_line_to(c->cr, p->x + p->w, y);
    }
    cairo_stroke(c->cr);
}

/* The frame around the data area, tick marks outside it, and tick labels. */
static void draw_axes(plot_chart *c)
{
    cairo_t *cr = c->cr;
    const aec_plot_rect *p = &c->lay.plot;
    cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, p->x - 0.5, p->y - 0.5, p->w + 1, p->h + 1);
    set_font(cr, 11, 0);
    for (int i = 0; i < c->x.n; i++) {
        double x = floor(map_x(c, c->x.t[i])) + 0.5, y = p->y + p->h;
        cairo_move_to(cr, x, y);
        cairo_line_to(cr, x, y + TICK_LEN);
        text_at(cr, c->x.label[i], x, y + TICK_LEN + 4, 0.5, 1);
    }
    for (int i = 0; i < c->y.n; i++) {
        double y = floor(map_y(c, c->y.t[i])) + 0.5;
        cairo_move_to(cr, p->x, y);
        cairo_line_to(cr, p->x - TICK_LEN, y);
        text_at(cr, c->y.label[i], p->x - TICK_LEN - 4, y, 1, 0.5);
    }
    cairo_stroke(cr);
}

/* Title and subtitle centred over the data area, axis labels beside it. */
static void draw_titles(plot_chart *c, const char *title, const char *subtitle,
                        const char *xlabel, const char *ylabel)
{
    cairo_t *cr = c->cr;
    const aec_plot_rect *p = &c->lay.plot;
    double mid = p->x + p->w / 2, y = 28;
    cairo_set_source_rgb(cr, 0, 0, 0);
    if (title) {
        set_font(cr, 16, 1);
        text_at(cr, title, mid, y, 0.5, 0);
        y += 20;
    }
    set_font(cr, 13, 0);
    if (subtitle)
        text_at(cr, subtitle, mid, y, 0.5, 0);
    if (xlabel)
        text_at(cr, xlabel, mid, p->y + p->h + TICK_LEN + 36, 0.5, 0);
    if (ylabel) {
        cairo_save(cr);
        cairo_translate(cr, 22, p->y + p->h / 2);
        cairo_rotate(cr, -TURN / 4);
        text_at(cr, ylabel, 0, 0, 0.5, 0);
        cairo_restore(cr);
    }
}

/* The legend's frame: white, over whatever is below it. */
static void draw_legend_box(cairo_t *cr, const aec_plot_rect *r)
{
    cairo_rectangle(cr, r->x + 0.5, r->y + 0.5, r->w - 1, r->h - 1);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.75, 0.75, 0.75);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    set_font(cr, 12, 0);
}

/* ---- line charts ------------------------------------------------------------------ */

static const char *series_label(const aec_plot_series *s, int i, char *buf, size_t size)
{
    if (s->label)
        return s->label;
    snprintf(buf, size, "series %d", i + 1);
    return buf;
}

/* Point i of s, and whether it can be drawn. */
static int series_point(const aec_plot_series *s, int i, int log, double *x, double *y)
{
    *x = s->x ? s->x[i] : i + 1;
    *y = s->y[i];
    return usable(*x) && usable(*y) && (!log || *y > 1.0 / BIG);
}

static void lines_fit(plot_chart *c, int n_series, const aec_plot_series *series, int log)
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY, x, y;
    for (int s = 0; s < n_series; s++)
        for (int i = 0; i < series[s].n; i++)
            if (series_point(&series[s], i, log, &x, &y)) {
                extent_add(&x0, &x1, x);
                extent_add(&y0, &y1, log ? log10(y) : y);
            }
    axis_fit(&c->x, x0, x1, 0);
    axis_fit(&c->y, y0, y1, log);
}

/* How much of series s lies under the rectangle r: its points, and 7 more
 * along each segment of its line. */
static int series_hits(const plot_chart *c, const aec_plot_series *s, const aec_plot_rect *r)
{
    double px = 0, py = 0, x, y;
    int hits = 0, prev = 0;
    for (int i = 0; i < s->n; i++) {
        int ok = series_point(s, i, c->y.log, &x, &y);
        x = map_x(c, x);
        y = map_y(c, y);
        hits += ok && in_rect(r, x, y);
        for (int k = 1; ok && prev && k < 8; k++)
            hits += in_rect(r, px + (x - px) * k / 8, py + (y - py) * k / 8);
        prev = ok;
        px = x;
        py = y;
    }
    return hits;
}

/* The legend's size, then the corner of the data area with the least data under
 * it: top right, top left, bottom right, bottom left. */
static void lines_legend(plot_chart *c, int n_series, const aec_plot_series *series)
{
    char buf[32];
    double w = 0, inset = 10;
    if (n_series < 1)
        return;
    set_font(c->cr, 12, 0);
    for (int s = 0; s < n_series; s++) {
        double tw = text_width(c->cr, series_label(&series[s], s, buf, sizeof buf));
        w = tw > w ? tw : w;
    }
    const aec_plot_rect *p = &c->lay.plot;
    aec_plot_rect r = {0, 0, ceil(w) + 3 * LEGEND_PAD + 24, 2 * LEGEND_PAD - 4 + n_series * LEGEND_ROW};
    int best = -1;
    for (int k = 0; k < 4; k++) {
        aec_plot_rect q = r;
        q.x = k % 2 == 0 ? p->x + p->w - inset - r.w : p->x + inset;
        q.y = k < 2 ? p->y + inset : p->y + p->h - inset - r.h;
        int hits = 0;
        for (int s = 0; s < n_series; s++)
            hits += series_hits(c, &series[s], &q);
        if (best < 0 || hits < best) {
            best = hits;
            c->lay.legend = q;
        }
    }
    c->legend_rows = n_series;
}

static void lines_plan(plot_chart *c, const char *title, const char *xlabel, const char *ylabel,
                       int n_series, const aec_plot_series *series, int flags)
{
    lines_fit(c, n_series, series, flags & AEC_PLOT_LOG_Y);
    double left = left_margin(c, ylabel != NULL), top = title ? 44 : 16;
    double bottom = xlabel ? 56 : 30, right = 24;
    c->lay.plot = (aec_plot_rect){left, top, c->lay.width - left - right,
                                  c->lay.height - top - bottom};
    lines_legend(c, n_series, series);
}

static void draw_series(plot_chart *c, const aec_plot_series *s)
{
    cairo_t *cr = c->cr;
    double x, y;
    int pen = 0;
    set_colour(cr, s->colour);
    cairo_set_line_width(cr, 2);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    for (int i = 0; i < s->n; i++) {
        int ok = series_point(s, i, c->y.log, &x, &y);
        if (ok && pen)
            cairo_line_to(cr, map_x(c, x), map_y(c, y));
        else if (ok)
            cairo_move_to(cr, map_x(c, x), map_y(c, y));
        pen = ok;
    }
    cairo_stroke(cr);
    for (int i = 0; i < s->n && s->n <= MARKER_MAX; i++)
        if (series_point(s, i, c->y.log, &x, &y)) {
            cairo_new_sub_path(cr);
            cairo_arc(cr, map_x(c, x), map_y(c, y), 3.5, 0, TURN);
        }
    cairo_fill(cr);
}

static void draw_lines_legend(plot_chart *c, int n_series, const aec_plot_series *series)
{
    cairo_t *cr = c->cr;
    const aec_plot_rect *r = &c->lay.legend;
    char buf[32];
    if (r->w <= 0)
        return;
    draw_legend_box(cr, r);
    for (int s = 0; s < n_series; s++) {
        double x = r->x + LEGEND_PAD, y = r->y + LEGEND_PAD + 8 + s * LEGEND_ROW;
        set_colour(cr, series[s].colour);
        cairo_rectangle(cr, x, y - 1, 24, 2);
        cairo_new_sub_path(cr);
        if (series[s].n <= MARKER_MAX)
            cairo_arc(cr, x + 12, y, 3.5, 0, TURN);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        text_at(cr, series_label(&series[s], s, buf, sizeof buf), x + 24 + LEGEND_PAD, y, 0,
                0.5);
    }
}

static const char *lines_bad_args(int n_series, const aec_plot_series *series)
{
    if (n_series < 0 || (n_series > 0 && !series))
        return "no series";
    for (int s = 0; s < n_series; s++)
        if (series[s].n < 0 || (series[s].n > 0 && !series[s].y))
            return "a series without its points";
    return NULL;
}

int aec_plot_lines_layout(const char *title, const char *xlabel, const char *ylabel,
                          int n_series, const aec_plot_series *series, int flags,
                          aec_plot_layout *out)
{
    plot_chart c;
    if (lines_bad_args(n_series, series))
        return -1;
    int rc = canvas_open(&c, LINES_W, LINES_H);
    lines_plan(&c, title, xlabel, ylabel, n_series, series, flags);
    *out = c.lay;
    canvas_close(&c);
    return rc;
}

int aec_plot_lines(const char *path, const char *title, const char *xlabel,
                   const char *ylabel, int n_series, const aec_plot_series *series,
                   int flags)
{
    plot_chart c;
    const char *why = lines_bad_args(n_series, series);
    if (why) {
        aec_error("%s: cannot plot: %s", path, why);
        return -1;
    }
    canvas_open(&c, LINES_W, LINES_H);
    lines_plan(&c, title, xlabel, ylabel, n_series, series, flags);
    draw_grid(&c);
    clip_to_plot(&c);
    for (int s = 0; s < n_series; s++)
        draw_series(&c, &series[s]);
    cairo_restore(c.cr);
    draw_axes(&c);
    draw_titles(&c, title, NULL, xlabel, ylabel);
    draw_lines_legend(&c, n_series, series);
    return canvas_save(&c, path);
}

/* ---- scatter plots ----------------------------------------------------------------- */

static const char *class_name(const char *const *names, int k, char *buf, size_t size)
{
    if (names && names[k])
        return names[k];
    snprintf(buf, size, "class %d", k);
    return buf;
}

static void scatter_fit(plot_chart *c, int n, const double *xy)
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int i = 0; i < n; i++)
        if (usable(xy[2 * i]) && usable(xy[2 * i + 1])) {
            extent_add(&x0, &x1, xy[2 * i]);
            extent_add(&y0, &y1, xy[2 * i + 1]);
        }
    axis_fit(&c->x, x0, x1, 0);
    axis_fit(&c->y, y0, y1, 0);
}

/* The legend's width (0 without labels); the rows are counted later. */
static double scatter_legend_width(plot_chart *c, const int *labels, int n_classes,
                                   const char *const *names)
{
    char buf[32];
    double w = 0;
    if (!labels)
        return 0;
    set_font(c->cr, 12, 0);
    for (int k = 0; k < n_classes; k++) {
        double tw = text_width(c->cr, class_name(names, k, buf, sizeof buf));
        w = tw > w ? tw : w;
    }
    return ceil(w) + 3 * LEGEND_PAD + 10;
}

/* Right of the data area, from its top; as many rows as fit. */
static void scatter_legend(plot_chart *c, double w, int n_classes)
{
    const aec_plot_rect *p = &c->lay.plot;
    int fit = (int)((p->h - 2 * LEGEND_PAD + 4) / LEGEND_ROW);
    if (w <= 0)
        return;
    c->legend_rows = n_classes < fit ? n_classes : fit;
    c->lay.legend = (aec_plot_rect){p->x + p->w + 16, p->y, w,
                                    2 * LEGEND_PAD - 4 + c->legend_rows * LEGEND_ROW};
}

static void scatter_plan(plot_chart *c, int n, const double *xy, const int *labels,
                         int n_classes, const char *const *names, int lines_above)
{
    scatter_fit(c, n, xy);
    double lw = scatter_legend_width(c, labels, n_classes, names);
    double left = left_margin(c, 0), top = lines_above ? 24 + 20 * lines_above : 16;
    double bottom = 32;
    double right = lw > 0 ? lw + 16 + 12 : 24;
    c->lay.plot = (aec_plot_rect){left, top, c->lay.width - left - right,
                                  c->lay.height - top - bottom};
    scatter_legend(c, lw, n_classes);
}

/* Dots in index order; consecutive dots of one colour are filled together. */
static void draw_dots(plot_chart *c, int n, const double *xy, const int *labels)
{
    cairo_t *cr = c->cr;
    double r = n > 3000 ? 1.6 : 2.5;
    int colour = -1;
    for (int i = 0; i < n; i++) {
        if (!usable(xy[2 * i]) || !usable(xy[2 * i + 1]))
            continue;
        int k = labels ? labels[i] : 0;
        if (k != colour) {
            cairo_fill(cr);
            set_colour(cr, k);
            colour = k;
        }
        cairo_new_sub_path(cr);
        cairo_arc(cr, map_x(c, xy[2 * i]), map_y(c, xy[2 * i + 1]), r, 0, TURN);
    }
    cairo_fill(cr);
}

static void draw_scatter_legend(plot_chart *c, int n_classes, const char *const *names)
{
    cairo_t *cr = c->cr;
    const aec_plot_rect *r = &c->lay.legend;
    char buf[64];
    if (r->w <= 0)
        return;
    draw_legend_box(cr, r);
    for (int k = 0; k < c->legend_rows; k++) {
        double x = r->x + LEGEND_PAD, y = r->y + LEGEND_PAD + 8 + k * LEGEND_ROW;
        int more = k == c->legend_rows - 1 && c->legend_rows < n_classes;
        if (more) {
            snprintf(buf, sizeof buf, "+ %d more", n_classes - k);
        } else {
            set_colour(cr, k);
            cairo_rectangle(cr, x, y - 5, 10, 10);
            cairo_fill(cr);
        }
        cairo_set_source_rgb(cr, 0, 0, 0);
        text_at(cr, more ? buf : class_name(names, k, buf, sizeof buf),
                x + 10 + LEGEND_PAD, y, 0, 0.5);
    }
}

/* What is wrong with the arguments (in buf when it needs numbers), or NULL. */
static const char *scatter_bad_args(int n, const double *xy, const int *labels, int n_classes,
                                    char *buf, size_t size)
{
    if (n < 0 || (n > 0 && !xy))
        return "no points";
    if (labels && n_classes < 1)
        return "labels without classes";
    for (int i = 0; labels && i < n; i++)
        if (labels[i] < 0 || labels[i] >= n_classes) {
            snprintf(buf, size, "point %d has label %d, outside 0 .. %d", i, labels[i],
                     n_classes - 1);
            return buf;
        }
    return NULL;
}

int aec_plot_scatter_layout(const char *title, int n, const double *xy, const int *labels,
                            int n_classes, const char *const *class_names,
                            const char *subtitle, aec_plot_layout *out)
{
    plot_chart c;
    char buf[96];
    if (scatter_bad_args(n, xy, labels, n_classes, buf, sizeof buf))
        return -1;
    int rc = canvas_open(&c, SCATTER_W, SCATTER_H);
    scatter_plan(&c, n, xy, labels, n_classes, class_names, !!title + !!subtitle);
    *out = c.lay;
    canvas_close(&c);
    return rc;
}

int aec_plot_scatter(const char *path, const char *title, int n, const double *xy,
                     const int *labels, int n_classes, const char *const *class_names,
                     const char *subtitle)
{
    plot_chart c;
    char buf[96];
    const char *why = scatter_bad_args(n, xy, labels, n_classes, buf, sizeof buf);
    if (why) {
        aec_error("%s: cannot plot: %s", path, why);
        return -1;
    }
    canvas_open(&c, SCATTER_W, SCATTER_H);
    scatter_plan(&c, n, xy, labels, n_classes, class_names, !!title + !!subtitle);
    clip_to_plot(&c);
    draw_dots(&c, n, xy, labels);
    cairo_restore(c.cr);
    draw_axes(&c);
    draw_titles(&c, title, subtitle, NULL, NULL);
    draw_scatter_legend(&c, n_classes, class_names);
    return canvas_save(&c, path);
}
