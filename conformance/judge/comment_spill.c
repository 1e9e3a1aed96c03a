/* comment_spill: judged flows' comments in a temporary file, merged back in
 * frame order. See comment_spill.h. */
#include "comment_spill.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "annotate.h"
#include "array_reserve.h"
#include "capdup.h"

/* Where one flow's records are in the file. */
struct run {
    uint32_t first_frame;
    uint32_t order;      /* judgement order */
    uint32_t count;      /* records */
    uint64_t offset;
};

/* A run being merged: its current record. */
struct cursor {
    uint32_t frame;
    uint32_t order;
    uint32_t len;
    uint32_t left;       /* records after this one */
    uint64_t text_at;    /* the current record's text */
};

struct comment_spill {
    FILE *f;
    uint64_t size;
    bool failed;
    char err[256];
    struct run *runs;
    size_t nruns, runs_cap;
    size_t next_run;     /* the first run not yet merged */
    struct cursor *heap;
    size_t nheap, heap_cap;
    char *text;          /* the comment handed out */
    size_t text_cap;
};

static bool set_error(struct comment_spill *s, const char *what)
{
    if (!s->failed)
        snprintf(s->err, sizeof s->err, "comment spill file: %s: %s", what,
                 errno ? strerror(errno) : "failed");
    s->failed = true;
    return false;
}

struct comment_spill *comment_spill_create(char *err, size_t errlen)
{
    struct comment_spill *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->f = tmpfile();
    if (!s->f) {
        snprintf(err, errlen, "create a temporary file: %s", strerror(errno));
        free(s);
        return NULL;
    }
    return s;
}

void comment_spill_free(struct comment_spill *s)
{
    if (!s)
        return;
    if (s->f)
        fclose(s->f);
    free(s->runs);
    free(s->heap);
    free(s->text);
    free(s);
}

bool comment_spill_failed(const struct comment_spill *s)
{
    return s->failed;
}

const char *comment_spill_error(const struct comment_spill *s)
{
    return s->err;
}

static bool grow_text(struct comment_spill *s, size_t need)
{
    if (need <= s->text_cap)
        return true;
    size_t cap = s->text_cap ? s->text_cap : 4096;
    while (cap < need)
        cap *= 2;
    char *t = realloc(s->text, cap);
    if (!t)
        return false;
    s->text = t;
    s->text_cap = cap;
    return true;
}

bool comment_spill_add(struct comment_spill *s, const struct flow_report *r)
{
    if (s->failed)
        return false;
    static const struct capdup no_dups;
    struct flow_report *one = (struct flow_report *)(uintptr_t)r; /* only read */
    struct frame_comments *fc = frame_comments_build(&one, 1, &no_dups);
    if (!fc) {
        errno = ENOMEM;
        return set_error(s, "index a flow");
    }
    struct run run = { 0, (uint32_t)s->nruns, 0, s->size };
    for (uint32_t f = frame_comments_next(fc, 0); f; f = frame_comments_next(fc, f)) {
        size_t need = frame_comments_get(fc, f, NULL, 0);
        if (!grow_text(s, need + 1)) {
            errno = ENOMEM;
            set_error(s, "comment");
            break;
        }
        frame_comments_get(fc, f, s->text, need + 1);
        uint32_t head[2] = { f, (uint32_t)need };
        if (fwrite(head, sizeof head, 1, s->f) != 1 || fwrite(s->text, 1, need, s->f) != need) {
            set_error(s, "write");
            break;
        }
        s->size += sizeof head + need;
        if (!run.count)
            run.first_frame = f;
        run.count++;
    }
    frame_comments_free(fc);
    if (s->failed || !run.count)
        return !s->failed;
    void *runs = array_reserve(s->runs, &s->runs_cap, s->nruns + 1, sizeof *s->runs, 64);
    if (!runs) {
        errno = ENOMEM;
        return set_error(s, "index a flow");
    }
    s->runs = runs;
    s->runs[s->nruns++] = run;
    return true;
}

static int cmp_run(const void *x, const void *y)
{
    const struct run *a = x, *b = y;
    if (a->first_frame != b->first_frame)
        return a->first_frame < b->first_frame ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

bool comment_spill_finish(struct comment_spill *s)
{
    if (!s->failed && fflush(s->f) != 0)
        return set_error(s, "flush");
    if (s->nruns > 1)
        qsort(s->runs, s->nruns, sizeof *s->runs, cmp_run);
    return !s->failed;
}

/* Reads the record header at `at` into c. */
static bool read_head(struct comment_spill *s, struct cursor *c, uint64_t at)
{
    uint32_t head[2];
    ssize_t n = pread(fileno(s->f), head, sizeof head, (off_t)at);
    if (n != (ssize_t)sizeof head) {
        if (n >= 0)
            errno = EIO;
        return set_error(s, "read");
    }
    c->frame = head[0];
    c->len = head[1];
    c->text_at = at + sizeof head;
    return true;
}

static bool before(const struct cursor *a, const struct cursor *b)
{
    return a->frame != b->frame ? a->frame < b->frame : a->order < b->order;
}

static void heap_push(struct comment_spill *s, struct cursor c)
{
    size_t i = s->nheap++;
    while (i) {
        size_t parent = (i - 1) / 2;
        if (!before(&c, &s->heap[parent]))
            break;
        s->heap[i] = s->heap[parent];
        i = parent;
    }
    s->heap[i] = c;
}

static struct cursor heap_pop(struct comment_spill *s)
{
    struct cursor top = s->heap[0];
    struct cursor last = s->heap[--s->nheap];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= s->nheap)
            break;
        if (child + 1 < s->nheap && before(&s->heap[child + 1], &s->heap[child]))
            child++;
        if (!before(&s->heap[child], &last))
            break;
        s->heap[i] = s->heap[child];
        i = child;
    }
    if (s->nheap)
        s->heap[i] = last;
    return top;
}

const char *comment_spill_get(struct comment_spill *s, uint32_t frame)
{
    if (s->failed)
        return NULL;
    /* Open the runs that start here or before. */
    while (s->next_run < s->nruns && s->runs[s->next_run].first_frame <= frame) {
        const struct run *r = &s->runs[s->next_run++];
        void *heap = array_reserve(s->heap, &s->heap_cap, s->nheap + 1, sizeof *s->heap, 64);
        if (!heap) {
            errno = ENOMEM;
            set_error(s, "merge");
            return NULL;
        }
        s->heap = heap;
        struct cursor c = { 0, r->order, 0, r->count - 1, 0 };
        if (!read_head(s, &c, r->offset))
            return NULL;
        heap_push(s, c);
    }
    size_t used = 0;
    while (s->nheap && s->heap[0].frame <= frame) {
        struct cursor c = heap_pop(s);
        if (c.frame == frame) {
            size_t lead = used ? 1 : 0;
            if (!grow_text(s, used + lead + c.len + 1)) {
                errno = ENOMEM;
                set_error(s, "comment");
                return NULL;
            }
            if (lead)
                s->text[used] = '\n';
            if (pread(fileno(s->f), s->text + used + lead, c.len, (off_t)c.text_at) !=
                (ssize_t)c.len) {
                errno = errno ? errno : EIO;
                set_error(s, "read");
                return NULL;
            }
            used += lead + c.len;
        }
        if (c.left) {
            uint64_t next = c.text_at + c.len;
            c.left--;
            if (!read_head(s, &c, next))
                return NULL;
            heap_push(s, c);
        }
    }
    if (!used)
        return NULL;
    s->text[used] = '\0';
    return s->text;
}
