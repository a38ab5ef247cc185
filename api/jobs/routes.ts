import { Router } from 'express';
import type { DataSource } from 'typeorm';
import { JobEntity } from '../../shared/database/entities';
import { NotFoundError } from '../../shared/errors';
import { errorDetail, requireAccess } from '../auth/middleware';
import { onlyMethods } from '../http/problems';
import { pathId, toDto } from '../http/validation';
import { isUuid } from '../http/resources';
import { ListJobsQuery } from './dto';
import { jobView } from './representation';

export function jobRoutes(dataSource: DataSource): Router {
  const router = Router();
  const jobs = dataSource.getRepository(JobEntity);

  // Every instance's jobs, newest first: where an operator looks for trouble (`?status=failed`).
  router.get('/admin/jobs', requireAccess('read'), async (req, res) => {
    const query = toDto(ListJobsQuery, { ...req.query }, 'query string');
    const [items, total] = await jobs.findAndCount({
      where: query.status ? { status: query.status } : {},
      order: { createdAt: 'DESC', id: 'DESC' },
      skip: query.offset,
      take: query.limit,
    });
    res.set('Total-Count', String(total)).json(items.map((j) => jobView(j, errorDetail(req))));
  });

  router.get('/admin/jobs/:id', requireAccess('read'), async (req, res) => {
    const id = pathId(req);
    const job = isUuid(id) ? await jobs.findOneBy({ id }) : null;
    if (!job) throw new NotFoundError(`No job with id ${id.slice(0, 64)}.`);
    res.json(jobView(job, errorDetail(req)));
  });
  router.all('/admin/jobs', onlyMethods('GET'));
  router.all('/admin/jobs/:id', onlyMethods('GET'));
  return router;
}
