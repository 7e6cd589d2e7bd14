// bench/peers/bullmq/bench.js: BullMQ processing N no-op jobs at concurrency C on the given
// Redis (the same one chronoforge uses in bench/run.sh). Jobs are added first with addBulk
// (1,000 per call), then one Worker is started and timed until N jobs completed.
//   node bench.js REDIS_PORT|REDIS_SOCKET_PATH REDIS_PASSWORD N CONCURRENCY
// (an argument starting with '/' is a unix socket path: 127.0.0.1:PORT otherwise).
'use strict';
const { Queue, Worker } = require('bullmq');
const [where, password, n, conc] = [process.argv[2], process.argv[3], +process.argv[4], +process.argv[5]];
const connection = where.startsWith('/')
  ? { path: where, password, maxRetriesPerRequest: null }
  : { host: '127.0.0.1', port: +where, password, maxRetriesPerRequest: null };
(async () => {
  const queue = new Queue('cfbench', { connection });
  await queue.obliterate({ force: true });
  for (let i = 0; i < n; i += 1000)
    await queue.addBulk(Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({
      name: 'noop', data: { i: i + k }, opts: { removeOnComplete: true, removeOnFail: true } })));
  let done = 0;
  const t0 = process.hrtime.bigint();
  const worker = new Worker('cfbench', async () => {}, { connection, concurrency: conc });
  await new Promise((res) => worker.on('completed', () => { if (++done === n) res(); }));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`jobs=${n} concurrency=${conc} seconds=${s.toFixed(3)} jobs_per_s=${(n / s).toFixed(0)}`);
  await worker.close();
  await queue.close();
})().catch((e) => { console.error(e); process.exit(1); });
