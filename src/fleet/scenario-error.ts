/**
 * A mistake in a fleet scenario, naming the file and the line of the value
 * at fault (0: a plan given on the command line, no line). In a file of its
 * own so that the CLI's error handling knows it without loading the YAML
 * parser at every start.
 */
export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(line > 0 ? `${file}:${line}: ${reason}` : `${file}: ${reason}`);
  }
}
