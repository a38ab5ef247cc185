import type { EngineModule, Inspection } from '../module';
import { postgresEngine } from '../postgres';

/**
 * The engines whose server a script's work can be checked on (ODS_COMMAND_VERIFY_ENGINE): each
 * offers an `inspection` in its module. SQL Server is one more line here once its module has one.
 */
export const VERIFY_ENGINES = {
  postgres: postgresEngine,
} as const;

export type VerifyEngineName = keyof typeof VERIFY_ENGINES;
export const VERIFY_ENGINE_NAMES = Object.keys(VERIFY_ENGINES) as VerifyEngineName[];
export const DEFAULT_VERIFY_ENGINE: VerifyEngineName = 'postgres';

export interface VerifyEngine {
  module: EngineModule<unknown>;
  inspection: Inspection<unknown>;
}

export function verifyEngine(name: VerifyEngineName): VerifyEngine {
  const module = VERIFY_ENGINES[name] as EngineModule<unknown>;
  if (!module.inspection) throw new Error(`engine ${name} cannot check a server for the external command engine`);
  return { module, inspection: module.inspection };
}
