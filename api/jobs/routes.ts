import { Router } from 'express';
import type { DataSource } from 'typeorm';
import { JobEntity } from '../../shared/database/entities';
import { NotFoundError } from '../../shared/errors';
import { errorDetail, requireAccess } from '../auth/middleware';
import { onlyMethods } from '../http/problems';
import { pathId } from '../http/validation';
import { isUuid } from '../http/resources';
import { jobView } from './representation';

export function jobRoutes(dataSource: DataSource): Router {
  const router = Router();
  router.get('/admin/jobs/:id', requireAccess('read'), async (req, res) => {
    const id = pathId(req);
    const job = isUuid(id) ? await dataSource.getRepository(JobEntity).findOneBy({ id }) : null;
    if (!job) throw new NotFoundError(`No job with id ${id.slice(0, 64)}.`);
    res.json(jobView(job, errorDetail(req)));
  });
  router.all('/admin/jobs/:id', onlyMethods('GET'));
  return router;
}
