/* One pass over a batch of float64 values: bin counts and sums, null count, min, max and the
 * sum of squared deviations, for mlbudget.detection.drift.counting.NumericCounter.
 *
 * The numpy path in counting.py makes about eight passes over each batch (min, max, the bucket
 * position, the table lookup, two bincounts, the deviations and their squares); this makes one,
 * with the GIL released so that the worker threads count their columns in parallel. The results
 * are the numpy path's: the bin of a value is searchsorted(edges, value, side="left") (the same
 * bucket table, the same near-edge comparisons, the same binary search), the per-bin sums add the
 * values in the same order, and only the sum of squares is summed in another order (numpy sums
 * pairwise; this in two running sums), which moves it in the last bits. A counter's first batch
 * goes through numpy, which sets the shift the squares are taken around.
 *
 * No numpy headers: every array comes in through the buffer protocol, so the module builds with
 * a C compiler and Python's headers alone. tests/detection/test_counting_kernel.py checks it
 * against the numpy path.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>

#define SEARCH INT32_MIN

static Py_ssize_t lower_bound(const double *edges, Py_ssize_t lo, Py_ssize_t hi, double x) {
    /* the first of edges[lo:hi] that is >= x (hi when none) */
    while (lo < hi) {
        Py_ssize_t mid = lo + ((hi - lo) >> 1);
        if (edges[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static Py_ssize_t edges_below(const double *edges, Py_ssize_t n, double x) {
    /* searchsorted(edges, x, side="left"): how many edges are < x */
    return lower_bound(edges, 0, n, x);
}

static Py_ssize_t edges_below_in(const double *edges, Py_ssize_t start, Py_ssize_t stop, Py_ssize_t n, double x) {
    /* edges_below, first among edges[start:stop] (the few beyond a table's span), then the rest */
    Py_ssize_t lo = lower_bound(edges, start, stop, x);
    if ((lo == stop && stop < n) || (lo == start && start > 0)) return edges_below(edges, n, x);
    return lo;
}

typedef struct {
    const double *edges, *padded;
    const int32_t *table;
    Py_ssize_t edge_count, slots, buckets, near, below, above;
    double scale, offset, top;
} Layout;

typedef struct {
    Py_ssize_t valid, nulls;
    double low, high, squares;
} Tally;

static inline __attribute__((always_inline)) Py_ssize_t bin_of(const Layout *l, double x, int branchless) {
    /* searchsorted(edges, x, side="left") by the bucket table, as BinIndexer.index does it */
    if (!l->slots) return edges_below(l->edges, l->edge_count, x);
    double position = x * l->scale;
    position += l->offset;
    if (position < 0.0) position = 0.0;
    else if (position > l->top) position = l->top;
    int32_t slot = (int32_t)position;
    int32_t entry = l->table[slot];
    if (entry == SEARCH) {
        if (slot == 0) /* below the table's span: among the few edges there first */
            return edges_below_in(l->edges, 0, l->below, l->edge_count, x);
        if (slot > l->buckets) /* above it */
            return edges_below_in(l->edges, l->above, l->edge_count, l->edge_count, x);
        return edges_below(l->edges, l->edge_count, x);
    }
    if (branchless) {
        /* a column with a heavy value (the zeros of a zero-inflated column) mixes values on and off
         * its edges at random: a branch between the two would be mispredicted for most of them */
        Py_ssize_t nearby = entry < 0;
        Py_ssize_t first = nearby ? -1 - (Py_ssize_t)entry : (Py_ssize_t)entry;
        Py_ssize_t bin = first;
        for (Py_ssize_t k = 0; k < l->near; k++) bin += nearby & (x > l->padded[first + k]);
        return bin;
    }
    if (entry >= 0) return entry;
    Py_ssize_t first = -1 - (Py_ssize_t)entry, bin = first;
    for (Py_ssize_t k = 0; k < l->near; k++) bin += x > l->padded[first + k];
    return bin;
}

static inline __attribute__((always_inline)) void count_loop(const Layout *layout, const double *restrict values,
                                                             Py_ssize_t n, int64_t *restrict counts,
                                                             double *restrict sums, double shift, double bound,
                                                             Tally *tally, int branchless) {
    /* locals only inside the loop: a store through counts or sums could otherwise alias them */
    const Layout l = *layout;
    Py_ssize_t valid = 0, nulls = 0;
    double low = INFINITY, high = -INFINITY, sq0 = 0.0, sq1 = 0.0;
    for (Py_ssize_t i = 0; i < n; i++) {
        double x = values[i];
        if (!isfinite(x)) {
            nulls++;
            continue;
        }
        if (x < low) low = x;
        if (x > high) high = x;
        if (x > bound) x = bound;
        else if (x < -bound) x = -bound;
        Py_ssize_t bin = bin_of(&l, x, branchless);
        counts[bin] += 1;
        sums[bin] += x;
        double d = x - shift;
        if (valid & 1) sq1 += d * d;
        else sq0 += d * d;
        valid++;
    }
    tally->valid = valid;
    tally->nulls = nulls;
    tally->low = low;
    tally->high = high;
    tally->squares = sq0 + sq1;
}

static int check(Py_buffer *view, Py_ssize_t item, const char *name) {
    if (view->len % item != 0) {
        PyErr_Format(PyExc_ValueError, "%s: buffer of %zd bytes is not a whole number of %zd-byte items", name,
                     view->len, item);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(count_doc,
             "count(values, edges, table, padded, scale, offset, buckets, near, below, above, counts, sums, shift,\n"
             "      bound, mixed)\n"
             "\n"
             "Count a batch into bins. values, edges, padded: float64; table: int32 (empty: binary search\n"
             "only); a value below the table's span is searched among edges[:below] first, one above it\n"
             "among edges[above:]; counts: int64 and sums: float64, one per bin, added to. Non-finite values count as null;\n"
             "finite values beyond +/- bound are binned and summed at the bound. shift: the value squares are\n"
             "taken around (the caller's first batch, counted with numpy, sets it).\n"
             "\n"
             "Returns (valid, nulls, squares, low, high): valid values, nulls, the sum of (value - shift)**2\n"
             "(at the bound), and the min and max of the valid values (unclipped). mixed: resolve values on and\n"
             "off the edges without a branch (a column with a heavy value mixes them at random).");

static PyObject *count(PyObject *self, PyObject *args) {
    Py_buffer v = {0}, e = {0}, t = {0}, p = {0}, c = {0}, s = {0};
    double scale, offset, shift, bound;
    Py_ssize_t buckets, near, below, above;
    int mixed;
    if (!PyArg_ParseTuple(args, "y*y*y*y*ddnnnnw*w*ddp", &v, &e, &t, &p, &scale, &offset, &buckets, &near, &below,
                          &above, &c, &s, &shift, &bound, &mixed))
        return NULL;
    PyObject *result = NULL;
    if (check(&v, 8, "values") || check(&e, 8, "edges") || check(&t, 4, "table") || check(&p, 8, "padded") ||
        check(&c, 8, "counts") || check(&s, 8, "sums"))
        goto done;
    const double *values = v.buf, *edges = e.buf, *padded = p.buf;
    const int32_t *table = t.buf;
    int64_t *counts = c.buf;
    double *sums = s.buf;
    Py_ssize_t n = v.len / 8, edge_count = e.len / 8, bins = c.len / 8, slots = t.len / 4;
    if (bins != edge_count + 1 || s.len / 8 != bins || (slots && (slots != buckets + 3 || p.len / 8 < edge_count + near))) {
        PyErr_SetString(PyExc_ValueError, "count: the bins, table and padded edges do not match the edges");
        goto done;
    }
    if (below > edge_count) below = edge_count;
    if (below < 0) below = 0;
    if (above > edge_count) above = edge_count;
    if (above < 0) above = 0;
    Layout layout = {edges, padded, table, edge_count, slots, buckets, near, below, above, scale, offset,
                     (double)(buckets + 1)};
    Tally tally = {0, 0, INFINITY, -INFINITY, 0.0};
    Py_BEGIN_ALLOW_THREADS
    if (mixed)
        count_loop(&layout, values, n, counts, sums, shift, bound, &tally, 1);
    else
        count_loop(&layout, values, n, counts, sums, shift, bound, &tally, 0);
    Py_END_ALLOW_THREADS
    result = Py_BuildValue("nnddd", tally.valid, tally.nulls, tally.squares, tally.low, tally.high);
done:
    PyBuffer_Release(&v);
    PyBuffer_Release(&e);
    PyBuffer_Release(&t);
    PyBuffer_Release(&p);
    PyBuffer_Release(&c);
    PyBuffer_Release(&s);
    return result;
}

static PyMethodDef methods[] = {
    {"count", count, METH_VARARGS, count_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_counting", "One-pass bin counting for numeric drift columns (see counting.py).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__counting(void) { return PyModule_Create(&module); }
