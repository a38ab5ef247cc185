import { expect } from 'chai';
import {
  canRequest,
  hasUnfinishedWork,
  INSTANCE_STATUSES,
  failedOperation,
  GONE_STATUSES,
  InstanceStatus,
  isFinal,
  isGone,
  mayOwnNoDatabase,
  OPERATIONS,
  phasesOf,
  REMOVED_STATUS,
  sqlList,
  startableFrom,
} from '../../shared/instances/status';

const requestable = (op: 'create' | 'delete' | 'rename' | 'release') =>
  INSTANCE_STATUSES.filter((s) => canRequest(op, s));

describe('instance status rules', () => {
  describe('which operations a client may request', () => {
    it('allows delete only from Created, CreateFailed, DeleteFailed, RenameFailed and ReleaseFailed', () => {
      expect(requestable('delete')).to.have.members([
        'Created',
        'CreateFailed',
        'DeleteFailed',
        'RenameFailed',
        'ReleaseFailed',
      ]);
      expect(requestable('delete')).to.have.lengthOf(5);
    });

    it('allows release from the same statuses as delete', () => {
      expect(requestable('release')).to.have.members(requestable('delete')).and.lengthOf(5);
    });

    it('allows rename only from Created and RenameFailed', () => {
      expect(requestable('rename')).to.have.members(['Created', 'RenameFailed']);
      expect(requestable('rename')).to.have.lengthOf(2);
    });

    it('never allows create to be requested on an existing instance', () => {
      expect(requestable('create')).to.deep.equal([]);
    });

    it('refuses every operation while anything is pending or in progress, and after deletion', () => {
      const busyOrGone = INSTANCE_STATUSES.filter(
        (s) => s.startsWith('Pending') || s.endsWith('InProgress') || s === 'Deleted' || s === 'Released',
      );
      expect(busyOrGone).to.have.members([
        'PendingCreate',
        'CreateInProgress',
        'PendingDelete',
        'DeleteInProgress',
        'PendingRename',
        'RenameInProgress',
        'PendingRelease',
        'ReleaseInProgress',
        'Deleted',
        'Released',
      ]);
      for (const status of busyOrGone) {
        for (const op of OPERATIONS) {
          expect(canRequest(op, status), `${op} from ${status}`).to.equal(false);
        }
      }
    });

    it('refuses rename after a failed create or a failed delete', () => {
      expect(canRequest('rename', 'CreateFailed')).to.equal(false);
      expect(canRequest('rename', 'DeleteFailed')).to.equal(false);
    });
  });

  describe('phases of each operation', () => {
    it('moves create through PendingCreate and CreateInProgress to Created or CreateFailed', () => {
      expect(phasesOf('create')).to.include({
        pending: 'PendingCreate',
        inProgress: 'CreateInProgress',
        succeeded: 'Created',
        failed: 'CreateFailed',
      });
    });

    it('moves delete through PendingDelete and DeleteInProgress to Deleted or DeleteFailed', () => {
      expect(phasesOf('delete')).to.include({
        pending: 'PendingDelete',
        inProgress: 'DeleteInProgress',
        succeeded: 'Deleted',
        failed: 'DeleteFailed',
      });
    });

    it('moves rename through PendingRename and RenameInProgress back to Created, or to RenameFailed', () => {
      expect(phasesOf('rename')).to.include({
        pending: 'PendingRename',
        inProgress: 'RenameInProgress',
        succeeded: 'Created',
        failed: 'RenameFailed',
      });
    });

    it('moves release through PendingRelease and ReleaseInProgress to Released or ReleaseFailed, freeing every name', () => {
      expect(phasesOf('release')).to.include({
        pending: 'PendingRelease',
        inProgress: 'ReleaseInProgress',
        succeeded: 'Released',
        failed: 'ReleaseFailed',
        onSuccess: 'remove',
      });
      expect(phasesOf('release').releases).to.deep.equal({ succeeded: 'all', failed: 'none' });
    });

    it('counts Deleted and Released, and only them, as gone and final', () => {
      expect(GONE_STATUSES).to.have.members(['Deleted', 'Released']).and.lengthOf(2);
      expect(INSTANCE_STATUSES.filter(isGone)).to.have.members(['Deleted', 'Released']);
      expect(INSTANCE_STATUSES.filter(isFinal)).to.have.members(['Deleted', 'Released']);
      expect(REMOVED_STATUS).to.equal('Deleted');
    });

    it('retries a failed release as a release', () => {
      expect(failedOperation('ReleaseFailed')).to.equal('release');
    });

    it('names only known statuses in every phase', () => {
      for (const op of OPERATIONS) {
        const p = phasesOf(op);
        for (const s of [p.pending, p.inProgress, p.succeeded, p.failed, ...p.requestableFrom]) {
          expect(INSTANCE_STATUSES, `${op}: ${s}`).to.include(s);
        }
      }
    });
  });

  describe('where a worker may start an operation', () => {
    it('starts each operation from its pending status, or from in-progress on a repeated delivery', () => {
      expect(startableFrom('create')).to.have.members(['PendingCreate', 'CreateInProgress']).and.lengthOf(2);
      expect(startableFrom('delete')).to.have.members(['PendingDelete', 'DeleteInProgress']).and.lengthOf(2);
      expect(startableFrom('rename')).to.have.members(['PendingRename', 'RenameInProgress']).and.lengthOf(2);
    });

    it('never starts from a settled status', () => {
      const settled: InstanceStatus[] = ['Created', 'CreateFailed', 'Deleted', 'DeleteFailed', 'RenameFailed'];
      for (const op of OPERATIONS) {
        for (const s of settled) expect(startableFrom(op), `${op} from ${s}`).not.to.include(s);
      }
    });
  });

  describe('unfinished work', () => {
    const expected: Record<InstanceStatus, boolean> = {
      PendingCreate: true,
      CreateInProgress: true,
      Created: false,
      CreateFailed: false,
      PendingDelete: true,
      DeleteInProgress: true,
      Deleted: false,
      DeleteFailed: false,
      PendingRename: true,
      RenameInProgress: true,
      RenameFailed: false,
      PendingRelease: true,
      ReleaseInProgress: true,
      Released: false,
      ReleaseFailed: false,
    };

    it('covers every status in this specification', () => {
      expect(Object.keys(expected)).to.have.members([...INSTANCE_STATUSES]);
    });

    for (const [status, unfinished] of Object.entries(expected)) {
      it(`reports ${unfinished ? 'unfinished work' : 'no unfinished work'} for ${status}`, () => {
        expect(hasUnfinishedWork(status as InstanceStatus)).to.equal(unfinished);
      });
    }
  });
});

describe('what each operation changes', () => {
  it('has two final statuses, Deleted and Released, the ones a successful delete or release removes the instance to', () => {
    expect(INSTANCE_STATUSES.filter(isFinal)).to.deep.equal(['Deleted', 'Released']);
    expect(REMOVED_STATUS).to.equal('Deleted');
    expect(phasesOf('delete').onSuccess).to.equal('remove');
    expect(phasesOf('release').onSuccess).to.equal('remove');
  });

  it('gives a renamed instance its new name, and frees the old name on success or the new one on failure', () => {
    expect(phasesOf('rename').onSuccess).to.equal('take-target-name');
    expect(phasesOf('rename').releases).to.deep.equal({ succeeded: 'source', failed: 'target' });
  });

  it("keeps a failed create's name until the instance is deleted, and frees every name on delete", () => {
    expect(phasesOf('create').releases).to.deep.equal({ succeeded: 'none', failed: 'none' });
    expect(phasesOf('delete').releases).to.deep.equal({ succeeded: 'all', failed: 'none' });
  });

  it('retries, from each failed status, the operation that failed there, and nothing from the others', () => {
    expect(INSTANCE_STATUSES.map((s) => [s, failedOperation(s)]).filter(([, op]) => op)).to.deep.equal([
      ['CreateFailed', 'create'],
      ['DeleteFailed', 'delete'],
      ['RenameFailed', 'rename'],
      ['ReleaseFailed', 'release'],
    ]);
  });

  it('treats only a failed create as possibly owning no database', () => {
    expect(INSTANCE_STATUSES.filter(mayOwnNoDatabase)).to.deep.equal(['CreateFailed']);
    expect(mayOwnNoDatabase(null)).to.equal(false);
  });

  it('quotes status lists for SQL', () => {
    expect(sqlList(['queued', 'running'])).to.equal("'queued', 'running'");
    expect(sqlList(["it's"])).to.equal("'it''s'");
  });
});
