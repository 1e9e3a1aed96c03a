/* atomic_file: an output file that appears whole or not at all, and never
 * through a link someone planted.
 *
 * The file is written as a fresh temporary in the target's own directory
 * (mkostemp: O_CREAT|O_EXCL, mode 0600 then 0644, so nothing planted there
 * can be opened instead) and renamed over the target only once every write,
 * the flush and the close succeeded. rename() replaces a symlink at the
 * target itself: whatever it pointed to is never written. A failure leaves
 * the old target (if any) as it was and no temporary behind.
 *
 *   struct atomic_file af;
 *   if (!atomic_file_create(&af, "out/time-ipv4.pcapng", err, sizeof err)) ... ;
 *   fwrite(..., af.file);
 *   if (!atomic_file_commit(&af, err, sizeof err)) ...;   // err: "write out/...: No space left on device"
 */
#ifndef WIRECHECK_ATOMIC_FILE_H
#define WIRECHECK_ATOMIC_FILE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct atomic_file {
    FILE *file;
    char path[PATH_MAX];
    char temp[PATH_MAX];
};

/* False with "create PATH: reason" in err (nothing created). */
bool atomic_file_create(struct atomic_file *af, const char *path, char *err, size_t errlen);

/* Flushes, checks, closes and renames into place. False with
 * "write PATH: reason" in err, and the temporary removed. */
bool atomic_file_commit(struct atomic_file *af, char *err, size_t errlen);

/* Gives up: closes and removes the temporary. */
void atomic_file_discard(struct atomic_file *af);

#endif
