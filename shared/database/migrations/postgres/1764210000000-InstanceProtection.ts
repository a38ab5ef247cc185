import { MigrationInterface, QueryRunner } from 'typeorm';

/** A protected instance cannot be deleted or renamed until it is unprotected (docs/protection.md). */
export class InstanceProtection1764210000000 implements MigrationInterface {
  name = 'InstanceProtection1764210000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE instances ADD COLUMN protected boolean NOT NULL DEFAULT false`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE instances DROP COLUMN protected`);
  }
}
