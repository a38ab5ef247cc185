import { randomUUID } from 'node:crypto';
import express from 'express';

/**
 * The baseline of bench/http-throughput.ts: a bare Express 5 process with no middleware but the
 * JSON body parser on its POST route. `GET /bare/job` answers a fixed JSON document shaped and
 * sized like a job representation (api/jobs/representation.ts); `POST /bare/instances` parses a
 * JSON body and answers 201 with a document of the same kind. Listens on PORT, on loopback.
 */
const id = randomUUID();
const instanceId = randomUUID();
const job = {
  id,
  instanceId,
  type: 'create',
  status: 'queued',
  attempts: 0,
  sourceDatabaseName: 'odsim_test_template_edfi_v1',
  targetDatabaseName: 'b_0000000_bench_instance_0000',
  error: null,
  warnings: [],
  requestId: randomUUID(),
  force: false,
  sourceInstanceId: null,
  disconnectSource: false,
  adopt: false,
  createdAt: new Date().toISOString(),
  startedAt: null,
  finishedAt: null,
  _links: { self: { href: `/admin/jobs/${id}` }, instance: { href: `/admin/instances/${instanceId}` } },
};

const app = express();
app.disable('x-powered-by');
app.get('/bare/job', (_req, res) => {
  res.json(job);
});
app.post('/bare/instances', express.json(), (req, res) => {
  const body = req.body as { instanceName?: unknown; databaseName?: unknown };
  res.status(201).json({ ...job, id: randomUUID(), instanceName: body.instanceName, databaseName: body.databaseName });
});

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${JSON.stringify(server.address())}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
