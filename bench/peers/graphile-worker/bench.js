// bench/peers/graphile-worker/bench.js: graphile-worker processing N no-op jobs at concurrency C
// on its own Postgres database (the same server chronoforge uses in bench/run.sh), default
// settings except maxPoolSize C + 2 (it warns when the pool is smaller than C). All N are added
// first (addJobs, 1,000 per call), then one runner is started and timed from the first job's
// start to the last job's completion (its row deleted: graphile-worker completes a job after
// its job:complete event, so the end is when the jobs table is first seen empty, polled every
// 10 ms). commits = the database's pg_stat_database.xact_commit delta over the processing
// phase / N.
//   node bench.js POSTGRES_URL N CONCURRENCY     (ESM; graphile-worker 0.18 declares Node >= 22)
import { Logger, makeWorkerUtils, run } from 'graphile-worker';
import pg from 'pg';
const [url, n, conc] = [process.argv[2], +process.argv[3], +process.argv[4]];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Warnings and errors only: its default logs a line per job, which would be timed too.
const logger = new Logger(() => (level, message) => { if (level === 'error' || level === 'warning') console.error(message); });

async function xact(c) { // pg_stat_database is flushed by backends up to 1 s late
  await sleep(1200);
  const r = await c.query('SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()');
  return Number(r.rows[0].xact_commit);
}

const utils = await makeWorkerUtils({ connectionString: url, logger });
await utils.migrate();
for (let i = 0; i < n; i += 1000)
  await utils.addJobs(Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ identifier: 'noop', payload: { i: i + k } })));
await utils.release();
const c = new pg.Client({ connectionString: url });
await c.connect();
const x0 = await xact(c);
let t0 = 0n;
let done = 0;
let failed = 0;
let allComplete;
const completed = new Promise((res) => { allComplete = res; });
const runner = await run({
  connectionString: url, logger, concurrency: conc, maxPoolSize: conc + 2, noHandleSignals: true,
  taskList: { noop: async () => {} },
});
runner.events.on('job:start', () => { if (t0 === 0n) t0 = process.hrtime.bigint(); });
runner.events.on('job:error', () => { failed += 1; });
runner.events.on('job:complete', () => { if (++done === n) allComplete(); });
await completed;
for (;;) {
  const r = await c.query('SELECT count(*) AS left FROM graphile_worker._private_jobs');
  if (Number(r.rows[0].left) === 0) break;
  await sleep(10);
}
const s = Number(process.hrtime.bigint() - t0) / 1e9;
await runner.stop();
const x1 = await xact(c);
await c.end();
if (failed) throw new Error(`${failed} jobs failed`);
console.log(`jobs=${n} concurrency=${conc} seconds=${s.toFixed(3)} jobs_per_s=${(n / s).toFixed(0)} commits_per_job=${((x1 - x0) / n).toFixed(3)}`);
