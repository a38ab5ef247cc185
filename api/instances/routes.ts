import { type Request, Router } from 'express';
import { ValidationError } from '../../shared/errors';
import { errorDetail, requireAccess } from '../auth/middleware';
import { onlyMethods } from '../http/problems';
import { pathId, requireJsonBody, toDto } from '../http/validation';
import { acceptBulkCreate, BULK_PATH, bulkBodyParser } from './bulk';
import type { ContextMode } from './context-mode';
import type { DatabaseNamePolicy } from './database-name-policy';
import { DeleteInstanceQuery, DryRunQuery, ListInstancesQuery, ReleaseInstanceQuery, UpdateInstanceDto } from './dto';
import { jobView } from '../jobs/representation';
import { instancePath } from '../http/resources';
import { instanceView } from './representation';
import type { InstancePlanner } from './plan';
import type { InstanceService } from './service';

/** `?dryRun=`, the only query parameter of a create or rename (others are ignored, as before it existed). */
function dryRunOf(req: Request): boolean {
  const given = req.query.dryRun === undefined ? {} : { dryRun: req.query.dryRun };
  return toDto(DryRunQuery, given, 'query string').dryRun === 'true';
}

/**
 * An adopting create names the database it takes (never derived), and the engine must be able to
 * check and mark it: 400 otherwise. The name then passes the same DatabaseNamePolicy as any
 * create, so system, reserved and template databases are refused before anything is written.
 */
function assertAdoptable(dto: { adopt?: boolean; databaseName?: string | null }): void {
  if (dto.adopt !== true) return;
  if (typeof dto.databaseName !== 'string')
    throw new ValidationError('The request body is invalid.', {
      databaseName: ['databaseName is required when adopt is true (the existing database to adopt)'],
    });
}

/** Every route here runs behind tenantScope, which sets `req.tenant`. */
export function instanceRoutes(
  service: InstanceService,
  names: DatabaseNamePolicy,
  mode: ContextMode,
  planner: InstancePlanner,
  /** Instances one bulk create may carry (BULK_CREATE_MAX). */
  bulkCreateMax: number,
): Router {
  const router = Router();
  const policy = service.deletionPolicy;
  const caller = (req: Request) => ({
    clientId: req.principal!.clientId,
    requestId: req.requestId,
    clientRequestId: req.clientRequestId,
    tenant: req.tenant!,
  });

  router.get('/admin/instances', requireAccess('read'), async (req, res) => {
    const query = toDto(ListInstancesQuery, { ...req.query }, 'query string');
    const { items, total } = await service.list(query, req.tenant!);
    res.set('Total-Count', String(total)).json(items.map((i) => instanceView(i, errorDetail(req), undefined, policy)));
  });

  router.post('/admin/instances', requireAccess('write'), requireJsonBody(), async (req, res) => {
    const dryRun = dryRunOf(req);
    if (dryRun) planner.assertAvailable();
    const dto = toDto(mode.createDto, req.body);
    mode.assertKeys(dto.odsInstanceContexts);
    assertAdoptable(dto);
    const { name, derived } = mode.databaseNameFor(dto);
    names.assertAcceptable(name, derived);
    const accepted = await service.create(Object.assign(dto, { databaseName: name }), caller(req), { dryRun });
    if (dryRun) {
      res.json(planner.view('create', accepted, errorDetail(req)));
      return;
    }
    const { instance, job } = accepted;
    res
      .status(201)
      .location(instancePath(instance.id))
      .json(instanceView(instance, errorDetail(req), job, policy));
  });

  // All or nothing: every item is checked before anything is written, and all are written in one transaction.
  router.post(BULK_PATH, requireAccess('write'), requireJsonBody(), bulkBodyParser(bulkCreateMax), async (req, res) => {
    const dryRun = dryRunOf(req);
    if (dryRun) planner.assertAvailable();
    const dtos = acceptBulkCreate(req.body, mode, names, bulkCreateMax);
    const accepted = await service.createMany(dtos, caller(req), { dryRun });
    if (dryRun) {
      res.json({ dryRun: true, instances: accepted.map((a) => planner.view('create', a, errorDetail(req))) });
      return;
    }
    res
      .status(201)
      .json({ instances: accepted.map(({ instance, job }) => instanceView(instance, errorDetail(req), job, policy)) });
  });
  router.all(BULK_PATH, onlyMethods('POST'));

  router.get('/admin/instances/:id', requireAccess('read'), async (req, res) => {
    const { instance, job } = await service.get(pathId(req), req.tenant!);
    res.json(instanceView(instance, errorDetail(req), job, policy));
  });

  router.put('/admin/instances/:id', requireAccess('write'), requireJsonBody(), async (req, res) => {
    const dryRun = dryRunOf(req);
    if (dryRun) planner.assertAvailable();
    const dto = toDto(UpdateInstanceDto, req.body);
    if (dto.instanceName === undefined && dto.databaseName === undefined) {
      throw new ValidationError('The request body is invalid.', { body: ['Give instanceName, databaseName or both.'] });
    }
    if (dto.databaseName !== undefined) names.assertAcceptable(dto.databaseName);
    const updated = await service.update(pathId(req), dto, caller(req), { dryRun });
    if (dryRun) {
      res.json(planner.view('rename', updated, errorDetail(req)));
      return;
    }
    res.json(instanceView(updated.instance, errorDetail(req), updated.job, policy));
  });

  router.delete('/admin/instances/:id', requireAccess('write'), async (req, res) => {
    const query = toDto(DeleteInstanceQuery, { ...req.query }, 'query string');
    const dryRun = query.dryRun === 'true';
    if (dryRun) planner.assertAvailable();
    const dropDatabase = query.dropDatabase === undefined ? undefined : query.dropDatabase === 'true';
    const deleted = await service.delete(pathId(req), caller(req), query.force === 'true', { dryRun, dropDatabase });
    if (dryRun) {
      // An adopted instance's DELETE (or one with dropDatabase=false) is a release: its job says which.
      const operation = deleted.job?.type === 'release' ? 'release' : 'delete';
      const createJobIds = operation === 'delete' ? await service.createJobIdsOf(deleted.instance.id) : [];
      res.json(planner.view(operation, deleted, errorDetail(req), createJobIds));
      return;
    }
    res.json(instanceView(deleted.instance, errorDetail(req), deleted.job, policy));
  });

  // The database is kept, without this instance's marker; the instance is kept as history (docs/adopt-release.md).
  router.post('/admin/instances/:id/release', requireAccess('write'), async (req, res) => {
    const query = toDto(ReleaseInstanceQuery, { ...req.query }, 'query string');
    const dryRun = query.dryRun === 'true';
    if (dryRun) planner.assertAvailable();
    const released = await service.release(pathId(req), caller(req), query.force === 'true', { dryRun });
    if (dryRun) {
      res.json(planner.view('release', released, errorDetail(req)));
      return;
    }
    res.json(instanceView(released.instance, errorDetail(req), released.job, policy));
  });
  router.all('/admin/instances/:id/release', onlyMethods('POST'));

  router.post('/admin/instances/:id/retry', requireAccess('write'), async (req, res) => {
    const { instance, job } = await service.retry(pathId(req), caller(req));
    res.json(instanceView(instance, errorDetail(req), job, policy));
  });

  // Protection changes no database: no job, answered at once (docs/protection.md).
  for (const [action, protect] of [
    ['protect', true],
    ['unprotect', false],
  ] as const) {
    router.post(`/admin/instances/:id/${action}`, requireAccess('write'), async (req, res) => {
      const { instance, job } = await service.setProtection(pathId(req), protect, caller(req));
      res.json(instanceView(instance, errorDetail(req), job, policy));
    });
    router.all(`/admin/instances/:id/${action}`, onlyMethods('POST'));
  }

  router.get('/admin/instances/:id/jobs', requireAccess('read'), async (req, res) => {
    res.json((await service.jobsOf(pathId(req), req.tenant!)).map((j) => jobView(j, errorDetail(req))));
  });

  router.all('/admin/instances', onlyMethods('GET', 'POST'));
  router.all('/admin/instances/:id', onlyMethods('GET', 'PUT', 'DELETE'));
  router.all('/admin/instances/:id/retry', onlyMethods('POST'));
  router.all('/admin/instances/:id/jobs', onlyMethods('GET'));
  return router;
}
