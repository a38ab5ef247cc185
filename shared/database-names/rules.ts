export interface NameRules {
  /** Problems with `name` as an ODS database name on this engine; empty when it is acceptable. */
  validate(name: string, reserved: ReadonlySet<string>): string[];
  /** The identifier quoted for use in a statement; throws on a name that `validate` would refuse. */
  quote(name: string): string;
  /** Names of the engine's own databases, never to be taken by an instance. */
  readonly systemDatabases: readonly string[];
  readonly maxLength: number;
}
