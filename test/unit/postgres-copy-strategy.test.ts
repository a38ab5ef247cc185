import { expect } from 'chai';
import {
  choosesBySize,
  CreateStrategyChooser,
  DEFAULT_FILE_COPY_ABOVE_MB,
  parsePostgresSettings,
  type PostgresSettings,
  strategyForSize,
  TEMPLATE_SIZE_TTL_MS,
} from '../../worker/engines/postgres/settings';

const MB = 1024 * 1024;
const settings = (over: Partial<PostgresSettings> = {}): PostgresSettings => ({
  createStrategy: '',
  templateStrategies: {},
  fileCopyAboveMb: 200,
  ...over,
});

describe('PostgreSQL copy strategy chosen by the template size', () => {
  it('copies a template at or above the threshold with FILE_COPY, a smaller one with WAL_LOG', () => {
    expect(strategyForSize(200, 200 * MB)).to.equal('file_copy');
    expect(strategyForSize(200, 450 * MB)).to.equal('file_copy');
    expect(strategyForSize(200, 200 * MB - 1)).to.equal('wal_log');
    expect(strategyForSize(200, 40 * MB)).to.equal('wal_log');
  });

  it('chooses by size only when no strategy is set for the template, and the rule is on', () => {
    expect(choosesBySize(settings(), 'edfi_ods_minimal_template')).to.equal(true);
    expect(choosesBySize(settings({ createStrategy: 'wal_log' }), 'edfi_ods_minimal_template')).to.equal(false);
    expect(
      choosesBySize(
        settings({ templateStrategies: { edfi_ods_populated_template: 'wal_log' } }),
        'EdFi_Ods_Populated_Template',
      ),
    ).to.equal(false);
    expect(choosesBySize(settings({ fileCopyAboveMb: null }), 'edfi_ods_minimal_template')).to.equal(false);
    expect(choosesBySize({ createStrategy: '', templateStrategies: {} }, 'edfi_ods_minimal_template')).to.equal(false);
  });

  it('reads ODS_PG_FILE_COPY_ABOVE_MB: a default when unset, off, a whole number of MB, or a problem', () => {
    expect(parsePostgresSettings({}).settings.fileCopyAboveMb).to.equal(DEFAULT_FILE_COPY_ABOVE_MB);
    expect(parsePostgresSettings({ ODS_PG_FILE_COPY_ABOVE_MB: 'off' }).settings.fileCopyAboveMb).to.equal(null);
    expect(parsePostgresSettings({ ODS_PG_FILE_COPY_ABOVE_MB: ' 300 ' }).settings.fileCopyAboveMb).to.equal(300);
    for (const bad of ['0', '-5', '1.5', 'big']) {
      const parsed = parsePostgresSettings({ ODS_PG_FILE_COPY_ABOVE_MB: bad });
      expect(parsed.problems, bad).to.have.length(1);
      expect(parsed.problems[0]).to.include('ODS_PG_FILE_COPY_ABOVE_MB');
    }
  });

  describe('the chooser a driver asks before each copy', () => {
    it('never reads the size when a strategy is set', async () => {
      const chooser = new CreateStrategyChooser(settings({ createStrategy: 'wal_log' }));
      const sizeOf = () => Promise.reject(new Error('size must not be read'));
      expect(await chooser.choose('t', sizeOf)).to.equal('wal_log');
    });

    it('reads a template size once, keeps it for a while per template, then reads it again beside a copy', async () => {
      let clock = 0;
      const chooser = new CreateStrategyChooser(settings(), () => clock);
      const reads: string[] = [];
      const sizes: Record<string, number> = { big: 450 * MB, small: 40 * MB };
      const sizeOf = (t: string) => () => {
        reads.push(t);
        return Promise.resolve(sizes[t]!);
      };
      expect(await chooser.choose('big', sizeOf('big'))).to.equal('file_copy');
      expect(await chooser.choose('BIG', sizeOf('big'))).to.equal('file_copy');
      expect(await chooser.choose('small', sizeOf('small'))).to.equal('wal_log');
      expect(reads).to.deep.equal(['big', 'small']);
      // The template was rebuilt smaller: seen once the kept size has aged out.
      sizes.big = 10 * MB;
      clock += TEMPLATE_SIZE_TTL_MS - 1;
      expect(await chooser.choose('big', sizeOf('big'))).to.equal('file_copy');
      expect(reads).to.deep.equal(['big', 'small']);
      // Aged out: this copy goes by the size it has, without waiting; the size is read again beside it.
      clock += 1;
      expect(await chooser.choose('big', sizeOf('big'))).to.equal('file_copy');
      await chooser.settled();
      expect(reads).to.deep.equal(['big', 'small', 'big']);
      expect(await chooser.choose('big', sizeOf('big'))).to.equal('wal_log');
      expect(reads).to.deep.equal(['big', 'small', 'big']);
    });

    it("leaves the server's default when the size cannot be read", async () => {
      const chooser = new CreateStrategyChooser(settings());
      expect(await chooser.choose('t', () => Promise.reject(new Error('permission denied')))).to.equal('');
    });

    it('keeps the size it has when reading it again fails, and tries again at the next copy', async () => {
      let clock = 0;
      const chooser = new CreateStrategyChooser(settings(), () => clock);
      expect(await chooser.choose('t', () => Promise.resolve(450 * MB))).to.equal('file_copy');
      clock += TEMPLATE_SIZE_TTL_MS;
      let tries = 0;
      const failing = () => (tries++, Promise.reject(new Error('connection lost')));
      expect(await chooser.choose('t', failing)).to.equal('file_copy');
      await chooser.settled();
      expect(await chooser.choose('t', failing)).to.equal('file_copy');
      await chooser.settled();
      expect(tries).to.equal(2);
    });
  });
});
