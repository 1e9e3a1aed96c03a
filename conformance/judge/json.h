/* json: the one writer of a JSON string, for `check --json` and
 * `run --format json`: every line they print parses, whatever bytes a
 * capture or a program held.
 *
 *   json_write_string(stdout, "tab\there \xff");   // "tab\there \ufffd"
 */
#ifndef WIRECHECK_JSON_H
#define WIRECHECK_JSON_H

#include <stdio.h>

/* Writes s (NULL: "") as a JSON string with its quotes: '"' and '\\'
 * escaped, \n \t \r by name, other control bytes and DEL as \u00XX, a byte
 * that does not start well-formed UTF-8 as U+FFFD; valid UTF-8 as is. */
void json_write_string(FILE *out, const char *s);

#endif
