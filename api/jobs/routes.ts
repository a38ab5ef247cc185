import { Router } from 'express';
import type { DataSource } from 'typeorm';
import { InstanceEntity, JobEntity } from '../../shared/database/entities';
import { PreparedRead } from '../../shared/database/prepared-read';
import { NotFoundError } from '../../shared/errors';
import { errorDetail, requireAccess } from '../auth/middleware';
import { onlyMethods } from '../http/problems';
import { pathId, toDto } from '../http/validation';
import { isUuid } from '../http/resources';
import { ListJobsQuery } from './dto';
import { jobView } from './representation';

/** Every route here runs behind tenantScope: a request sees only the jobs of its tenant's instances. */
export function jobRoutes(dataSource: DataSource): Router {
  const router = Router();
  const jobs = dataSource.getRepository(JobEntity);
  const ofTenant = (tenant: string) =>
    jobs
      .createQueryBuilder('j')
      .where('j.instance_id IN (SELECT i.id FROM instances i WHERE i.tenant = :tenant)', { tenant });

  // Every instance's jobs, newest first: where an operator looks for trouble (`?status=failed`).
  router.get('/admin/jobs', requireAccess('read'), async (req, res) => {
    const query = toDto(ListJobsQuery, { ...req.query }, 'query string');
    const qb = ofTenant(req.tenant!);
    if (query.status) qb.andWhere('j.status = :status', { status: query.status });
    const [items, total] = await qb
      .orderBy('j.created_at', 'DESC')
      .addOrderBy('j.id', 'DESC')
      .skip(query.offset)
      .take(query.limit)
      .getManyAndCount();
    res.set('Total-Count', String(total)).json(items.map((j) => jobView(j, errorDetail(req))));
  });

  // What clients poll: SQL made once, and the tenant checked through the instance's primary key.
  const jobOfTenant = new PreparedRead(dataSource, JobEntity, 'j', ['id', 'tenant'], (qb) =>
    qb.innerJoin(InstanceEntity, 'i', 'i.id = j.instance_id AND i.tenant = :tenant').where('j.id = :id'),
  );
  router.get('/admin/jobs/:id', requireAccess('read'), async (req, res) => {
    const id = pathId(req);
    const job = isUuid(id) ? await jobOfTenant.one({ id, tenant: req.tenant! }) : null;
    if (!job) throw new NotFoundError(`No job with id ${id.slice(0, 64)}.`);
    res.json(jobView(job, errorDetail(req)));
  });
  router.all('/admin/jobs', onlyMethods('GET'));
  router.all('/admin/jobs/:id', onlyMethods('GET'));
  return router;
}
