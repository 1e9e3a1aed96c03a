/* See check_feed.h. */
#include "check_feed.h"

#include "capfile.h"
#include "dissect.h"

/* An interface record: says what will and will not be judged (once past
 * the resume point); the first supported link type is the file's. */
static void note_interface(struct check_feed *f, const struct capfile_record *rec, int *first_type,
                           bool resumed)
{
    int lt = rec->iface->linktype;
    if (!dissect_linktype_supported(lt)) {
        if (resumed)
            fprintf(f->err, "wirecheck check: %s: section %u interface %u: unsupported link type "
                    "%d: its frames are %s, not judged\n", f->path, rec->section, rec->interface, lt,
                    f->resume_on_link_change ? "skipped" : "copied");
    } else if (*first_type < 0) {
        *first_type = lt; /* when resuming, libpcap's read already named it */
        if (f->header && !f->resume_on_link_change)
            fprintf(f->out, "%s: link type %s\n", f->path, dissect_linktype_name(lt));
    } else if (lt != *first_type && f->header && resumed) {
        fprintf(f->out, "%s: section %u interface %u: link type %s\n", f->path, rec->section,
                rec->interface, dissect_linktype_name(lt));
    }
}

int check_feed_interfaces(struct check_feed *f, struct analysis *a)
{
    char err[600];
    struct capfile_reader *r = capfile_open(f->path, err, sizeof err);
    if (!r) {
        fprintf(f->err, "wirecheck check: %s\n", err);
        return 3;
    }
    struct capfile_record rec;
    int rc;
    int first_type = -1;
    /* Until resume_after packets went by, interfaces are only remembered
     * (libpcap's read printed the file's link type); after them, with
     * resume_on_link_change, a new link type must come before a packet. */
    bool link_changed = !f->resume_on_link_change;
    f->frames = 0;
    f->fed = f->skipped = 0;
    while ((rc = capfile_next(r, &rec)) == 1) {
        bool resumed = rec.kind == CAPFILE_PACKET ? rec.frame > f->resume_after
                                                  : f->frames >= f->resume_after;
        if (rec.kind == CAPFILE_INTERFACE) {
            if (resumed && f->resume_on_link_change && first_type >= 0 &&
                rec.iface->linktype != first_type)
                link_changed = true;
            note_interface(f, &rec, &first_type, resumed);
        } else if (rec.kind == CAPFILE_PACKET) {
            if (resumed && !link_changed) {
                capfile_close(r);
                return CHECK_FEED_NOT_A_LINK_CHANGE;
            }
            f->frames = rec.frame;
            if (!resumed)
                continue;
            if (dissect_linktype_supported(rec.iface->linktype)) {
                analysis_feed(a, rec.frame, rec.ts_usec, rec.iface->linktype, rec.caplen,
                              rec.wirelen, rec.data);
                f->fed++;
            } else {
                f->skipped++;
            }
        }
    }
    if (!link_changed) { /* libpcap stopped for another reason: its message stands */
        capfile_close(r);
        return CHECK_FEED_NOT_A_LINK_CHANGE;
    }
    if (rc < 0)
        fprintf(f->err, "wirecheck check: %s\n", capfile_error(r));
    capfile_close(r);
    return rc < 0 ? 2 : 0;
}
