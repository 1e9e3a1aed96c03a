#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool atomic_file_create(struct atomic_file *af, const char *path, char *err, size_t errlen)
{
    memset(af, 0, sizeof *af);
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = slash ? slash + 1 : path;
    if (*base == '\0' || strlen(path) >= sizeof af->path ||
        (size_t)snprintf(af->temp, sizeof af->temp, "%.*s.%s.XXXXXX", (int)dirlen, path, base) >=
            sizeof af->temp) {
        snprintf(err, errlen, "create %s: %s", path, *base ? strerror(ENAMETOOLONG) : "not a file name");
        return false;
    }
    snprintf(af->path, sizeof af->path, "%s", path);
    int fd = mkostemp(af->temp, O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "create %s: %s", path, strerror(errno));
        return false;
    }
    /* Readable like any capture or report (mkostemp makes it 0600). */
    if (fchmod(fd, 0644) != 0 || !(af->file = fdopen(fd, "wb"))) {
        snprintf(err, errlen, "create %s: %s", path, strerror(errno));
        close(fd);
        unlink(af->temp);
        return false;
    }
    return true;
}

bool atomic_file_commit(struct atomic_file *af, char *err, size_t errlen)
{
    errno = 0;
    bool failed = fflush(af->file) != 0 || ferror(af->file);
    int e = errno;
    if (fclose(af->file) != 0 && !failed) {
        failed = true;
        e = errno;
    }
    af->file = NULL;
    if (!failed && rename(af->temp, af->path) != 0) {
        failed = true;
        e = errno;
    }
    if (failed) {
        snprintf(err, errlen, "write %s: %s", af->path, strerror(e ? e : EIO));
        unlink(af->temp);
        return false;
    }
    return true;
}

void atomic_file_discard(struct atomic_file *af)
{
    if (af->file) {
        fclose(af->file);
        af->file = NULL;
    }
    unlink(af->temp);
}
