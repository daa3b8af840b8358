/** A mistake on the command line or in the environment: shown as is, with no stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = "CliError";
  }
}

export function intOption(value: string, name: string, min = 0, max = 65_535): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new CliError(`${name} must be a whole number from ${min} to ${max}`);
  return n;
}
