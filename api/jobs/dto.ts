import { IsIn, IsOptional } from 'class-validator';
import { JOB_STATUSES, JobStatus } from '../../shared/instances/status';
import { PageQuery } from '../http/paging';

/** `GET /admin/jobs`: every instance's jobs, newest first. */
export class ListJobsQuery extends PageQuery {
  @IsOptional()
  @IsIn(JOB_STATUSES)
  status?: JobStatus;
}
