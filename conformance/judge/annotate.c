/* annotate: a sorted (frame, verdict) index over the judged flows, built in
 * one pass, read by bisection. See annotate.h. */
#include "annotate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array_reserve.h"
#include "verdict.h"

/* One line of a frame's comment: a verdict, or (v NULL) the note that the
 * frame is a capture duplicate of `original`. */
struct comment_ref {
    uint32_t frame;
    uint32_t order;               /* duplicate notes first, then report and verdict order */
    const struct verdict *v;
    uint32_t original;
};

struct frame_comments {
    struct comment_ref *refs;     /* sorted by frame, then order */
    size_t n, cap;
};

static bool add_ref(struct frame_comments *fc, uint32_t frame, const struct verdict *v,
                    uint32_t original)
{
    void *refs = array_reserve(fc->refs, &fc->cap, fc->n + 1, sizeof *fc->refs, 256);
    if (!refs)
        return false;
    fc->refs = refs;
    fc->refs[fc->n] = (struct comment_ref){ frame, (uint32_t)fc->n, v, original };
    fc->n++;
    return true;
}

static bool names_frame(const struct verdict *v, uint32_t frame)
{
    for (unsigned j = 0; j < v->nframes; j++)
        if (v->frames[j] == frame)
            return true;
    return false;
}

/* checksum.offloaded's line goes to every frame of the flow whose checksum
 * was left to offload, not only the few the verdict names. */
static bool spreads_to_offloaded(const struct flow_report *r, const struct verdict *v)
{
    return v->rule == RULE_CHECKSUM_OFFLOADED && v->kind == VERDICT_INFO && r->noffloaded;
}

static bool index_report(struct frame_comments *fc, const struct flow_report *r)
{
    for (size_t k = 0; k < r->nverdicts; k++) {
        const struct verdict *v = &r->verdicts[k];
        for (unsigned j = 0; j < v->nframes; j++)
            if (!add_ref(fc, v->frames[j], v, 0))
                return false;
        if (!spreads_to_offloaded(r, v))
            continue;
        for (size_t i = 0; i < r->noffloaded; i++) {
            uint32_t f = r->offloaded_frames[i];
            bool again = (i && r->offloaded_frames[i - 1] == f) || names_frame(v, f);
            if (!again && !add_ref(fc, f, v, 0))
                return false;
        }
    }
    return true;
}

static int cmp_ref(const void *x, const void *y)
{
    const struct comment_ref *a = x, *b = y;
    if (a->frame != b->frame)
        return a->frame < b->frame ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

struct frame_comments *frame_comments_build(struct flow_report *const *reports, size_t nreports,
                                            const struct capdup *dups)
{
    struct frame_comments *fc = calloc(1, sizeof *fc);
    if (!fc)
        return NULL;
    bool ok = true;
    for (size_t i = 0; ok && i < dups->nnotes; i++)
        ok = add_ref(fc, dups->notes[i].frame, NULL, dups->notes[i].original);
    for (size_t i = 0; ok && i < nreports; i++)
        ok = index_report(fc, reports[i]);
    if (!ok) {
        frame_comments_free(fc);
        return NULL;
    }
    if (fc->n > 1) /* refs is NULL while empty */
        qsort(fc->refs, fc->n, sizeof *fc->refs, cmp_ref);
    return fc;
}

void frame_comments_free(struct frame_comments *fc)
{
    if (!fc)
        return;
    free(fc->refs);
    free(fc);
}

size_t frame_comments_get(const struct frame_comments *fc, uint32_t frame, char *buf, size_t size)
{
    size_t need = 0;
    if (size)
        buf[0] = '\0';
    size_t lo = 0, hi = fc->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (fc->refs[mid].frame < frame)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < fc->n && fc->refs[lo].frame == frame && !fc->refs[lo].v) {
        /* A duplicate is not judged: its first note is all there is to say. */
        int n = snprintf(buf, size, "capture duplicate of frame %u: not judged",
                         fc->refs[lo].original);
        return n < 0 ? 0 : (size_t)n;
    }
    for (size_t i = lo; i < fc->n && fc->refs[i].frame == frame; i++) {
        /* Lines are joined by '\n' and each, with its '\n', capped at 511. */
        char line[512];
        size_t lead = need ? 1 : 0;
        line[0] = '\n';
        int n = verdict_format_comment(fc->refs[i].v, line + lead, sizeof line - lead);
        if (n < 0)
            continue;
        size_t len = lead + (size_t)n;
        if (len > sizeof line - 1)
            len = sizeof line - 1;
        if (size && need < size - 1) {
            size_t room = size - 1 - need;
            size_t copy = len < room ? len : room;
            memcpy(buf + need, line, copy);
            buf[need + copy] = '\0';
        }
        need += len;
    }
    return need;
}

uint32_t frame_comments_next(const struct frame_comments *fc, uint32_t after)
{
    size_t lo = 0, hi = fc->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (fc->refs[mid].frame <= after)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < fc->n ? fc->refs[lo].frame : 0;
}
