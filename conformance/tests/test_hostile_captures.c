/* Hostile captures: `wirecheck check` (the built binary) on thousands of
 * mutants of the golden captures must exit 0, 1 or 2, never die of a
 * signal, never hang, never run away with memory, and say something on
 * stderr when it exits 2.
 *
 * Mutants (all derived from captures/golden/, written under the build dir):
 *   truncations    every prefix of the first 600 bytes
 *   byte flips     every byte of the first 160 bytes of the file (SHB, IDB)
 *                  and of the first packets' data, XOR 01/10/80/FF and set
 *                  to 00
 *   length lies    pcapng block total length (leading, trailing, both),
 *                  EPB captured/original length, interface id; IPv4 total
 *                  length and IHL, IPv6 payload length and next header, TCP
 *                  data offset and option lengths, UDP length, fragment
 *                  offsets
 *   link types     classic pcap conversions with link type 0..300 and 0xffff,
 *                  record caplen > snaplen / huge / > len, odd snaplens,
 *                  versions and magics
 *   sections       pcapng byte-order magic wrong, a second section with a
 *                  wrong or swapped magic, zero-length and huge blocks
 *   random         a few random bytes changed (fixed seed)
 *   regressions    conformance/tests/data/hostile-*: mutants that once
 *                  crashed the analysis, kept small
 *
 * Mutants run in batches (one exec judges up to BATCH files: exec is the
 * expensive part); a batch that misbehaves is re-run file by file and the
 * culprits are copied to <build>/hostile-failures/ and listed. Each run has
 * RLIMIT_AS 1 GiB (not under ASan, which reserves more), RLIMIT_CPU and a
 * wall-clock SIGKILL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WIRECHECK WIRECHECK_BIN_DIR "/wirecheck"
#define WORK_DIR WIRECHECK_BIN_DIR "/../hostile-captures"
#define FAIL_DIR WIRECHECK_BIN_DIR "/../hostile-failures"
#define DATA_DIR WIRECHECK_SOURCE_DIR "/conformance/tests/data"
#define BATCH 64
#define WALL_MS_BATCH 20000   /* a batch of small files takes well under a second */
#define WALL_MS_ONE 10000
#define CPU_SECONDS 15
#define AS_BYTES (1024ull << 20)

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* ---- buffers ----------------------------------------------------------- */

struct buf {
    uint8_t *p;
    size_t len;
};

static struct buf read_all(const char *path)
{
    struct buf b = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    assert_true(n >= 0);
    b.p = malloc((size_t)n + 1);
    assert_non_null(b.p);
    b.len = fread(b.p, 1, (size_t)n, f);
    fclose(f);
    return b;
}

static struct buf clone(const struct buf *src)
{
    struct buf b = {malloc(src->len + 1), src->len};
    assert_non_null(b.p);
    memcpy(b.p, src->p, src->len);
    return b;
}

static uint32_t get32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put16le(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put16be(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint16_t get16be(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* ---- running wirecheck ------------------------------------------------- */

struct outcome {
    bool signaled, hung;
    int status;            /* exit status, or the signal */
    size_t err_len;
    char err[1 << 20];    /* a batch of 64 errors, with room to spare */
};

static char *out_text;      /* stdout of the last run (for the file-named check) */
static size_t out_cap = 16u << 20;

static void read_file_into(const char *path, char *dst, size_t cap, size_t *len)
{
    *len = 0;
    dst[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    *len = fread(dst, 1, cap - 1, f);
    dst[*len] = '\0';
    fclose(f);
}

static void child_limits(void)
{
    struct rlimit cpu = {CPU_SECONDS, CPU_SECONDS + 1};
    setrlimit(RLIMIT_CPU, &cpu);
    struct rlimit core = {0, 0};
    setrlimit(RLIMIT_CORE, &core);
    if (!UNDER_ASAN) {
        struct rlimit as = {AS_BYTES, AS_BYTES};
        setrlimit(RLIMIT_AS, &as);
    }
    /* A sanitizer report must not look like "a check failed" (exit 1). */
    setenv("ASAN_OPTIONS", "abort_on_error=1:exitcode=86", 1);
    setenv("UBSAN_OPTIONS", "halt_on_error=1:abort_on_error=1:print_stacktrace=1", 1);
}

static void run_check(char *const files[], size_t n, int wall_ms, struct outcome *o)
{
    memset(o, 0, sizeof *o);
    char out_path[512], err_path[512];
    snprintf(out_path, sizeof out_path, "%s/stdout.txt", WORK_DIR);
    snprintf(err_path, sizeof err_path, "%s/stderr.txt", WORK_DIR);
    char *argv[BATCH + 5];
    size_t k = 0;
    argv[k++] = "wirecheck";
    argv[k++] = "check";
    argv[k++] = "--verbose";
    argv[k++] = "--";
    for (size_t i = 0; i < n; i++)
        argv[k++] = files[i];
    argv[k] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int fi = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fo < 0 || fe < 0 || fi < 0)
            _exit(120);
        dup2(fi, 0);
        dup2(fo, 1);
        dup2(fe, 2);
        child_limits();
        execv(WIRECHECK, argv);
        _exit(121);
    }
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    assert_true(pidfd >= 0);
    struct pollfd p = {.fd = pidfd, .events = POLLIN};
    int rc;
    do
        rc = poll(&p, 1, wall_ms);
    while (rc < 0 && errno == EINTR);
    if (rc == 0) {
        o->hung = true;
        kill(pid, SIGKILL);
    }
    close(pidfd);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(st)) {
        o->signaled = !o->hung;
        o->status = WTERMSIG(st);
    } else {
        o->status = WEXITSTATUS(st);
    }
    read_file_into(err_path, o->err, sizeof o->err, &o->err_len);
    size_t out_len;
    read_file_into(out_path, out_text, out_cap, &out_len);
}

/* What is wrong with an outcome, or NULL. For a single file, also that the
 * file is named in the output (each file gets a report or an error). */
static const char *judge(const struct outcome *o, char *const files[], size_t n, char *why,
                         size_t size)
{
    if (o->hung)
        snprintf(why, size, "hung (killed after the wall-clock bound)");
    else if (o->signaled)
        snprintf(why, size, "killed by signal %d (%s)", o->status, strsignal(o->status));
    else if (o->status > 3 || (o->status == 3 && n == 1))
        /* 3: several files, a check failed in one and another was not judged. */
        snprintf(why, size, "exit status %d (not 0, 1, 2, or 3 for several files)%s%.300s", o->status,
                 o->err_len ? ": " : "", o->err);
    else if (o->status == 2 && o->err_len == 0)
        snprintf(why, size, "exit 2 without a message on stderr");
    else {
        for (size_t i = 0; i < n; i++)
            if (!strstr(out_text, files[i]) && !strstr(o->err, files[i])) {
                snprintf(why, size, "%s not named in the output (no report, no error)", files[i]);
                return why;
            }
        return NULL;
    }
    return why;
}

/* ---- the mutant queue -------------------------------------------------- */

struct queue {
    char *files[BATCH];
    size_t n;
    unsigned total, batches, failures;
    unsigned exit_counts[4];
    char failed[4096];
};

static struct queue Q;

static void keep_failure(const char *path, const char *why)
{
    Q.failures++;
    mkdir(FAIL_DIR, 0755);
    const char *base = strrchr(path, '/');
    char dst[512];
    snprintf(dst, sizeof dst, "%s/%s", FAIL_DIR, base ? base + 1 : path);
    if (rename(path, dst) != 0)
        snprintf(dst, sizeof dst, "%s", path);
    size_t used = strlen(Q.failed);
    if (used + 2 < sizeof Q.failed)
        snprintf(Q.failed + used, sizeof Q.failed - used, "  %s: %s\n", dst, why);
    print_message("hostile capture %s: %s\n", dst, why);
}

static void flush_batch(void)
{
    if (Q.n == 0)
        return;
    static struct outcome o;
    char why[512];
    run_check(Q.files, Q.n, WALL_MS_BATCH, &o);
    Q.batches++;
    /* A batch judges each file in turn: a file that makes it misbehave is
     * found by running them one by one. A batch whose file list is incomplete
     * in the output also goes one by one. */
    if (judge(&o, Q.files, Q.n, why, sizeof why)) {
        print_message("batch of %zu: %s; re-running one by one\n", Q.n, why);
        for (size_t i = 0; i < Q.n; i++) {
            run_check(&Q.files[i], 1, WALL_MS_ONE, &o);
            if (judge(&o, &Q.files[i], 1, why, sizeof why))
                keep_failure(Q.files[i], why);
            else
                Q.exit_counts[o.status]++;
        }
    } else {
        Q.exit_counts[o.status]++;
    }
    for (size_t i = 0; i < Q.n; i++) {
        unlink(Q.files[i]); /* failures were moved away already */
        free(Q.files[i]);
    }
    Q.n = 0;
}

__attribute__((format(printf, 3, 4)))
static void emit(const uint8_t *bytes, size_t len, const char *fmt, ...)
{
    char name[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    char path[512];
    snprintf(path, sizeof path, "%s/%06u-%s", WORK_DIR, Q.total, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    Q.files[Q.n++] = strdup(path);
    Q.total++;
    if (Q.n == BATCH)
        flush_batch();
}

#define emit_buf(b, ...) emit((b)->p, (b)->len, __VA_ARGS__)

/* ---- pcapng structure -------------------------------------------------- */

enum { SHB = 0x0A0D0D0A, IDB = 1, EPB = 6, BOM = 0x1A2B3C4D };

struct block {
    size_t off, len;
    uint32_t type;
};

/* The blocks of a little-endian pcapng file (the goldens are). */
static size_t blocks_of(const struct buf *b, struct block *out, size_t max)
{
    size_t n = 0;
    for (size_t off = 0; off + 12 <= b->len && n < max;) {
        uint32_t len = get32le(b->p + off + 4);
        if (len < 12 || off + len > b->len)
            break;
        out[n++] = (struct block){off, len, get32le(b->p + off)};
        off += len;
    }
    return n;
}

struct epb {
    size_t data;          /* offset of the packet bytes in the file */
    uint32_t caplen;
    size_t block;         /* offset of the block */
};

static size_t epbs_of(const struct buf *b, struct epb *out, size_t max)
{
    struct block bl[256];
    size_t nb = blocks_of(b, bl, 256), n = 0;
    for (size_t i = 0; i < nb && n < max; i++)
        if (bl[i].type == EPB && bl[i].len >= 32)
            out[n++] = (struct epb){bl[i].off + 28, get32le(b->p + bl[i].off + 20), bl[i].off};
    return n;
}

/* ---- mutant families --------------------------------------------------- */

static const char *const sources[] = {
    "time-ipv4", "time-ipv6", "udp-fragmented-ipv4", "udp-fragmented-ipv6",
    "connection-refused-ipv4", "udp-closed-port-ipv6", "server-abortive-close-ipv6",
    "echo-half-close-ipv4",
};
#define NSOURCES (sizeof sources / sizeof sources[0])

static struct buf golden(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/captures/golden/%s.pcapng", WIRECHECK_SOURCE_DIR, name);
    struct buf b = read_all(path);
    assert_true(b.len > 28);
    assert_int_equal(get32le(b.p), SHB);
    assert_int_equal(get32le(b.p + 8), BOM);
    return b;
}

static void truncations(const struct buf *g, const char *tag, unsigned step)
{
    size_t max = g->len < 600 ? g->len : 600;
    for (size_t off = 0; off < max; off += step)
        emit(g->p, off, "trunc-%s-%zu.pcapng", tag, off);
    /* and just short of the end: a record cut in its trailer */
    for (size_t cut = 1; cut <= 8 && cut < g->len; cut++)
        emit(g->p, g->len - cut, "trunc-%s-end-%zu.pcapng", tag, cut);
}

static void flip_range(const struct buf *g, const char *tag, size_t from, size_t to)
{
    static const uint8_t xors[] = {0x01, 0x10, 0x80, 0xff};
    struct buf m = clone(g);
    for (size_t i = from; i < to && i < g->len; i++) {
        for (size_t x = 0; x < sizeof xors; x++) {
            m.p[i] = g->p[i] ^ xors[x];
            emit(m.p, m.len, "flip-%s-%zu-x%02x.pcapng", tag, i, xors[x]);
        }
        if (g->p[i] != 0) {
            m.p[i] = 0;
            emit(m.p, m.len, "flip-%s-%zu-z.pcapng", tag, i);
        }
        m.p[i] = g->p[i];
    }
    free(m.p);
}

static void flips(const struct buf *g, const char *tag, unsigned packets, bool headers)
{
    if (headers)
        flip_range(g, tag, 0, 160); /* SHB, IDB, first block header: alike in every golden */
    struct epb e[8];
    size_t n = epbs_of(g, e, packets);
    for (size_t i = 0; i < n; i++) {
        uint32_t len = e[i].caplen < 96 ? e[i].caplen : 96;
        flip_range(g, tag, e[i].data, e[i].data + len);
    }
}

static void block_length_lies(const struct buf *g, const char *tag)
{
    struct block bl[16];
    size_t nb = blocks_of(g, bl, 6);
    for (size_t i = 0; i < nb; i++) {
        uint32_t real = (uint32_t)bl[i].len;
        const uint32_t lies[] = {0, 4, 8, 11, 12, 13, 16, real - 4, real + 4, real + 1024,
                                 0x00ffffff, 0x01000004, 0x7ffffff0, 0xfffffffc, 0xffffffff};
        for (size_t k = 0; k < sizeof lies / sizeof lies[0]; k++) {
            for (int where = 0; where < 3; where++) { /* leading, trailing, both */
                struct buf m = clone(g);
                if (where != 1)
                    put32le(m.p + bl[i].off + 4, lies[k]);
                if (where != 0)
                    put32le(m.p + bl[i].off + real - 4, lies[k]);
                emit_buf(&m, "blocklen-%s-%u-%u.pcapng", tag, (unsigned)(i * 100 + k),
                         (unsigned)where);
                free(m.p);
            }
        }
    }
}

static void epb_length_lies(const struct buf *g, const char *tag)
{
    struct epb e[4];
    size_t n = epbs_of(g, e, 3);
    for (size_t i = 0; i < n; i++) {
        size_t blen = get32le(g->p + e[i].block + 4);
        uint32_t c = e[i].caplen;
        const uint32_t caps[] = {0, 1, c - 1, c + 1, c + 4, (uint32_t)blen, (uint32_t)blen + 1,
                                 0xffff, 0x10000, 262144, 262145, 0x7fffffff, 0xffffffff};
        for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
            struct buf m = clone(g);
            put32le(m.p + e[i].block + 20, caps[k]);
            emit_buf(&m, "epbcap-%s-%u-%u.pcapng", tag, (unsigned)i, (unsigned)k);
            free(m.p);
        }
        const uint32_t origs[] = {0, 1, c - 1, 0xffffffff};
        for (size_t k = 0; k < sizeof origs / sizeof origs[0]; k++) {
            struct buf m = clone(g);
            put32le(m.p + e[i].block + 24, origs[k]);
            emit_buf(&m, "epborig-%s-%u-%u.pcapng", tag, (unsigned)i, (unsigned)k);
            free(m.p);
        }
        const uint32_t ifs[] = {1, 0xffff, 0xffffffff};
        for (size_t k = 0; k < sizeof ifs / sizeof ifs[0]; k++) {
            struct buf m = clone(g);
            put32le(m.p + e[i].block + 8, ifs[k]);
            emit_buf(&m, "epbif-%s-%u-%u.pcapng", tag, (unsigned)i, (unsigned)k);
            free(m.p);
        }
    }
}

/* One header field of every early packet set to each of `values`. */
static void set_field(const struct buf *g, const char *tag, const char *what, size_t pkt,
                      size_t off, int width, const uint32_t *values, size_t nvalues)
{
    for (size_t k = 0; k < nvalues; k++) {
        struct buf m = clone(g);
        if (width == 1)
            m.p[off] = (uint8_t)values[k];
        else if (width == 2)
            put16be(m.p + off, (uint16_t)values[k]);
        else if (width == -1) /* high nibble */
            m.p[off] = (uint8_t)((m.p[off] & 0x0f) | (values[k] << 4));
        else /* low nibble */
            m.p[off] = (uint8_t)((m.p[off] & 0xf0) | (values[k] & 0x0f));
        char name[160];
        snprintf(name, sizeof name, "%s-%s-p%zu-%zu.pcapng", what, tag, pkt, k);
        emit(m.p, m.len, "%s", name);
        free(m.p);
    }
}

static void header_lies(const struct buf *g, const char *tag)
{
    struct epb e[8];
    size_t n = epbs_of(g, e, 8);
    static const uint32_t nib[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    for (size_t i = 0; i < n; i++) {
        size_t l3 = e[i].data + 14;
        if (e[i].caplen < 14 + 20)
            continue;
        uint16_t ethertype = get16be(g->p + e[i].data + 12);
        size_t ip_caplen = e[i].caplen - 14;
        set_field(g, tag, "ethertype", i, e[i].data + 12, 2,
                  (const uint32_t[]){0x0800, 0x86dd, 0x8100, 0x88a8, 0x0806, 0}, 6);
        uint8_t proto;
        size_t l4;
        if (ethertype == 0x0800) {
            unsigned ihl = (g->p[l3] & 0x0f) * 4u;
            uint16_t tot = get16be(g->p + l3 + 2);
            const uint32_t lens[] = {0, 1, 19, 20, ihl - 1, ihl, ihl + 7, tot - 1u, tot + 1u,
                                     (uint32_t)ip_caplen + 100, 0xffff};
            set_field(g, tag, "ip4len", i, l3 + 2, 2, lens, sizeof lens / sizeof lens[0]);
            set_field(g, tag, "ip4ihl", i, l3, 0, nib, 16);
            set_field(g, tag, "ip4ver", i, l3, -1, nib, 16);
            set_field(g, tag, "ip4frag", i, l3 + 6, 2,
                      (const uint32_t[]){0x2000, 0x0001, 0x2001, 0x1fff, 0x3fff, 0x4000, 0xffff},
                      7);
            set_field(g, tag, "ip4proto", i, l3 + 9, 1,
                      (const uint32_t[]){0, 1, 2, 4, 6, 17, 41, 47, 50, 58, 132, 255}, 12);
            proto = g->p[l3 + 9];
            l4 = l3 + ihl;
        } else if (ethertype == 0x86dd) {
            uint16_t plen = get16be(g->p + l3 + 4);
            const uint32_t lens[] = {0, 1, 7, 8, plen - 1u, plen + 1u, (uint32_t)ip_caplen,
                                     0xffff};
            set_field(g, tag, "ip6len", i, l3 + 4, 2, lens, sizeof lens / sizeof lens[0]);
            set_field(g, tag, "ip6ver", i, l3, -1, nib, 16);
            set_field(g, tag, "ip6next", i, l3 + 6, 1,
                      (const uint32_t[]){0, 4, 6, 17, 41, 43, 44, 50, 51, 58, 59, 60, 135, 255},
                      14);
            proto = g->p[l3 + 6];
            l4 = l3 + 40;
            if (proto == 44 && e[i].data + e[i].caplen >= l4 + 8) { /* fragment header */
                set_field(g, tag, "ip6fragnext", i, l4, 1,
                          (const uint32_t[]){0, 6, 17, 44, 58, 59, 255}, 7);
                set_field(g, tag, "ip6fragoff", i, l4 + 2, 2,
                          (const uint32_t[]){0x0001, 0x0008, 0xfff8, 0xfff9, 0}, 5);
                proto = g->p[l4];
                l4 += 8;
            }
        } else {
            continue;
        }
        size_t end = e[i].data + e[i].caplen;
        if (proto == 6 && l4 + 20 <= end) {
            set_field(g, tag, "tcpdoff", i, l4 + 12, -1, nib, 16);
            set_field(g, tag, "tcpflags", i, l4 + 13, 1,
                      (const uint32_t[]){0, 0x01, 0x02, 0x03, 0x04, 0x07, 0x12, 0x14, 0x3f, 0xff},
                      10);
            unsigned doff = (g->p[l4 + 12] >> 4) * 4u;
            /* The first option's kind and length. */
            if (doff > 20 && l4 + 22 <= end) {
                set_field(g, tag, "tcpoptkind", i, l4 + 20, 1,
                          (const uint32_t[]){0, 1, 2, 3, 4, 5, 8, 19, 29, 30, 34, 254, 255}, 13);
                set_field(g, tag, "tcpoptlen", i, l4 + 21, 1,
                          (const uint32_t[]){0, 1, 2, 3, 9, 10, 11, 39, 40, 41, 255}, 11);
            }
        } else if (proto == 17 && l4 + 8 <= end) {
            uint16_t ulen = get16be(g->p + l4 + 4);
            const uint32_t lens[] = {0, 1, 7, 8, 9, ulen - 1u, ulen + 1u, 0xffff};
            set_field(g, tag, "udplen", i, l4 + 4, 2, lens, sizeof lens / sizeof lens[0]);
            set_field(g, tag, "udpsum", i, l4 + 6, 2, (const uint32_t[]){0, 0xffff, 1}, 3);
        } else if ((proto == 1 || proto == 58) && l4 + 8 <= end) {
            set_field(g, tag, "icmptype", i, l4, 1,
                      (const uint32_t[]){0, 1, 3, 4, 5, 8, 11, 12, 128, 129, 255}, 11);
            set_field(g, tag, "icmpcode", i, l4 + 1, 1, (const uint32_t[]){0, 3, 4, 15, 255}, 5);
            /* the quoted IP header's version/IHL and length */
            if (l4 + 8 + 4 <= end) {
                set_field(g, tag, "icmpquote", i, l4 + 8, 1,
                          (const uint32_t[]){0, 0x40, 0x41, 0x45, 0x4f, 0x60, 0xff}, 7);
                set_field(g, tag, "icmpquotelen", i, l4 + 8 + 2, 2,
                          (const uint32_t[]){0, 1, 20, 28, 0xffff}, 5);
                set_field(g, tag, "icmpquote6len", i, l4 + 8 + 4, 2,
                          (const uint32_t[]){0, 1, 8, 0xffff}, 4);
            }
        }
    }
}

/* The golden pcapng re-written as classic pcap through libpcap. */
static struct buf to_pcap(const char *name)
{
    char in[512], out[512], err[PCAP_ERRBUF_SIZE];
    snprintf(in, sizeof in, "%s/captures/golden/%s.pcapng", WIRECHECK_SOURCE_DIR, name);
    snprintf(out, sizeof out, "%s/source-%s.pcap", WORK_DIR, name);
    pcap_t *p = pcap_open_offline(in, err);
    if (!p)
        fail_msg("%s: %s", in, err);
    pcap_dumper_t *d = pcap_dump_open(p, out);
    assert_non_null(d);
    struct pcap_pkthdr *h;
    const u_char *bytes;
    while (pcap_next_ex(p, &h, &bytes) == 1)
        pcap_dump((u_char *)d, h, bytes);
    pcap_dump_close(d);
    pcap_close(p);
    struct buf b = read_all(out);
    unlink(out);
    assert_true(b.len > 24 + 16);
    assert_int_equal(get32le(b.p), 0xa1b2c3d4);
    return b;
}

static void pcap_mutants(const char *name)
{
    struct buf g = to_pcap(name);
    char tag[64];
    snprintf(tag, sizeof tag, "%s", name);
    /* link types 0..300 and 0xffff: the Ethernet frames fed to every
     * link-layer dissector (and rejected when unsupported). */
    for (uint32_t lt = 0; lt <= 301; lt++) {
        struct buf m = clone(&g);
        put32le(m.p + 20, lt == 301 ? 0xffff : lt);
        emit(m.p, m.len, "linktype-%s-%u.pcap", tag, lt == 301 ? 0xffffu : lt);
        free(m.p);
    }
    /* snaplen */
    const uint32_t snaps[] = {0, 1, 14, 54, 65535, 262144, 262145, 0x7fffffff, 0xffffffff};
    for (size_t k = 0; k < sizeof snaps / sizeof snaps[0]; k++) {
        struct buf m = clone(&g);
        put32le(m.p + 16, snaps[k]);
        emit(m.p, m.len, "snaplen-%s-%zu.pcap", tag, k);
        free(m.p);
    }
    /* version, magic */
    const uint32_t versions[][2] = {{0, 0}, {1, 0}, {2, 3}, {2, 5}, {3, 0}, {0xffff, 0xffff}};
    for (size_t k = 0; k < 6; k++) {
        struct buf m = clone(&g);
        put16le(m.p + 4, (uint16_t)versions[k][0]);
        put16le(m.p + 6, (uint16_t)versions[k][1]);
        emit(m.p, m.len, "version-%s-%zu.pcap", tag, k);
        free(m.p);
    }
    const uint32_t magics[] = {0xa1b23c4d, 0xd4c3b2a1, 0x4d3cb2a1, 0xa1b2cd34, 0, 0x0a0d0d0a};
    for (size_t k = 0; k < sizeof magics / sizeof magics[0]; k++) {
        struct buf m = clone(&g);
        put32le(m.p, magics[k]);
        emit(m.p, m.len, "magic-%s-%zu.pcap", tag, k);
        free(m.p);
    }
    /* records: caplen and len of the first three */
    size_t off = 24;
    for (int r = 0; r < 3 && off + 16 <= g.len; r++) {
        uint32_t cap = get32le(g.p + off + 8);
        const uint32_t caps[] = {0, 1, cap - 1, cap + 1, 65535, 262144, 262145, 0x7fffffff,
                                 0xffffffff};
        for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
            struct buf m = clone(&g);
            put32le(m.p + off + 8, caps[k]);
            emit(m.p, m.len, "reccap-%s-%d-%zu.pcap", tag, r, k);
            free(m.p);
        }
        const uint32_t lens[] = {0, 1, cap - 1, 0xffffffff};
        for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
            struct buf m = clone(&g);
            put32le(m.p + off + 12, lens[k]);
            emit(m.p, m.len, "reclen-%s-%d-%zu.pcap", tag, r, k);
            free(m.p);
        }
        const uint32_t usecs[] = {1000000, 0xffffffff};
        for (size_t k = 0; k < 2; k++) {
            struct buf m = clone(&g);
            put32le(m.p + off + 4, usecs[k]);
            put32le(m.p + off, 0xffffffff);
            emit(m.p, m.len, "rects-%s-%d-%zu.pcap", tag, r, k);
            free(m.p);
        }
        off += 16 + cap;
    }
    /* truncated inside the first records */
    for (size_t cut = 0; cut < 200 && cut < g.len; cut += 3)
        emit(g.p, cut, "pcaptrunc-%s-%zu.pcap", tag, cut);
    free(g.p);
}

static void section_mutants(const struct buf *g, const char *tag)
{
    const uint32_t boms[] = {0, 0x4D3C2B1A, 0x12345678, 0x1A2B3C4E, 0xffffffff};
    for (size_t k = 0; k < sizeof boms / sizeof boms[0]; k++) {
        struct buf m = clone(g);
        put32le(m.p + 8, boms[k]);
        emit(m.p, m.len, "bom-%s-%zu.pcapng", tag, k);
        free(m.p);
    }
    /* version and section length */
    const uint32_t vers[] = {0x00000000, 0x00000002, 0x00010001, 0xffffffff};
    for (size_t k = 0; k < 4; k++) {
        struct buf m = clone(g);
        put32le(m.p + 12, vers[k]);
        emit(m.p, m.len, "shbver-%s-%zu.pcapng", tag, k);
        free(m.p);
    }
    for (size_t k = 0; k < 3; k++) {
        struct buf m = clone(g);
        put32le(m.p + 16, k == 0 ? 0 : 5);
        put32le(m.p + 20, k == 2 ? 0x7fffffff : 0);
        emit(m.p, m.len, "shbseclen-%s-%zu.pcapng", tag, k);
        free(m.p);
    }
    /* a second section appended: the same file again, with a wrong or a
     * swapped magic, or a different link type in its interface */
    struct block bl[4];
    size_t nb = blocks_of(g, bl, 2);
    assert_true(nb == 2 && bl[1].type == IDB);
    for (size_t k = 0; k < 4; k++) {
        struct buf m = {malloc(g->len * 2), g->len * 2};
        assert_non_null(m.p);
        memcpy(m.p, g->p, g->len);
        memcpy(m.p + g->len, g->p, g->len);
        if (k < 2)
            put32le(m.p + g->len + 8, k == 0 ? 0x4D3C2B1A : 0xdeadbeef);
        else
            put16le(m.p + g->len + bl[1].off + 8, k == 2 ? 101 : 0xffff);
        emit(m.p, m.len, "section2-%s-%zu.pcapng", tag, k);
        free(m.p);
    }
    /* IDB link type and snaplen */
    const uint32_t lts[] = {0, 12, 14, 101, 108, 113, 228, 229, 276, 300, 0xffff};
    for (size_t k = 0; k < sizeof lts / sizeof lts[0]; k++) {
        struct buf m = clone(g);
        put16le(m.p + bl[1].off + 8, (uint16_t)lts[k]);
        emit(m.p, m.len, "idblt-%s-%zu.pcapng", tag, k);
        free(m.p);
    }
    const uint32_t snaps[] = {0, 1, 20, 0x7fffffff, 0xffffffff};
    for (size_t k = 0; k < sizeof snaps / sizeof snaps[0]; k++) {
        struct buf m = clone(g);
        put32le(m.p + bl[1].off + 12, snaps[k]);
        emit(m.p, m.len, "idbsnap-%s-%zu.pcapng", tag, k);
        free(m.p);
    }
    /* blocks inserted after the IDB: zero-length, minimal, unknown type,
     * an EPB claiming to be huge, a second IDB of another link type */
    size_t at = bl[1].off + bl[1].len;
    struct {
        uint32_t type, len, body;
    } extra[] = {
        {0x00000BAD, 0, 0}, {0x00000BAD, 12, 0}, {EPB, 12, 0}, {EPB, 16, 4},
        {EPB, 0x0FFFFFF0, 16}, {EPB, 0x7FFFFFFC, 16}, {0x00000005, 12, 0},
        {IDB, 20, 8}, {0x80000001, 12, 0}, {SHB, 12, 0},
    };
    for (size_t k = 0; k < sizeof extra / sizeof extra[0]; k++) {
        size_t add = 12 + extra[k].body;
        struct buf m = {calloc(1, g->len + add), g->len + add};
        assert_non_null(m.p);
        memcpy(m.p, g->p, at);
        put32le(m.p + at, extra[k].type);
        put32le(m.p + at + 4, extra[k].len);
        if (extra[k].type == IDB && extra[k].body >= 8)
            put16le(m.p + at + 8, 101); /* a second interface, RAW */
        put32le(m.p + at + 8 + extra[k].body, extra[k].len);
        memcpy(m.p + at + add, g->p + at, g->len - at);
        emit(m.p, m.len, "insert-%s-%zu.pcapng", tag, k);
        free(m.p);
    }
}

/* Really huge blocks: an EPB of 20 MiB (libpcap refuses blocks over its
 * limit) and one of 3 MiB (accepted by the block reader, caplen over the
 * snapshot length). */
static void huge_blocks(const struct buf *g, const char *tag)
{
    struct block bl[4];
    assert_int_equal(blocks_of(g, bl, 2), 2);
    size_t at = bl[1].off + bl[1].len;
    const size_t sizes[] = {3u << 20, 20u << 20};
    for (size_t k = 0; k < 2; k++) {
        size_t data = sizes[k];
        size_t blen = 32 + data;
        struct buf m = {calloc(1, g->len + blen), g->len + blen};
        assert_non_null(m.p);
        memcpy(m.p, g->p, at);
        uint8_t *b = m.p + at;
        put32le(b, EPB);
        put32le(b + 4, (uint32_t)blen);
        put32le(b + 20, (uint32_t)data);
        put32le(b + 24, (uint32_t)data);
        /* an Ethernet + IPv4 header claiming the whole thing */
        b[28 + 12] = 0x08;
        b[28 + 14] = 0x45;
        put16be(b + 28 + 16, 0xffff);
        b[28 + 23] = 17;
        put32le(b + blen - 4, (uint32_t)blen);
        memcpy(m.p + at + blen, g->p + at, g->len - at);
        emit(m.p, m.len, "huge-%s-%zu.pcapng", tag, k);
        free(m.p);
    }
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void random_mutants(const struct buf *g, const char *tag, unsigned count)
{
    for (unsigned k = 0; k < count; k++) {
        struct buf m = clone(g);
        unsigned changes = 1 + (unsigned)(next_random() % 8);
        for (unsigned c = 0; c < changes; c++) {
            size_t at = (size_t)(next_random() % m.len);
            m.p[at] = (uint8_t)next_random();
        }
        emit(m.p, m.len, "random-%s-%u.pcapng", tag, k);
        free(m.p);
    }
}

/* ---- tests ------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    if (access(WIRECHECK, X_OK) != 0)
        return 0;
    mkdir(WORK_DIR, 0755);
    /* stale mutants of an interrupted run */
    DIR *d = opendir(WORK_DIR);
    if (d) {
        struct dirent *e;
        char path[1024];
        while ((e = readdir(d)))
            if (e->d_name[0] != '.') {
                snprintf(path, sizeof path, "%s/%s", WORK_DIR, e->d_name);
                unlink(path);
            }
        closedir(d);
    }
    out_text = malloc(out_cap);
    return out_text ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(out_text);
    return 0;
}

static void require_wirecheck(void)
{
    if (access(WIRECHECK, X_OK) != 0) {
        print_message("%s not built: skipped\n", WIRECHECK);
        skip();
    }
}

static void finish(const char *family, long long t0)
{
    flush_batch();
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - t0;
    print_message("%s: %u mutants in %u batches, %lld ms; batches exiting 0/1/2/3: %u/%u/%u/%u\n",
                  family, Q.total, Q.batches, ms, Q.exit_counts[0], Q.exit_counts[1],
                  Q.exit_counts[2], Q.exit_counts[3]);
    if (Q.failures)
        fail_msg("%u hostile capture(s) made wirecheck check misbehave:\n%s", Q.failures,
                 Q.failed);
}

static long long start(void)
{
    memset(&Q, 0, sizeof Q);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_truncations(void **state)
{
    (void)state;
    require_wirecheck();
    long long t0 = start();
    for (size_t i = 0; i < NSOURCES; i++) {
        struct buf g = golden(sources[i]);
        truncations(&g, sources[i], i < 2 ? 1 : 3);
        free(g.p);
    }
    finish("truncations", t0);
}

static void test_byte_flips(void **state)
{
    (void)state;
    require_wirecheck();
    long long t0 = start();
    for (size_t i = 0; i < NSOURCES; i++) {
        struct buf g = golden(sources[i]);
        flips(&g, sources[i], i < 4 ? 4 : 2, i < 2);
        free(g.p);
    }
    finish("byte flips", t0);
}

static void test_length_lies(void **state)
{
    (void)state;
    require_wirecheck();
    long long t0 = start();
    for (size_t i = 0; i < NSOURCES; i++) {
        struct buf g = golden(sources[i]);
        block_length_lies(&g, sources[i]);
        epb_length_lies(&g, sources[i]);
        header_lies(&g, sources[i]);
        free(g.p);
    }
    finish("length and header lies", t0);
}

static void test_link_types_and_pcap_headers(void **state)
{
    (void)state;
    require_wirecheck();
    long long t0 = start();
    pcap_mutants("time-ipv4");
    pcap_mutants("udp-fragmented-ipv6");
    finish("pcap link types and headers", t0);
}

static void test_sections_and_blocks(void **state)
{
    (void)state;
    require_wirecheck();
    long long t0 = start();
    for (size_t i = 0; i < NSOURCES; i += 2) {
        struct buf g = golden(sources[i]);
        section_mutants(&g, sources[i]);
        if (i == 0)
            huge_blocks(&g, sources[i]);
        free(g.p);
    }
    finish("pcapng sections and blocks", t0);
}

static void test_random_mutants(void **state)
{
    (void)state;
    require_wirecheck();
    long long t0 = start();
    for (size_t i = 0; i < NSOURCES; i++) {
        struct buf g = golden(sources[i]);
        random_mutants(&g, sources[i], 150);
        free(g.p);
    }
    finish("random mutants", t0);
}

/* Mutants that once crashed wirecheck, kept as files. */
static void test_regressions(void **state)
{
    (void)state;
    require_wirecheck();
    long long t0 = start();
    DIR *d = opendir(DATA_DIR);
    if (!d) {
        print_message("no %s: no regression files\n", DATA_DIR);
        return;
    }
    struct dirent *e;
    unsigned n = 0;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "hostile-", 8) != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", DATA_DIR, e->d_name);
        struct buf b = read_all(path);
        emit(b.p, b.len, "regression-%s", e->d_name);
        free(b.p);
        n++;
    }
    closedir(d);
    print_message("%u regression file(s)\n", n);
    finish("regressions", t0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regressions),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_byte_flips),
        cmocka_unit_test(test_length_lies),
        cmocka_unit_test(test_link_types_and_pcap_headers),
        cmocka_unit_test(test_sections_and_blocks),
        cmocka_unit_test(test_random_mutants),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
