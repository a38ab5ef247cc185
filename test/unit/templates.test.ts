import { expect } from 'chai';
import { loadApiConfig, loadWorkerConfig } from '../../shared/config';
import { ConfigurationError, ValidationError } from '../../shared/errors';
import { isTemplateDatabase, parseTemplates } from '../../shared/templates';
import { TemplateCatalog } from '../../api/templates/catalog';
import { DatabaseNamePolicy } from '../../api/instances/database-name-policy';
import { createStrategyFor, type PostgresSettings } from '../../worker/engines/postgres/settings';
import { strategyFor, type MssqlSettings } from '../../worker/engines/mssql/settings';

const problemsOf = (env: NodeJS.ProcessEnv): string[] => {
  try {
    loadApiConfig(env);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigurationError)) throw err;
    return err.problems;
  }
};

describe('templates (ODS_TEMPLATES)', () => {
  it("defaults to Ed-Fi's minimal and populated templates, the minimal one following ODS_TEMPLATE_DATABASE", () => {
    const { templates } = loadApiConfig({ ODS_TEMPLATE_DATABASE: 'Minimal_v7' }).ods;
    expect(templates.list.map((t) => [t.name, t.database])).to.deep.equal([
      ['minimal', 'Minimal_v7'],
      ['populated', 'EdFi_Ods_Populated_Template'],
    ]);
    expect(templates.defaultName).to.equal('minimal');
  });

  it('reads a JSON list; the default template (ODS_DEFAULT_TEMPLATE) decides templateDatabase', () => {
    const c = loadWorkerConfig({
      ODS_TEMPLATES: JSON.stringify([
        { name: 'Minimal-5', database: 'EdFi_Ods_Minimal_Template_5', description: 'DS 5.0' },
        { name: 'sample', database: 'EdFi_Ods_Populated_Template', strategy: 'FILE_COPY' },
      ]),
      ODS_DEFAULT_TEMPLATE: 'sample',
    });
    expect(c.ods.templates.list).to.deep.equal([
      { name: 'minimal-5', database: 'EdFi_Ods_Minimal_Template_5', strategy: null, description: 'DS 5.0' },
      { name: 'sample', database: 'EdFi_Ods_Populated_Template', strategy: 'file_copy', description: '' },
    ]);
    expect(c.ods.templateDatabase).to.equal('EdFi_Ods_Populated_Template');
    // The template's strategy joins the engine's settings, for that template's database only.
    const settings = c.ods.engineSettings as PostgresSettings;
    expect(createStrategyFor(settings, 'edfi_ods_populated_template')).to.equal('file_copy');
    expect(createStrategyFor(settings, 'EdFi_Ods_Minimal_Template_5')).to.equal('');
  });

  it('joins a SQL Server template strategy to ODS_MSSQL_TEMPLATE_STRATEGIES, and refuses azure-copy per template', () => {
    const c = loadWorkerConfig({
      ODS_ENGINE: 'mssql',
      ODS_SERVER_URL: 'mssql://sa:secret@sql.internal:1433/master',
      ODS_TEMPLATES: JSON.stringify([
        { name: 'minimal', database: 'EdFi_Ods_Minimal_Template', strategy: 'clonedatabase' },
      ]),
    });
    expect(strategyFor(c.ods.engineSettings as MssqlSettings, 'EdFi_Ods_Minimal_Template')).to.equal('clonedatabase');
    const problems = problemsOf({
      ODS_ENGINE: 'mssql',
      ODS_TEMPLATES: JSON.stringify([{ name: 'a', database: 'A', strategy: 'azure-copy' }]),
    });
    expect(problems.join('\n')).to.match(/ODS_TEMPLATES\[0\]\.strategy must be one of backup-restore, restore-file/);
  });

  it('names every problem: not JSON, bad names, repeated names or databases, an unknown default, a foreign strategy', () => {
    expect(problemsOf({ ODS_TEMPLATES: 'minimal=EdFi' }).join('\n')).to.include('ODS_TEMPLATES must be a JSON array');
    expect(problemsOf({ ODS_TEMPLATES: '[]' }).join('\n')).to.include('ODS_TEMPLATES must be a JSON array');
    const problems = problemsOf({
      ODS_TEMPLATES: JSON.stringify([
        { name: 'Has Space', database: 'A' },
        { name: 'b', database: '' },
        { name: 'c', database: 'C', strategy: 'backup-restore' },
        { name: 'd', database: 'c' },
        { name: 'd', database: 'D' },
      ]),
      ODS_DEFAULT_TEMPLATE: 'nope',
    }).join('\n');
    expect(problems).to.include('ODS_TEMPLATES[0].name must be 1 to 40 lower-case letters');
    expect(problems).to.include('ODS_TEMPLATES[1].database must be a database name');
    expect(problems).to.include('ODS_TEMPLATES[2].strategy must be one of wal_log, file_copy');
    expect(problems).to.include('two templates have the database "c"');
    expect(problems).to.include('two templates have the name "d"');
    expect(problems).to.include('ODS_DEFAULT_TEMPLATE="nope": no such template');
  });

  it('the command engine has no strategies to choose', () => {
    const { problems } = parseTemplates(
      JSON.stringify([{ name: 'a', database: 'A', strategy: 'wal_log' }]),
      undefined,
      'X',
      [],
    );
    expect(problems).to.deep.equal(['ODS_TEMPLATES[0].strategy: this engine has no copy strategies to choose from']);
  });

  it("resolves a create's template case-insensitively, the default when left out, and 400 names the configured ones", () => {
    const catalog = new TemplateCatalog(
      parseTemplates(undefined, undefined, 'EdFi_Ods_Minimal_Template', []).templates,
    );
    expect(catalog.resolve(undefined).name).to.equal('minimal');
    expect(catalog.resolve('Populated').database).to.equal('EdFi_Ods_Populated_Template');
    let err: unknown;
    try {
      catalog.resolve('sandbox');
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ValidationError);
    expect((err as ValidationError).errors.template?.[0]).to.include('the templates are minimal, populated');
  });

  it('reserves every template database: no create or rename may target one', () => {
    const { templates } = parseTemplates(undefined, undefined, 'EdFi_Ods_Minimal_Template', []);
    const policy = new DatabaseNamePolicy('postgres', {
      adminDatabaseUrl: 'postgres://x@h/EdFi_Admin_Manager',
      templates,
      reservedNames: [],
    });
    for (const name of ['EdFi_Ods_Minimal_Template', 'edfi_ods_populated_template'])
      expect(() => policy.assertAcceptable(name), name).to.throw(ValidationError);
    expect(() => policy.assertAcceptable('EdFi_Ods_2026')).not.to.throw();
    expect(isTemplateDatabase(templates, 'EDFI_ODS_POPULATED_TEMPLATE')).to.equal(true);
  });
});
