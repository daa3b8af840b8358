#!/usr/bin/env node
import { PolicyError } from "../policy/load.js";
import { DataDirInUseError } from "../store/data-dir-lock.js";
import { audit, keys, retention, roles, sessions, tenants, vault } from "./admin-commands.js";
import { CliError } from "./errors.js";
import { egress } from "./egress.js";
import { rls } from "./rls.js";
import { start } from "./start.js";

const HELP = `Usage: portcullis <command> [options]

Commands:
  start      run the gateway (portcullis start --help)
  egress     run the egress proxy on its own, beside gateways on one Postgres
  tenants    create, read, suspend, export, delete and restore tenants through the admin API
  keys       issue, list, rotate, revoke API keys through the admin API
  vault      rotate, rewrap, retire a tenant's vault keys; show their status
  sessions   list gateway sessions, end one, sign a user out everywhere
  roles      show or replace the roles a user or key holds in a tenant
  audit      list, verify and export tenants' audit trails; verify an export offline
  retention  run the retention sweep now
  rls        check a Postgres schema of your own for holes in tenant isolation

Every command takes --help.`;

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = { start, egress, tenants, keys, vault, sessions, roles, audit, retention, rls };

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") return void console.log(HELP);
  const run = COMMANDS[command];
  if (run === undefined) throw new CliError(`unknown command "${command}"\n\n${HELP}`);
  await run(rest);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof CliError || error instanceof PolicyError || error instanceof DataDirInUseError) {
    console.error(`portcullis: ${error.message}`);
    process.exit(error instanceof CliError ? error.exitCode : 2);
  }
  // parseArgs reports unknown or malformed options with a code; they are usage errors too.
  if ((error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
    console.error(`portcullis: ${(error as Error).message}`);
    process.exit(2);
  }
  // The operator's own terminal, not a client: the message helps (a refused connection, a bad file).
  console.error(`portcullis: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  process.exit(1);
});
