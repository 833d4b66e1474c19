/**
 * An error caused by the user's input (a file, a path, a name), not by a bug. Its message is one
 * line that names the file or value at fault; the CLI prints it without a stack trace.
 */
export class DataError extends Error {
  override readonly name = 'DataError';
  constructor(
    message: string,
    /** The file, set or value the error is about, when there is one. */
    readonly subject?: string,
  ) {
    super(message);
  }
}
