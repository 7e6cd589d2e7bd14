// SPDX-License-Identifier: MIT
/* workflows/order.c: `OrderProcessing`: waits (wait_until) until the warehouse is open, then
 * reserves every line item in its own durable step, then ships. kwargs: items (array of
 * {sku, qty}), open_after_ms (int, 0: the warehouse opens this long after the first check). */
#include <stdio.h>

#include "chronoforge.h"
#include "workflows/examples.h"

typedef struct line_item {
    int index;
} line_item;

static cf_flow warehouse_open(cf_run *run, void *arg, bool *met)
{
    (void)arg;
    /* Each evaluation counts a check (the context is saved with the halt); the warehouse "opens"
     * once open_after_ms worth of 500 ms checks have passed. A
     * real system would ask the warehouse's API. */
    int64_t remaining = cf_ctx_get_int(run, "open_checks", 0);
    CF_TRY(cf_ctx_set_int(run, "open_checks", remaining + 1));
    *met = (remaining + 1) * 500 >= cf_kwarg_int(run, "open_after_ms", 0);
    return CF_FLOW_OK;
}

static cf_flow reserve_item(cf_run *run, void *argp)
{
    line_item *it = argp;
    char path[64], key[64];
    snprintf(path, sizeof path, "items[%d].sku", it->index);
    const char *sku = cf_kwarg_str(run, path, NULL);
    snprintf(path, sizeof path, "items[%d].qty", it->index);
    int64_t qty = cf_kwarg_int(run, path, 1);
    if (sku == NULL)
        return cf_fail(run, "Order.InvalidItem", "items[%d] has no sku", it->index);
    if (qty <= 0)
        return cf_fail(run, "Order.InvalidItem", "items[%d] (%s) has qty %lld", it->index, sku,
                       (long long)qty);
    snprintf(key, sizeof key, "reserved.%s", sku);
    return cf_ctx_set_int(run, key, qty);
}

static cf_flow ship(cf_run *run, void *arg)
{
    (void)arg;
    char label[128];
    snprintf(label, sizeof label, "label-%.100s", cf_run_key(run));
    return cf_ctx_set_str(run, "shipping_label", label);
}

static cf_flow order_processing(cf_run *run)
{
    CF_TRY(cf_wait_until(run, "warehouse_open", warehouse_open, NULL, 60 * 1000, 500, NULL));
    int64_t n = cf_kwarg_len(run, "items");
    if (n <= 0)
        return cf_fail(run, "Order.Empty", "the order has no items");
    for (int64_t i = 0; i < n; i++) {
        char name[48];
        line_item it = {.index = (int)i};
        snprintf(name, sizeof name, "reserve_item_%d", (int)i);
        CF_TRY(cf_durably_execute(run, name, reserve_item, &it, NULL));
    }
    CF_TRY(cf_durably_execute(run, "ship", ship, NULL, NULL));
    return CF_FLOW_OK;
}

int cf_examples_register_order(void)
{
    static const cf_workflow_def def = {
        .name = "OrderProcessing",
        .fn = order_processing,
        .description = "wait_until the warehouse opens, one step per line item, ship",
    };
    return cf_register(&def);
}
