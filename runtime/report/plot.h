/* plot.h: line charts and scatter plots as PNG files (plot.c, drawn with
 * cairo). Not part of the public interface (aec.h): the runtime draws loss
 * curves and latent scatters with it, and the tests check its pictures.
 *
 * Every plot is written atomically (PATH.tmp, then rename). The functions
 * return 0, or -1 after a message through aec_error that names the file
 * (the *_layout functions: -1, without a message, for bad arguments). */
#ifndef AEC_REPORT_PLOT_H
#define AEC_REPORT_PLOT_H

#include "aec.h"

/* The categorical palette, as 8-bit RGB: Tableau 10 (matplotlib's tab10).
 * Colour index k means aec_plot_palette[k % AEC_PLOT_COLOURS]. */
#define AEC_PLOT_COLOURS 10
extern const unsigned char aec_plot_palette[AEC_PLOT_COLOURS][3];

/* Fashion-MNIST's class names, in label order. */
extern const char *const aec_plot_fashion_mnist_classes[10];

/* A rectangle in pixels: x, y is its top left corner. */
typedef struct { double x, y, w, h; } aec_plot_rect;

/* Where a plot puts things, for the tests (and any caller that annotates). */
typedef struct {
    int width, height;      /* of the image */
    aec_plot_rect plot;     /* the data area, inside the axes' frame */
    aec_plot_rect legend;   /* the legend's box; w = 0 when there is none */
} aec_plot_layout;

/* ---- line charts ------------------------------------------------------------ */

/* One line of a chart: n points (x[i], y[i]); x may be NULL for 1, 2, ..., n
 * (epochs). A NaN or infinite value skips the point and breaks the line; so
 * does y <= 0 on a log scale. */
typedef struct {
    const char *label;      /* its legend entry; NULL gives "series i" */
    int n;
    const double *x, *y;
    int colour;             /* index into aec_plot_palette */
} aec_plot_series;

#define AEC_PLOT_LOG_Y 1    /* flags: a logarithmic y axis (linear otherwise) */

/* An 800x500 chart: title (may be NULL), axes with ticks at 1-2-5 steps and
 * their labels, a legend inside the data area in the corner with the least
 * data under it, and markers at the points when a series has at most 50. */
int aec_plot_lines(const char *path, const char *title, const char *xlabel,
                   const char *ylabel, int n_series, const aec_plot_series *series,
                   int flags);
/* The layout aec_plot_lines gives the same arguments, without drawing. */
int aec_plot_lines_layout(const char *title, const char *xlabel, const char *ylabel,
                          int n_series, const aec_plot_series *series, int flags,
                          aec_plot_layout *out);

/* ---- scatter plots ------------------------------------------------------------ */

/* An 800x700 scatter of n points, xy = (x0, y0, x1, y1, ...), drawn as small
 * dots in index order (points drawn later cover earlier ones). labels[i] in
 * 0 .. n_classes-1 gives point i the palette colour labels[i]; the legend,
 * right of the data area, names the classes (class_names[k], or "class k"
 * when class_names is NULL). labels NULL: one colour and no legend. A point
 * with a NaN or infinite coordinate is skipped. title and subtitle (a line
 * under the title, e.g. "PCA: 24.1% + 17.3% of the variance") may be NULL. */
int aec_plot_scatter(const char *path, const char *title, int n, const double *xy,
                     const int *labels, int n_classes, const char *const *class_names,
                     const char *subtitle);
/* The layout aec_plot_scatter gives the same arguments, without drawing. */
int aec_plot_scatter_layout(const char *title, int n, const double *xy, const int *labels,
                            int n_classes, const char *const *class_names,
                            const char *subtitle, aec_plot_layout *out);

/* ---- ticks ------------------------------------------------------------------ */

/* "Nice" ticks for [lo, hi]: the multiples of step that lie in it, where step
 * is the smallest 1, 2 or 5 times a power of ten that gives at most target
 * ticks (target >= 2). Writes them to t (room for target values), in
 * increasing order, and step to *step (may be NULL); returns how many, 0 for
 * an empty or infinite range. */
int aec_plot_ticks(double lo, double hi, int target, double *t, double *step);

#endif
