/** One call of the command: the operation and its parameters, each value its own argument. */
export type Invocation =
  | { operation: 'create'; instanceId: string; databaseName: string; templateDatabase: string; stagingName: string }
  | { operation: 'rename'; instanceId: string; from: string; to: string }
  | { operation: 'delete'; instanceId: string; databaseName: string };

/**
 * The arguments after the executable: the fixed ones (ODS_COMMAND_ARGS), the operation, then
 * `--flag value` pairs. Each value is one argument whatever it contains; no shell reads them.
 */
export function commandArguments(fixed: readonly string[], call: Invocation): string[] {
  const head = [...fixed, call.operation, '--instance-id', call.instanceId];
  switch (call.operation) {
    case 'create':
      return [
        ...head,
        '--database',
        call.databaseName,
        '--template',
        call.templateDatabase,
        '--staging',
        call.stagingName,
      ];
    case 'rename':
      return [...head, '--from', call.from, '--to', call.to];
    case 'delete':
      return [...head, '--database', call.databaseName];
  }
}

const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** The command line as a POSIX shell would need it typed, for people to read (it is never run through one). */
export function renderCommandLine(path: string, argv: readonly string[]): string {
  return [path, ...argv].map((a) => (PLAIN.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
