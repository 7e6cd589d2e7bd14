// SPDX-License-Identifier: MIT
/* tests/integration/test_redis_cluster.c: the cluster router (queue/cluster.h) against a real
 * local Redis Cluster of 3 masters and 3 replicas (tests/run.sh --cluster; skipped unless
 * CF_TEST_REDIS_CLUSTER=1): every key lands on its slot's master and nowhere else; pipelines
 * spanning every master come back in order; scripts load per node and survive SCRIPT FLUSH;
 * a command crossing slots is refused before it is sent; a slot moved under the router is
 * followed through MOVED, a slot being migrated through ASK; a failover is followed; KEYS and
 * DBSIZE cover every master; the shared connection and pub/sub work through it. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/metrics.h"
#include "queue/mux.h"
#include "queue/redis_conn.h"
#include "queue/redis_slot.h"
#include "tests/support/test.h"

static const cf_redis_script script_incr2 = {
    "incr2", "redis.call('INCR', KEYS[1]) return redis.call('INCRBY', KEYS[2], ARGV[1])\n"};

typedef struct node {
    char id[64];
    int port;
    bool master;
    char slots[256];     /* "0-5460 ..." */
    char replica_of[64]; /* a replica: its master's id */
} node;

static bool cluster_or_skip(void)
{
    const char *c = getenv("CF_TEST_REDIS_CLUSTER");
    if (c == NULL || strcmp(c, "1") != 0) {
        skip(); /* runs under tests/run.sh --cluster */
        return false;
    }
    return true;
}

static cf_redis *plain_node(int port)
{
    char url[512];
    snprintf(url, sizeof url, "redis://:%s@127.0.0.1:%d/0", cf_test_env("CF_TEST_REDIS_PASSWORD"),
             port);
    cf_redis *r = NULL;
    cf_error err = {0};
    if (cf_redis_new(url, NULL, &r, &err) != CF_OK)
        fail_msg("node %d: %s", port, err.msg);
    return r;
}

/* run executes argv (NULL-terminated) and returns the reply (error replies fail the test
 * unless allow_error). */
static cf_status runv(cf_redis *r, cf_reply **out, const char *const *argv)
{
    int argc = 0;
    size_t lens[32];
    while (argv[argc]) {
        lens[argc] = strlen(argv[argc]);
        argc++;
    }
    return cf_redis_exec(r, argc, argv, lens, out);
}

static void must(cf_redis *r, const char *const *argv)
{
    cf_reply *rep = NULL;
    cf_status st = runv(r, &rep, argv);
    if (st != CF_OK)
        fail_msg("%s: %s", argv[0], cf_redis_errstr(r));
    cf_reply_free(rep);
}

/* nodes_seen_by reads CLUSTER NODES from the node at port into out (at most 16); returns the
 * count, or -1 when it does not answer. */
static int nodes_seen_by(int port, node *out)
{
    cf_redis *r = plain_node(port);
    cf_reply *rep = NULL;
    const char *argv[] = {"CLUSTER", "NODES", NULL};
    if (runv(r, &rep, argv) != CF_OK) {
        cf_redis_free(r);
        return -1;
    }
    int n = 0;
    char *save = NULL;
    for (char *line = strtok_r(rep->str, "\n", &save); line && n < 16;
         line = strtok_r(NULL, "\n", &save)) {
        char id[64], addr[128], flags[128];
        int used = 0;
        if (sscanf(line, "%63s %127s %127s %*s %*s %*s %*s %*s%n", id, addr, flags, &used) < 3)
            continue;
        node *nd = &out[n++];
        snprintf(nd->id, sizeof nd->id, "%s", id);
        nd->port = atoi(strchr(addr, ':') + 1);
        nd->master = strstr(flags, "master") != NULL && strstr(flags, "fail") == NULL;
        nd->replica_of[0] = '\0';
        if (strstr(flags, "slave"))
            sscanf(line, "%*s %*s %*s %63s", nd->replica_of);
        snprintf(nd->slots, sizeof nd->slots, "%s", used > 0 ? line + used : "");
    }
    cf_reply_free(rep);
    cf_redis_free(r);
    return n;
}

static int first_port(void)
{
    char *ports = strdup(cf_test_env("CF_TEST_REDIS_CLUSTER_PORTS"));
    int first = atoi(strtok(ports, " "));
    free(ports);
    return first;
}

/* nodes: CLUSTER NODES as the first node sees it. */
static int nodes(node *out)
{
    int n = nodes_seen_by(first_port(), out);
    assert_true(n > 0);
    return n;
}

/* owner: the master node serving slot. */
static node owner(int slot)
{
    node all[16];
    int n = nodes(all);
    for (int i = 0; i < n; i++) {
        if (!all[i].master)
            continue;
        const char *p = all[i].slots;
        while (*p) {
            char *end;
            long a = strtol(p, &end, 10);
            long b = a;
            if (end == p) /* "[...]" migration markers and the like */
                break;
            if (*end == '-')
                b = strtol(end + 1, &end, 10);
            if (slot >= a && slot <= b)
                return all[i];
            p = end;
            while (*p == ' ')
                p++;
        }
    }
    fail_msg("no master serves slot %d", slot);
    return all[0];
}

/* another_master: a master other than not_id. */
static node another_master(const char *not_id)
{
    node all[16];
    int n = nodes(all);
    for (int i = 0; i < n; i++)
        if (all[i].master && strcmp(all[i].id, not_id) != 0 && all[i].slots[0])
            return all[i];
    fail_msg("no other master");
    return all[0];
}

static cf_redis *cluster_handle(void)
{
    cf_redis_opts o;
    cf_redis_opts_default(&o);
    o.reconnect_base_ms = 20;
    o.reconnect_cap_ms = 500;
    cf_redis *r = NULL;
    cf_error err = {0};
    if (cf_redis_open(cf_test_env("CF_TEST_REDIS_URL"), &o, &r, &err) != CF_OK)
        fail_msg("open: %s", err.msg);
    return r;
}

/* key_on(prefix, i): a key with its own hash tag, so keys spread over every slot. */
static void key_on(char *buf, size_t cap, const char *prefix, int i)
{
    snprintf(buf, cap, "%s:{t%d}:k", prefix, i);
}

static void test_every_key_lives_on_its_slots_master_only(void **state)
{
    (void)state;
    if (!cluster_or_skip())
        return;
    char prefix[64];
    cf_test_prefix(prefix, sizeof prefix);
    cf_redis *r = cluster_handle();
    enum { N = 60 };
    for (int i = 0; i < N; i++) {
        char key[128], val[32];
        key_on(key, sizeof key, prefix, i);
        snprintf(val, sizeof val, "v%d", i);
        const char *set[] = {"SET", key, val, NULL};
        must(r, set);
    }
    for (int i = 0; i < N; i++) {
        char key[128], val[32];
        key_on(key, sizeof key, prefix, i);
        snprintf(val, sizeof val, "v%d", i);
        node o = owner(cf_redis_key_slot(key, strlen(key)));
        cf_redis *direct = plain_node(o.port);
        cf_reply *rep = NULL;
        const char *get[] = {"GET", key, NULL};
        assert_int_equal(runv(direct, &rep, get), CF_OK); /* its master holds it... */
        assert_string_equal(rep->str, val);
        cf_reply_free(rep);
        cf_redis_free(direct);
        assert_int_equal(runv(r, &rep, get), CF_OK); /* ...and the router reads it back */
        assert_string_equal(rep->str, val);
        cf_reply_free(rep);
    }
    cf_redis_free(r);
}

static void test_pipeline_across_masters_keeps_order(void **state)
{
    (void)state;
    if (!cluster_or_skip())
        return;
    char prefix[64];
    cf_test_prefix(prefix, sizeof prefix);
    cf_redis *r = cluster_handle();
    enum { N = 300 };
    static char keys[N][128];
    const char *argv[N][3];
    size_t lens[N][3];
    cf_redis_cmd cmds[N];
    cf_reply *reps[N];
    /* INCR on 7 counters spread over the slots, interleaved, with a TIME (keyless) and a
     * MULTI..EXEC around one of them: each reply must be its own command's. */
    for (int i = 0; i < N; i++) {
        key_on(keys[i], sizeof keys[i], prefix, i % 7);
        argv[i][0] = "INCR";
        argv[i][1] = keys[i];
        lens[i][0] = 4;
        lens[i][1] = strlen(keys[i]);
        cmds[i] = (cf_redis_cmd){NULL, 0, 2, argv[i], lens[i]};
    }
    argv[100][0] = "TIME";
    lens[100][0] = 4;
    cmds[100].argc = 1;
    argv[200][0] = "MULTI";
    lens[200][0] = 5;
    cmds[200].argc = 1;
    argv[202][0] = "EXEC";
    lens[202][0] = 4;
    cmds[202].argc = 1;
    assert_int_equal(cf_redis_pipeline(r, cmds, N, reps), CF_OK);
    int count[7] = {0};
    for (int i = 0; i < N; i++) {
        if (i == 100) {
            assert_int_equal(reps[i]->type, CF_REPLY_ARRAY);
        } else if (i == 200) {
            assert_int_equal(reps[i]->type, CF_REPLY_STATUS);
        } else if (i == 201) {
            assert_string_equal(reps[i]->str, "QUEUED");
            count[i % 7]++;
        } else if (i == 202) {
            assert_int_equal(reps[i]->type, CF_REPLY_ARRAY);
            assert_int_equal(reps[i]->elem[0].integer, count[201 % 7]);
        } else {
            assert_int_equal(reps[i]->type, CF_REPLY_INTEGER);
            assert_int_equal(reps[i]->integer, ++count[i % 7]);
        }
        cf_reply_free(reps[i]);
    }
    cf_redis_free(r);
}

static void test_scripts_load_per_node_and_survive_flush(void **state)
{
    (void)state;
    if (!cluster_or_skip())
        return;
    char prefix[64];
    cf_test_prefix(prefix, sizeof prefix);
    cf_redis *r = cluster_handle();
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 12; i++) { /* tags t0..t11 cover every master */
            char a[128], b[128];
            snprintf(a, sizeof a, "%s:{t%d}:a", prefix, i);
            snprintf(b, sizeof b, "%s:{t%d}:b", prefix, i);
            const char *argv[] = {a, b, "5"};
            size_t lens[] = {strlen(a), strlen(b), 1};
            cf_reply *rep = NULL;
            assert_int_equal(cf_redis_eval(r, &script_incr2, 2, 3, argv, lens, &rep), CF_OK);
            assert_int_equal(rep->integer, 5 * (round + 1));
            cf_reply_free(rep);
        }
        const char *flush[] = {"SCRIPT", "FLUSH", NULL}; /* on every master */
        must(r, flush);
    }
    cf_redis_free(r);
}

static void test_a_command_crossing_slots_is_refused_unsent(void **state)
{
    (void)state;
    if (!cluster_or_skip())
        return;
    cf_redis *r = cluster_handle();
    uint64_t before = cf_redis_round_trips();
    cf_reply *rep = NULL;
    const char *del[] = {"DEL", "x:{a}", "x:{b}", NULL};
    assert_int_equal(runv(r, &rep, del), CF_ERR_INVALID);
    assert_non_null(strstr(cf_redis_errstr(r), "several hash slots"));
    const char *argv[] = {"x:{a}", "x:{b}", "1"};
    size_t lens[] = {5, 5, 1};
    assert_int_equal(cf_redis_eval(r, &script_incr2, 2, 3, argv, lens, &rep), CF_ERR_INVALID);
    assert_int_equal(cf_redis_round_trips(), before);
    const char *same[] = {"DEL", "x:{a}:1", "x:{a}:2", NULL}; /* one tag: fine */
    must(r, same);
    cf_redis_free(r);
}

/* setslot runs CLUSTER SETSLOT slot how [id] on the node at port. */
static void setslot(int port, int slot, const char *how, const char *id)
{
    char s[16];
    snprintf(s, sizeof s, "%d", slot);
    cf_redis *d = plain_node(port);
    const char *argv[] = {"CLUSTER", "SETSLOT", s, how, id, NULL};
    must(d, argv);
    cf_redis_free(d);
}

/* migrate_key moves key from one node to another (MIGRATE, with the password). */
static void migrate_key(int from, int to, const char *key)
{
    char p[16];
    snprintf(p, sizeof p, "%d", to);
    cf_redis *d = plain_node(from);
    const char *argv[] = {"MIGRATE", "127.0.0.1", p,      key,
                          "0",       "5000",      "AUTH", cf_test_env("CF_TEST_REDIS_PASSWORD"),
                          NULL};
    must(d, argv);
    cf_redis_free(d);
}

/* migrate_rest moves every key still in slot on node from to node to (as reshard does: other
 * tests' keys may share the slot). */
static void migrate_rest(int from, int to, int slot)
{
    char s[16];
    snprintf(s, sizeof s, "%d", slot);
    cf_redis *d = plain_node(from);
    cf_reply *rep = NULL;
    const char *argv[] = {"CLUSTER", "GETKEYSINSLOT", s, "1000", NULL};
    assert_int_equal(runv(d, &rep, argv), CF_OK);
    for (size_t i = 0; i < rep->n; i++)
        migrate_key(from, to, rep->elem[i].str);
    cf_reply_free(rep);
    cf_redis_free(d);
}

/* assign_slot finishes moving slot to node to: SETSLOT NODE on the target first, then on every
 * other master (the order redis-cli --cluster reshard uses). */
static void assign_slot(int slot, const node *to)
{
    node all[16];
    int n = nodes(all);
    setslot(to->port, slot, "NODE", to->id);
    for (int i = 0; i < n; i++)
        if (all[i].master && strcmp(all[i].id, to->id) != 0)
            setslot(all[i].port, slot, "NODE", to->id);
}

/* cluster_ok: every node says cluster_state:ok and agrees on the masters (after a test moved
 * slots or masters, so the next test starts from a settled cluster). */
static bool cluster_ok(void *arg)
{
    (void)arg;
    node all[16];
    int n = nodes(all);
    /* every master has a replica, and every node sees the same masters and replicas */
    for (int i = 0; i < n; i++) {
        int replicas = 0;
        for (int j = 0; j < n && all[i].master; j++)
            replicas += strcmp(all[j].replica_of, all[i].id) == 0;
        if (all[i].master && replicas == 0)
            return false;
        node seen[16];
        if (nodes_seen_by(all[i].port, seen) != n)
            return false;
        for (int j = 0; j < n; j++)
            for (int k = 0; k < n; k++)
                if (strcmp(seen[k].id, all[j].id) == 0 &&
                    (seen[k].master != all[j].master ||
                     strcmp(seen[k].replica_of, all[j].replica_of) != 0))
                    return false;
    }
    for (int i = 0; i < n; i++) {
        cf_redis *d = plain_node(all[i].port);
        cf_reply *rep = NULL;
        const char *info[] = {"CLUSTER", "INFO", NULL};
        bool ok = runv(d, &rep, info) == CF_OK && strstr(rep->str, "cluster_state:ok") != NULL;
        cf_reply_free(rep);
        rep = NULL;
        const char *repl[] = {"INFO", "replication", NULL}; /* a replica is in sync */
        ok = ok && runv(d, &rep, repl) == CF_OK &&
             (all[i].master || strstr(rep->str, "master_link_status:up") != NULL);
        cf_reply_free(rep);
        cf_redis_free(d);
        if (!ok)
            return false;
    }
    return true;
}

static void test_moved_and_ask_are_followed(void **state)
{
    (void)state;
    if (!cluster_or_skip())
        return;
    char prefix[64];
    cf_test_prefix(prefix, sizeof prefix);
    cf_redis *r = cluster_handle();
    char k1[128], k2[128];
    snprintf(k1, sizeof k1, "%s:{mv}:1", prefix);
    snprintf(k2, sizeof k2, "%s:{mv}:2", prefix);
    int slot = cf_redis_key_slot(k1, strlen(k1));
    const char *set1[] = {"SET", k1, "one", NULL}, *set2[] = {"SET", k2, "two", NULL};
    must(r, set1); /* the router now knows the map */
    must(r, set2);
    assert_true(cf_test_wait_for(cluster_ok, NULL, 20000));
    node from = owner(slot), to = another_master(from.id);
    uint64_t asked = cf_metrics_g.redis_asked, moved = cf_metrics_g.redis_moved;
    /* ASK: the slot half migrated (k1 moved, k2 not yet). */
    setslot(to.port, slot, "IMPORTING", from.id);
    setslot(from.port, slot, "MIGRATING", to.id);
    migrate_key(from.port, to.port, k1);
    cf_reply *rep = NULL;
    const char *get1[] = {"GET", k1, NULL}, *get2[] = {"GET", k2, NULL};
    assert_int_equal(runv(r, &rep, get1), CF_OK);
    assert_string_equal(rep->str, "one");
    cf_reply_free(rep);
    assert_int_equal(runv(r, &rep, get2), CF_OK);
    assert_string_equal(rep->str, "two");
    cf_reply_free(rep);
    assert_int_equal(cf_metrics_g.redis_asked, asked + 1); /* k1 only */
    assert_int_equal(cf_metrics_g.redis_moved, moved);
    /* MOVED: the migration finishes while the router still maps the slot to the old master. */
    migrate_rest(from.port, to.port, slot); /* k2, and any other key of the slot */
    assign_slot(slot, &to);
    const char *pipe_argv[2][2] = {{"GET", k1}, {"GET", k2}};
    size_t pipe_lens[2][2] = {{3, strlen(k1)}, {3, strlen(k2)}};
    cf_redis_cmd cmds[2] = {{NULL, 0, 2, pipe_argv[0], pipe_lens[0]},
                            {NULL, 0, 2, pipe_argv[1], pipe_lens[1]}};
    cf_reply *reps[2];
    assert_int_equal(cf_redis_pipeline(r, cmds, 2, reps), CF_OK);
    assert_string_equal(reps[0]->str, "one");
    assert_string_equal(reps[1]->str, "two");
    cf_reply_free(reps[0]);
    cf_reply_free(reps[1]);
    assert_int_equal(cf_metrics_g.redis_moved, moved + 2); /* both went in one run */
    /* Move it back, by the same steps, so the cluster ends as it began. */
    setslot(from.port, slot, "IMPORTING", to.id);
    setslot(to.port, slot, "MIGRATING", from.id);
    migrate_rest(to.port, from.port, slot);
    assign_slot(slot, &from);
    assert_true(cf_test_wait_for(cluster_ok, NULL, 20000));
    assert_int_equal(runv(r, &rep, get2), CF_OK);
    assert_string_equal(rep->str, "two");
    cf_reply_free(rep);
    cf_redis_free(r);
}

typedef struct failover_wait {
    int promoted, demoted; /* ports */
} failover_wait;

/* swapped: each of the two nodes sees itself in its new role. */
static bool swapped(void *arg)
{
    failover_wait *w = arg;
    node all[16];
    bool up = false, down = false;
    int n = nodes_seen_by(w->promoted, all);
    for (int i = 0; i < n; i++)
        up = up || (all[i].port == w->promoted && all[i].master);
    n = nodes_seen_by(w->demoted, all);
    for (int i = 0; i < n; i++)
        down = down || (all[i].port == w->demoted && all[i].replica_of[0]);
    return up && down;
}

static void test_a_failover_is_followed(void **state)
{
    (void)state;
    if (!cluster_or_skip())
        return;
    char prefix[64], key[128];
    cf_test_prefix(prefix, sizeof prefix);
    snprintf(key, sizeof key, "%s:{fo}", prefix);
    cf_redis *r = cluster_handle();
    const char *incr[] = {"INCR", key, NULL};
    must(r, incr);
    node m = owner(cf_redis_key_slot(key, strlen(key)));
    uint64_t moved = cf_metrics_g.redis_moved, loads = cf_metrics_g.redis_slot_map_loads;
    /* Its replica takes over (CLUSTER FAILOVER, run on the replica). */
    assert_true(cf_test_wait_for(cluster_ok, NULL, 20000));
    node all[16];
    int n = nodes(all), replica = -1;
    for (int i = 0; i < n; i++)
        if (strcmp(all[i].replica_of, m.id) == 0)
            replica = all[i].port;
    assert_true(replica > 0);
    cf_reply *rep = NULL;
    cf_redis *rd = plain_node(replica);
    const char *fo[] = {"CLUSTER", "FAILOVER", NULL};
    failover_wait w = {replica, m.port};
    bool done = false;
    for (int attempt = 0; attempt < 4 && !done; attempt++) { /* a manual failover can time out */
        must(rd, fo);
        done = cf_test_wait_for(swapped, &w, 8000);
    }
    cf_redis_free(rd);
    assert_true(done);
    /* The router still maps the slot to the old master (a replica now): it follows. */
    int64_t v = 0;
    for (int tries = 0; tries < 100 && v == 0; tries++) {
        cf_status st = runv(r, &rep, incr);
        if (st == CF_OK) {
            v = rep->integer;
            cf_reply_free(rep);
        } else {
            assert_true(cf_status_is_transient(st)); /* a moment of CLUSTERDOWN, retried */
            cf_clock_sleep_ms(50, NULL);
        }
    }
    assert_int_equal(v, 2);
    assert_true(cf_metrics_g.redis_moved > moved || cf_metrics_g.redis_slot_map_loads > loads);
    assert_true(cf_test_wait_for(cluster_ok, NULL, 20000));
    cf_redis_free(r);
}

static void test_keys_and_dbsize_cover_every_master(void **state)
{
    (void)state;
    if (!cluster_or_skip())
        return;
    char prefix[64], pattern[96];
    cf_test_prefix(prefix, sizeof prefix);
    cf_redis *r = cluster_handle();
    for (int i = 0; i < 30; i++) {
        char key[128];
        key_on(key, sizeof key, prefix, i);
        const char *set[] = {"SET", key, "x", NULL};
        must(r, set);
    }
    snprintf(pattern, sizeof pattern, "%s:*", prefix);
    cf_reply *rep = NULL;
    const char *keys[] = {"KEYS", pattern, NULL};
    assert_int_equal(runv(r, &rep, keys), CF_OK);
    assert_int_equal(rep->n, 30);
    cf_reply_free(rep);
    const char *dbsize[] = {"DBSIZE", NULL};
    assert_int_equal(runv(r, &rep, dbsize), CF_OK);
    assert_true(rep->integer >= 30);
    cf_reply_free(rep);
    cf_redis_free(r);
}

static void test_shared_connection_and_pubsub_through_the_router(void **state)
{
    (void)state;
    if (!cluster_or_skip())
        return;
    char prefix[64], chan[96];
    cf_test_prefix(prefix, sizeof prefix);
    cf_mux *m = NULL;
    cf_redis *c = NULL;
    cf_error err = {0};
    assert_int_equal(cf_mux_new(cf_test_env("CF_TEST_REDIS_URL"), NULL, &m, &err), CF_OK);
    assert_int_equal(cf_mux_client(m, &c, &err), CF_OK);
    for (int i = 0; i < 20; i++) {
        char key[128];
        key_on(key, sizeof key, prefix, i);
        const char *incr[] = {"INCR", key, NULL};
        cf_reply *rep = NULL;
        assert_int_equal(runv(c, &rep, incr), CF_OK);
        assert_int_equal(rep->integer, 1);
        cf_reply_free(rep);
    }
    cf_redis *sub = cluster_handle(), *pub = cluster_handle();
    snprintf(chan, sizeof chan, "%s:{q}:wake", prefix);
    const char *chans[] = {chan};
    assert_int_equal(cf_redis_subscribe(sub, 1, chans), CF_OK);
    const char *publish[] = {"PUBLISH", chan, "42", NULL};
    must(pub, publish);
    cf_reply *msg = NULL;
    assert_int_equal(cf_redis_wait_message(sub, 5000, -1, &msg), CF_OK);
    assert_string_equal(msg->elem[2].str, "42");
    cf_reply_free(msg);
    cf_redis_free(sub);
    cf_redis_free(pub);
    cf_redis_free(c);
    cf_mux_free(m);
}

static void test_bad_password_and_unreachable_seeds(void **state)
{
    (void)state;
    if (!cluster_or_skip())
        return;
    char url[512];
    snprintf(url, sizeof url, "redis+cluster://:Wr0ngSecret@127.0.0.1:%d", first_port());
    cf_redis *r = NULL;
    cf_error err = {0};
    assert_int_equal(cf_redis_open(url, NULL, &r, &err), CF_ERR_INVALID); /* permanent */
    assert_null(strstr(err.msg, "Wr0ngSecret"));
    assert_non_null(strstr(err.msg, "WRONGPASS"));
    int dead = cf_test_free_port();
    snprintf(url, sizeof url, "redis+cluster://:x@127.0.0.1:%d,127.0.0.1:%d", dead, dead);
    cf_error err2 = {0};
    cf_status st = cf_redis_open(url, NULL, &r, &err2);
    assert_true(cf_status_is_transient(st)); /* retried with backoff by every loop */
    assert_non_null(strstr(err2.msg, "127.0.0.1"));
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_key_lives_on_its_slots_master_only),
        cmocka_unit_test(test_pipeline_across_masters_keeps_order),
        cmocka_unit_test(test_scripts_load_per_node_and_survive_flush),
        cmocka_unit_test(test_a_command_crossing_slots_is_refused_unsent),
        cmocka_unit_test(test_moved_and_ask_are_followed),
        cmocka_unit_test(test_keys_and_dbsize_cover_every_master),
        cmocka_unit_test(test_shared_connection_and_pubsub_through_the_router),
        cmocka_unit_test(test_bad_password_and_unreachable_seeds),
        cmocka_unit_test(test_a_failover_is_followed),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
