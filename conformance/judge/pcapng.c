/* pcapng writer: see pcapng.h for the blocks and why they are hand-written. */
#include "pcapng.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum {
    BLOCK_SECTION_HEADER = 0x0A0D0D0A,
    BLOCK_INTERFACE_DESCRIPTION = 0x00000001,
    BLOCK_ENHANCED_PACKET = 0x00000006,
    BYTE_ORDER_MAGIC = 0x1A2B3C4D,

    OPT_END_OF_OPTIONS = 0,
    OPT_COMMENT = 1,
    OPT_SHB_USERAPPL = 4,
    OPT_IF_NAME = 2,

    /* An option's length field is 16 bits; keep the value plus its padding
     * representable. */
    OPTION_VALUE_MAX = 0xFFFC,
};

/* Bytes of padding that bring n up to a multiple of 4. */
static uint32_t padding_for(size_t n)
{
    return (uint32_t)((4 - (n & 3)) & 3);
}

static void put_bytes(struct pcapng_writer *w, const void *p, size_t n)
{
    if (w->failed || n == 0)
        return;
    if (fwrite(p, 1, n, w->file) != n) {
        w->failed = true;
        w->saved_errno = errno ? errno : EIO;
    }
}

static void put_u16(struct pcapng_writer *w, uint16_t v)
{
    put_bytes(w, &v, sizeof v);
}

static void put_u32(struct pcapng_writer *w, uint32_t v)
{
    put_bytes(w, &v, sizeof v);
}

static void put_padding(struct pcapng_writer *w, size_t after)
{
    static const uint8_t zeros[4];
    put_bytes(w, zeros, padding_for(after));
}

/* The value length an option of `text` gets (cut to what 16 bits allow). */
static size_t option_text_len(const char *text)
{
    size_t n = strlen(text);
    return n > OPTION_VALUE_MAX ? OPTION_VALUE_MAX : n;
}

static void put_end_of_options(struct pcapng_writer *w)
{
    put_u16(w, OPT_END_OF_OPTIONS);
    put_u16(w, 0);
}

/* Size on disk of a list of options: each header, value and padding, then
 * opt_endofopt; 0 for none. */
static uint32_t options_size(const struct pcapng_option *o, size_t n)
{
    uint32_t size = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = o[i].len > OPTION_VALUE_MAX ? OPTION_VALUE_MAX : o[i].len;
        size += (uint32_t)(4 + len + padding_for(len));
    }
    return n ? size + 4 : 0;
}

static void put_options(struct pcapng_writer *w, const struct pcapng_option *o, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = o[i].len > OPTION_VALUE_MAX ? OPTION_VALUE_MAX : o[i].len;
        put_u16(w, o[i].code);
        put_u16(w, (uint16_t)len);
        put_bytes(w, o[i].value, len);
        put_padding(w, len);
    }
    if (n)
        put_end_of_options(w);
}

void pcapng_writer_init(struct pcapng_writer *w, FILE *file)
{
    memset(w, 0, sizeof *w);
    w->file = file;
}

bool pcapng_write_section(struct pcapng_writer *w, const struct pcapng_option *options,
                          size_t noptions)
{
    uint32_t total = 4 + 4 + 4 + 2 + 2 + 8 + options_size(options, noptions) + 4;
    put_u32(w, BLOCK_SECTION_HEADER);
    put_u32(w, total);
    put_u32(w, BYTE_ORDER_MAGIC);
    put_u16(w, 1);
    put_u16(w, 0);
    uint64_t unknown_length = UINT64_MAX;
    put_bytes(w, &unknown_length, sizeof unknown_length);
    put_options(w, options, noptions);
    put_u32(w, total);
    w->interfaces = 0;
    return !w->failed;
}

int pcapng_add_interface_options(struct pcapng_writer *w, uint16_t linktype, uint32_t snaplen,
                                 const struct pcapng_option *options, size_t noptions)
{
    uint32_t total = 4 + 4 + 2 + 2 + 4 + options_size(options, noptions) + 4;
    put_u32(w, BLOCK_INTERFACE_DESCRIPTION);
    put_u32(w, total);
    put_u16(w, linktype);
    put_u16(w, 0); /* reserved */
    put_u32(w, snaplen);
    put_options(w, options, noptions);
    put_u32(w, total);
    if (w->failed)
        return -1;
    return (int)w->interfaces++;
}

bool pcapng_write_packet_options(struct pcapng_writer *w, uint32_t interface_id,
                                 uint64_t ts_ticks, const void *data, uint32_t caplen,
                                 uint32_t wirelen, const struct pcapng_option *options,
                                 size_t noptions)
{
    uint32_t total = 4 + 4 + 4 + 4 + 4 + 4 + 4 + caplen + padding_for(caplen) +
                     options_size(options, noptions) + 4;
    put_u32(w, BLOCK_ENHANCED_PACKET);
    put_u32(w, total);
    put_u32(w, interface_id);
    put_u32(w, (uint32_t)(ts_ticks >> 32));
    put_u32(w, (uint32_t)ts_ticks);
    put_u32(w, caplen);
    put_u32(w, wirelen);
    put_bytes(w, data, caplen);
    put_padding(w, caplen);
    put_options(w, options, noptions);
    put_u32(w, total);
    return !w->failed;
}

bool pcapng_writer_start(struct pcapng_writer *w, FILE *file, const char *application)
{
    pcapng_writer_init(w, file);
    if (!application)
        return pcapng_write_section(w, NULL, 0);
    struct pcapng_option userappl = {OPT_SHB_USERAPPL, (uint16_t)option_text_len(application),
                                     application};
    return pcapng_write_section(w, &userappl, 1);
}

bool pcapng_writer_open(struct pcapng_writer *w, const char *path,
                        const char *application, char *err, size_t errlen)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err, errlen, "fopen %s for writing: %s", path, strerror(errno));
        memset(w, 0, sizeof *w);
        w->failed = true;
        return false;
    }
    bool ok = pcapng_writer_start(w, f, application);
    w->owns_file = true;
    if (!ok) {
        snprintf(err, errlen, "write pcapng section header to %s: %s", path,
                 strerror(w->saved_errno));
        fclose(f);
        w->file = NULL;
        return false;
    }
    return true;
}

int pcapng_add_interface(struct pcapng_writer *w, uint16_t linktype, uint32_t snaplen,
                         const char *name)
{
    if (!name)
        return pcapng_add_interface_options(w, linktype, snaplen, NULL, 0);
    struct pcapng_option if_name = {OPT_IF_NAME, (uint16_t)option_text_len(name), name};
    return pcapng_add_interface_options(w, linktype, snaplen, &if_name, 1);
}

bool pcapng_write_packet(struct pcapng_writer *w, uint32_t interface_id, int64_t ts_usec,
                         const void *data, uint32_t caplen, uint32_t wirelen,
                         const char *const *comments, size_t ncomments)
{
    /* One opt_comment per comment; the usual few on the stack. */
    struct pcapng_option few[32] = {{0}};
    struct pcapng_option *opts = ncomments <= 32 ? few : malloc(ncomments * sizeof *opts);
    if (!opts) {
        w->failed = true;
        w->saved_errno = ENOMEM;
        return false;
    }
    size_t n = 0;
    for (size_t i = 0; i < ncomments; i++)
        if (comments[i])
            opts[n++] = (struct pcapng_option){OPT_COMMENT, (uint16_t)option_text_len(comments[i]),
                                               comments[i]};
    /* Microseconds are the ticks of an interface with the default if_tsresol. */
    bool ok = pcapng_write_packet_options(w, interface_id, (uint64_t)ts_usec, data, caplen,
                                          wirelen, opts, n);
    if (opts != few)
        free(opts);
    return ok;
}

bool pcapng_writer_close(struct pcapng_writer *w, char *err, size_t errlen)
{
    if (!w->file)
        return false;
    if (!w->failed && fflush(w->file) != 0) {
        w->failed = true;
        w->saved_errno = errno;
    }
    if (w->owns_file && fclose(w->file) != 0 && !w->failed) {
        w->failed = true;
        w->saved_errno = errno;
    }
    w->file = NULL;
    if (w->failed)
        snprintf(err, errlen, "write pcapng: %s", strerror(w->saved_errno));
    return !w->failed;
}
