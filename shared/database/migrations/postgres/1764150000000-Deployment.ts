import { randomUUID } from 'node:crypto';
import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One row naming this deployment. Everything a deployment puts outside its admin database
 * (queue names in a shared Redis, tokens signed with a shared key) carries this id, so two
 * deployments never act on each other's jobs or accept each other's tokens.
 */
export class Deployment1764150000000 implements MigrationInterface {
  name = 'Deployment1764150000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE deployment (
        id uuid PRIMARY KEY,
        singleton boolean NOT NULL DEFAULT true CONSTRAINT ck_deployment_singleton CHECK (singleton),
        created_at timestamptz NOT NULL,
        CONSTRAINT uq_deployment_singleton UNIQUE (singleton)
      )`);
    // Generated here rather than by the server: gen_random_uuid() needs PostgreSQL 13 or pgcrypto.
    await q.query(`INSERT INTO deployment (id, created_at) VALUES ($1, now())`, [randomUUID()]);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE deployment`);
  }
}
