import type { EngineModule } from '../module';
import { CommandDriver } from './driver';
import * as names from './names';
import { planCommand } from './plan';
import { CommandSettings, commandUrlProblems, parseCommandSettings } from './settings';
import { verifyEngine } from './verify-engines';

/**
 * An external command (Ed-Fi's PowerShell scripts, az, aws, Terraform) does the work; the
 * verify engine (ODS_COMMAND_VERIFY_ENGINE) checks the server before and after. docs/engines/command.md
 * is the contract for script authors.
 */
export const commandEngine: EngineModule<CommandSettings> = {
  name: 'command',
  label: 'External command (your own provisioning script), checked on the server afterwards',
  names,
  serverUrlProblems: commandUrlProblems,
  parseSettings: parseCommandSettings,
  plan: planCommand,
  createDriver: (context) => {
    const { module, inspection } = verifyEngine(context.settings.verify.engine);
    return new CommandDriver({
      settings: context.settings,
      inspector: inspection.createInspector({ ...context, settings: context.settings.verify.settings }),
      names: module.names,
      log: context.log,
      onStep: context.onStep,
    });
  },
  // The verify engine's preparation (the quickstart's stand-in template, which a script may copy).
  prepare: async (context) => {
    const { module } = verifyEngine(context.settings.verify.engine);
    await module.prepare?.({ ...context, settings: context.settings.verify.settings });
  },
};
