import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import type { ApiConfig } from '../../shared/config';
import { ADVISORY_LOCKS, withAdvisoryLock } from '../../shared/database/advisory-locks';
import type { Logger } from '../../shared/logger';
import { ClientStore } from './clients';
import { SCOPES } from './scopes';

/** Writes `content` to a file only its owner can read, inside a folder only its owner can enter. */
async function writePrivateFile(file: string, content: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await fs.writeFile(file, content, { mode: 0o600, flag: 'wx' });
}

/**
 * The token signing key: TOKEN_SIGNING_KEY when set (required in production); otherwise a
 * random key generated once into DATA_DIR, so a local try-out needs no secret in the repo
 * and several API processes on one machine agree on it.
 */
export async function resolveSigningKey(config: ApiConfig, log: Logger): Promise<string> {
  if (config.tokens.signingKey) return config.tokens.signingKey;
  const file = path.resolve(config.dataDir, 'token-signing-key');
  try {
    await writePrivateFile(file, randomBytes(48).toString('base64url'));
    log.warn('TOKEN_SIGNING_KEY is not set; generated a signing key for local use', {
      event: 'auth.signing_key_generated',
      file,
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return (await fs.readFile(file, 'utf8')).trim();
}

/**
 * On first start (no API client exists) creates one with full access and writes its
 * credentials to a file readable only by the owner. The path is logged; the secret never is.
 * An existing file is never replaced or removed: it may hold another deployment's only
 * credentials (two deployments given one DATA_DIR). This deployment's then goes beside it,
 * named after the deployment id.
 */
export async function bootstrapFirstClient(
  config: ApiConfig,
  dataSource: DataSource,
  log: Logger,
  deploymentId: string,
): Promise<void> {
  if (!config.bootstrapClient) return;
  const clients = new ClientStore(dataSource);
  await withAdvisoryLock(dataSource, ADVISORY_LOCKS.bootstrapClient, async () => {
    if ((await clients.count()) > 0) return;
    const created = await clients.create('bootstrap', SCOPES.fullAccess);
    const content =
      JSON.stringify(
        {
          client_id: created.client_id,
          client_secret: created.client_secret,
          scope: created.scope,
          deployment_id: deploymentId,
        },
        null,
        2,
      ) + '\n';
    let file = path.resolve(config.dataDir, 'bootstrap-client.json');
    try {
      try {
        await writePrivateFile(file, content);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const taken = file;
        file = path.resolve(config.dataDir, `bootstrap-client-${deploymentId}.json`);
        await writePrivateFile(file, content);
        log.warn(
          'a bootstrap client file from another deployment (or an earlier admin database) is in DATA_DIR; left it alone and wrote this one beside it',
          {
            event: 'auth.bootstrap_file_exists',
            existingFile: taken,
            file,
            deploymentId,
          },
        );
      }
    } catch (err) {
      await clients.disable(created.client_id);
      throw err;
    }
    log.info('created the first API client; its credentials are in the file (owner-only)', {
      event: 'auth.bootstrap_client',
      clientId: created.client_id,
      file,
      deploymentId,
    });
  });
}
