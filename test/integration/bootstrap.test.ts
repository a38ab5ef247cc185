import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { bootstrapFirstClient } from '../../api/auth/bootstrap';
import { ClientStore } from '../../api/auth/clients';
import { loadApiConfig } from '../../shared/config';
import { prepareAdminDatabase } from '../../shared/database/data-source';
import { readDeploymentId } from '../../shared/deployment/identity';
import { CapturedLog } from '../support/log-capture';
import { Stack } from '../support/stack';

interface BootstrapFile {
  client_id: string;
  client_secret: string;
  scope: string;
  deployment_id: string;
}

describe('the first-start bootstrap client file', () => {
  const deployments: Stack[] = [];
  let dataDir: string;
  before(async () => {
    dataDir = await fs.mkdtemp(path.join(tmpdir(), 'odsim-bootstrap-'));
  });
  after(async () => {
    for (const d of deployments) await d.stop();
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  /** A new deployment (its own admin database, no client yet) bootstrapped with the shared DATA_DIR. */
  async function bootstrapDeployment(log: CapturedLog): Promise<{ stack: Stack; deploymentId: string }> {
    const stack = new Stack({ env: { BOOTSTRAP_CLIENT: 'true', DATA_DIR: dataDir } });
    deployments.push(stack);
    await prepareAdminDatabase(stack.dataSource, stack.apiConfig.adminDatabase, stack.log);
    const deploymentId = await readDeploymentId(stack.dataSource);
    await bootstrapFirstClient(loadApiConfig(stack.env), stack.dataSource, log.logger, deploymentId);
    return { stack, deploymentId };
  }

  const read = async (file: string) => JSON.parse(await fs.readFile(file, 'utf8')) as BootstrapFile;
  const modeOf = async (file: string) => (await fs.stat(file)).mode & 0o777;

  it("never replaces another deployment's file: the second deployment writes its own beside it, and says where", async () => {
    const log = new CapturedLog('api');
    const first = await bootstrapDeployment(log);
    const firstFile = path.join(dataDir, 'bootstrap-client.json');
    const firstText = await fs.readFile(firstFile, 'utf8');
    expect(JSON.parse(firstText)).to.include({ deployment_id: first.deploymentId });

    const second = await bootstrapDeployment(log);
    expect(second.deploymentId).not.to.equal(first.deploymentId);
    expect(await fs.readFile(firstFile, 'utf8'), "the first deployment's file was changed").to.equal(firstText);
    const secondFile = path.join(dataDir, `bootstrap-client-${second.deploymentId}.json`);
    const secondCreds = await read(secondFile);
    expect(secondCreds.deployment_id).to.equal(second.deploymentId);
    expect(await modeOf(firstFile)).to.equal(0o600);
    expect(await modeOf(secondFile)).to.equal(0o600);
    expect(log.events('auth.bootstrap_file_exists')).to.have.length(1);
    expect(log.events('auth.bootstrap_file_exists')[0]).to.include({
      file: secondFile,
      existingFile: firstFile,
      level: 'warn',
    });

    // Each file's credentials work against their own deployment, and only there.
    const firstCreds = JSON.parse(firstText) as BootstrapFile;
    expect(
      await new ClientStore(first.stack.dataSource).authenticate(firstCreds.client_id, firstCreds.client_secret),
    ).to.deep.equal([firstCreds.scope]);
    expect(
      await new ClientStore(second.stack.dataSource).authenticate(secondCreds.client_id, secondCreds.client_secret),
    ).to.deep.equal([secondCreds.scope]);
    expect(
      await new ClientStore(second.stack.dataSource).authenticate(firstCreds.client_id, firstCreds.client_secret),
    ).to.equal(null);
    expect(JSON.stringify(log.lines)).not.to.include(firstCreds.client_secret);
    expect(JSON.stringify(log.lines)).not.to.include(secondCreds.client_secret);
  });
});
