// bench/peers/dbos/bench.js: DBOS Transact processing N durable one-step workflows (one no-op
// step each) at concurrency C, started through a WorkflowQueue (workerConcurrency C,
// minPollingIntervalMs 1) on its own Postgres database (the same server chronoforge uses in
// bench/run.sh), with a system-database pool of C + 2 like graphile-worker's. All N are
// enqueued first with a DBOSClient (no bulk API: 64 enqueues in flight), then DBOS is launched
// in this process and timed from the first workflow's start to the last one's completion
// (workflow_status: first started_at_epoch_ms .. last updated_at of SUCCESS).
// commits = the database's pg_stat_database.xact_commit delta over the processing phase / N.
//   node bench.js POSTGRES_URL N CONCURRENCY     (URL of an empty database, DBOS's own)
'use strict';
const { DBOS, DBOSClient } = require('@dbos-inc/dbos-sdk');
const { Client } = require('pg');
const [url, n, conc] = [process.argv[2], +process.argv[3], +process.argv[4]];
const app = 'cfbench';
const qname = 'cfbench';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function noopStep() {}
async function noopWorkflow() {
  await DBOS.runStep(noopStep, { name: 'noop' });
}
const wf = DBOS.registerWorkflow(noopWorkflow, { name: 'noopWorkflow' });

async function xact(pg) { // pg_stat_database is flushed by backends up to 1 s late
  await sleep(1200);
  const r = await pg.query('SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()');
  return Number(r.rows[0].xact_commit);
}

(async () => {
  DBOS.setConfig({ name: app, systemDatabaseUrl: url, systemDatabasePoolSize: conc + 2, logLevel: 'warn' });
  void wf;
  // Enqueue phase: a client only (no executor yet, so nothing is dequeued).
  await DBOS.migrate(url);
  const client = await DBOSClient.create({ systemDatabaseUrl: url, applicationName: app });
  const queue = await client.registerQueue(qname, { workerConcurrency: conc, minPollingIntervalMs: 1 });
  let next = 0;
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < n) {
      next += 1;
      await client.enqueue({ queueName: qname, workflowName: 'noopWorkflow' });
    }
  }));
  await client.destroy();
  const pg = new Client({ connectionString: url });
  await pg.connect();
  const x0 = await xact(pg);
  await DBOS.launch();
  // The database is this run's alone (bench/run.sh creates a fresh one): every row is ours.
  const sql = `SELECT count(*) FILTER (WHERE status = 'SUCCESS') AS done, min(started_at_epoch_ms) AS t0,
                      max(updated_at) AS t1 FROM dbos.workflow_status`;
  let row;
  for (;;) {
    await sleep(200);
    row = (await pg.query(sql)).rows[0];
    if (Number(row.done) >= n) break;
  }
  await DBOS.shutdown();
  const x1 = await xact(pg);
  await pg.end();
  const s = (Number(row.t1) - Number(row.t0)) / 1000;
  console.log(`jobs=${n} concurrency=${conc} queue_min_polling_ms=${queue.minPollingIntervalMs} seconds=${s.toFixed(3)} ` +
    `jobs_per_s=${(n / s).toFixed(0)} commits_per_job=${((x1 - x0) / n).toFixed(3)}`);
})().catch((e) => { console.error(e); process.exit(1); });
