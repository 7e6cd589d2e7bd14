// SPDX-License-Identifier: MIT
/* queue/redis_slot.h: Redis Cluster's hash slots: the slot of a key (CRC16 of the key, or of its
 * {hash tag}, modulo 16384) and the one slot a command touches, from a table of where each
 * command keeps its keys. Pure functions, no I/O: the cluster router (queue/cluster.c) routes
 * with them, and the slot check (CF_REDIS_SLOT_CHECK=1) refuses a command that would cross
 * slots even on a single Redis, so the test suites prove the keyspace's one rule (SPEC §2). */
#ifndef CF_QUEUE_REDIS_SLOT_H
#define CF_QUEUE_REDIS_SLOT_H

#include <stdbool.h>
#include <stddef.h>

#include "queue/redis_conn.h"

#define CF_REDIS_SLOTS 16384

/* What cf_redis_cmd_slot returns besides a slot (0..16383). */
#define CF_SLOT_NONE  (-1) /* the command names no key (PING, TIME, MULTI, PUBLISH ...) */
#define CF_SLOT_CROSS (-2) /* its keys hash to more than one slot: Redis Cluster refuses it */

/* cf_redis_key_slot: the hash slot of key[0..len). */
int cf_redis_key_slot(const char *key, size_t len);

/* cf_redis_cmd_slot: the slot every key of cmd hashes to, CF_SLOT_NONE or CF_SLOT_CROSS. A
 * script call's keys are its first nkeys arguments; a plain command's are found by its name
 * (a command this table does not know keeps its key in argv[1], as most do). */
int cf_redis_cmd_slot(const cf_redis_cmd *cmd);

/* cf_redis_cmd_is(cmd, name): cmd is the plain command name (case-insensitive). */
bool cf_redis_cmd_is(const cf_redis_cmd *cmd, const char *name);

/* cf_redis_cmd_all_masters: a keyless command whose answer covers the whole data set (KEYS,
 * DBSIZE, FLUSHALL, FLUSHDB, SCRIPT FLUSH): a cluster runs it on every master and merges. */
bool cf_redis_cmd_all_masters(const cf_redis_cmd *cmd);

/* cf_redis_slot_check_enabled: CF_REDIS_SLOT_CHECK=1 in the environment (read once). */
bool cf_redis_slot_check_enabled(void);

#endif
