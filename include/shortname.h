/* shortname.h - the keys behind shortened file names (a key whose encoded
 * name passes NAME_MAX), learnt from listings: bounded, hashed, thread-safe. */
#ifndef DYNAMOFS_SHORTNAME_H
#define DYNAMOFS_SHORTNAME_H

#include <jansson.h>
#include <stddef.h>

struct shortname_map;

/* Makes an empty map that keeps at most max_entries (> 0) names; past that
 * the least recently used goes (a name forgotten is learnt again by
 * listing its directory). Returns 0 and *out (free with
 * shortname_map_free), or -EINVAL / -ENOMEM. */
int shortname_map_new(size_t max_entries, struct shortname_map **out);

void shortname_map_free(struct shortname_map *m);

/* Remembers that the shortened path stands for key (copied), replacing
 * what it stood for. Returns 0 or -ENOMEM (the map is then unchanged). */
int shortname_map_put(struct shortname_map *m, const char *path,
		      const json_t *key);

/* The key path stands for (a new reference; json_decref it), or NULL. */
json_t *shortname_map_get(struct shortname_map *m, const char *path);

/* How many names the map holds now. */
size_t shortname_map_count(struct shortname_map *m);

#endif
