import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A change log of instances and jobs, written by triggers in the same transaction as each
 * change, whoever makes it (an API replica, a worker, an operator's SQL), and announced with
 * NOTIFY: every API replica streams the same events, and a client that reconnects resumes from
 * the last id it saw (Last-Event-ID).
 */
export class Events1764180000000 implements MigrationInterface {
  name = 'Events1764180000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE events (
        id bigserial PRIMARY KEY,
        occurred_at timestamptz NOT NULL DEFAULT now(),
        kind varchar(16) NOT NULL,
        instance_id uuid NOT NULL,
        job_id uuid,
        status varchar(32) NOT NULL
      )`);
    await q.query(`CREATE INDEX ix_events_occurred_at ON events (occurred_at)`);
    await q.query(`
      CREATE FUNCTION odsim_record_event() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        event_id bigint;
      BEGIN
        IF TG_TABLE_NAME = 'instances' THEN
          IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status
             AND NEW.instance_name IS NOT DISTINCT FROM OLD.instance_name
             AND NEW.database_name IS NOT DISTINCT FROM OLD.database_name THEN
            RETURN NULL;
          END IF;
          INSERT INTO events (kind, instance_id, status) VALUES ('instance', NEW.id, NEW.status) RETURNING id INTO event_id;
        ELSE
          IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status AND NEW.attempts IS NOT DISTINCT FROM OLD.attempts THEN
            RETURN NULL;
          END IF;
          INSERT INTO events (kind, instance_id, job_id, status) VALUES ('job', NEW.instance_id, NEW.id, NEW.status)
            RETURNING id INTO event_id;
        END IF;
        PERFORM pg_notify('odsim_events', event_id::text);
        RETURN NULL;
      END $$`);
    // EXECUTE PROCEDURE (not FUNCTION) still works on every PostgreSQL from 11 on.
    await q.query(
      `CREATE TRIGGER tr_instances_events AFTER INSERT OR UPDATE ON instances FOR EACH ROW EXECUTE PROCEDURE odsim_record_event()`,
    );
    await q.query(
      `CREATE TRIGGER tr_jobs_events AFTER INSERT OR UPDATE ON jobs FOR EACH ROW EXECUTE PROCEDURE odsim_record_event()`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER tr_jobs_events ON jobs`);
    await q.query(`DROP TRIGGER tr_instances_events ON instances`);
    await q.query(`DROP FUNCTION odsim_record_event()`);
    await q.query(`DROP TABLE events`);
  }
}
