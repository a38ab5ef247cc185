import { type Request, Router } from 'express';
import { ValidationError } from '../../shared/errors';
import { errorDetail, requireAccess } from '../auth/middleware';
import { onlyMethods } from '../http/problems';
import { pathId, requireJsonBody, toDto } from '../http/validation';
import { acceptBulkCreate, acceptCreateItem, BULK_PATH, bulkBodyParser } from './bulk';
import type { ContextMode } from './context-mode';
import type { DatabaseNamePolicy } from './database-name-policy';
import { DeleteInstanceQuery, DryRunQuery, ListInstancesQuery, ReleaseInstanceQuery, UpdateInstanceDto } from './dto';
import { jobView } from '../jobs/representation';
import { instancePath } from '../http/resources';
import { instanceView } from './representation';
import type { InstancePlanner } from './plan';
import { acceptRollover, assertWithinCap, planRollover, ROLLOVER_PATH } from './rollover';
import type { InstanceService } from './service';

/** `?dryRun=`, the only query parameter of a create or rename (others are ignored, as before it existed). */
function dryRunOf(req: Request): boolean {
  const given = req.query.dryRun === undefined ? {} : { dryRun: req.query.dryRun };
  return toDto(DryRunQuery, given, 'query string').dryRun === 'true';
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
    const { items, total, next, inventory } = await service.list(query, req.tenant!);
    res.set('Total-Count', String(total));
    if (next) {
      // The same list from the next page on: the query as sent, with the cursor in place of any offset.
      const url = new URL(req.originalUrl, 'http://localhost');
      url.searchParams.delete('offset');
      url.searchParams.set('after', next.toString());
      res.set('Next-Cursor', next.toString()).set('Link', `<${url.pathname}${url.search}>; rel="next"`);
    }
    res.json(items.map((i) => instanceView(i, errorDetail(req), undefined, policy, inventory.get(i.id))));
  });

  router.post('/admin/instances', requireAccess('write'), requireJsonBody(), async (req, res) => {
    const dryRun = dryRunOf(req);
    if (dryRun) planner.assertAvailable();
    const dto = acceptCreateItem(req.body, mode, names);
    const accepted = await service.create(dto, caller(req), { dryRun });
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

  // The plan is made outside the transaction; createMany then checks every name again inside it (409 on a race).
  router.post(ROLLOVER_PATH, requireAccess('write'), requireJsonBody(), async (req, res) => {
    const dryRun = dryRunOf(req);
    const request = acceptRollover(req.body);
    const plan = await planRollover(
      request,
      await service.liveInstances(req.tenant!),
      (databaseNames) => service.claimedDatabaseNames(databaseNames),
      mode,
      names,
    );
    assertWithinCap(plan.creates.length, bulkCreateMax);
    const { fromSchoolYear, toSchoolYear } = request;
    const skipped = plan.items.length - plan.creates.length;
    const accepted = plan.creates.length
      ? await service.createMany(plan.creates, caller(req), {
          dryRun,
          batchAudit: {
            action: 'instance.rollover',
            details: { fromSchoolYear, toSchoolYear, mode: request.mode, skipped },
          },
        })
      : [];
    let next = 0;
    const items = plan.items.map((item) => {
      if (item.action === 'skip' || dryRun) return item;
      const { instance, job } = accepted[next++]!;
      return { ...item, instance: instanceView(instance, errorDetail(req), job, policy) };
    });
    res.status(!dryRun && accepted.length ? 201 : 200).json({
      dryRun,
      fromSchoolYear,
      toSchoolYear,
      mode: request.mode,
      creates: plan.creates.length,
      skips: skipped,
      items,
    });
  });
  router.all(ROLLOVER_PATH, onlyMethods('POST'));

  router.get('/admin/instances/:id', requireAccess('read'), async (req, res) => {
    const { instance, job, inventory } = await service.get(pathId(req), req.tenant!);
    res.json(instanceView(instance, errorDetail(req), job, policy, inventory));
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
