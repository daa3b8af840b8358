/** Only the class of an unexpected error is logged: its message may carry data (a key, a query, a row). */
export function errorType(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}
