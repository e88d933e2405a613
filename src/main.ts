// First: V8 flags apply to what is allocated after them.
import './gc-tuning';
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp, listen } from './app';
import { configWarnings, InvalidConfiguration, loadConfig } from './config/config';
import { DataDirInUse } from './database/data-dir-lock';

/** Within the 25 s the README asks an orchestrator to give a stopping instance. */
const SHUTDOWN_LIMIT_MS = 20_000;

async function main(): Promise<void> {
  try {
    process.loadEnvFile?.();
  } catch {
    // no .env file: the environment alone configures the service
  }
  for (const warning of configWarnings(process.env)) process.stderr.write(`Warning: ${warning}\n`);
  let env;
  try {
    env = loadConfig(process.env);
  } catch (err) {
    if (err instanceof InvalidConfiguration) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  let app: Awaited<ReturnType<typeof createApp>>;
  try {
    app = await createApp(env);
  } catch (err) {
    if (err instanceof DataDirInUse) {
      process.stderr.write(`${err.message}\n`);
      process.exit(75); // EX_TEMPFAIL: free once the other process stops
    }
    throw err;
  }
  // SIGTERM and SIGINT run the graceful shutdown (drain, write usage, close the pool), then exit 0, not the
  // signal re-raised, which reads as a crash (143). A second signal while stopping,
  // as when a terminal's Ctrl-C or a process manager reaches both npm and this process, changes nothing.
  const logger = new Logger('Keyhouse');
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    const started = Date.now();
    logger.log(`${signal} received: shutting down (new calls refused, calls under way finish, usage written)`);
    // The graceful shutdown is bounded (usage writes give up after 10 s); should anything still hang on a
    // connection that does not answer, the process exits anyway, before an orchestrator's SIGKILL.
    setTimeout(() => {
      process.stderr.write(`graceful shutdown did not finish in ${SHUTDOWN_LIMIT_MS / 1000} s: exiting\n`);
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS).unref();
    app.close().then(
      () => {
        logger.log(`shutdown complete in ${Date.now() - started} ms: exiting 0`);
        process.exit(0);
      },
      (err: unknown) => {
        logger.error(`shutdown failed: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
      },
    );
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, stop);
  let listening;
  try {
    listening = await listen(app, env);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    await app.close().catch(() => undefined);
    process.exit(1);
  }
  const docs = env.DOCS_ENABLED ? `; docs at ${listening.url}/docs` : '';
  const metrics = `; metrics at ${listening.managementUrl ?? listening.url}/metrics`;
  logger.log(
    `Keyhouse listening on http://${env.HOST}:${env.PORT} (${env.DATABASE_URL ? 'PostgreSQL' : `embedded database in ${env.DATA_DIR}`})${docs}${metrics}`,
  );
}

void main();
