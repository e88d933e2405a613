// First: V8 flags apply to what is allocated after them.
import './gc-tuning';
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp } from './app';
import { InvalidConfiguration, loadEnvironment } from './config/config';
import { DataDirInUse } from './database/data-dir-lock';

async function main(): Promise<void> {
  try {
    process.loadEnvFile?.();
  } catch {
    // no .env file: the environment alone configures the service
  }
  let env;
  try {
    env = loadEnvironment(process.env);
  } catch (err) {
    if (err instanceof InvalidConfiguration) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  let app;
  try {
    app = await createApp(env);
  } catch (err) {
    if (err instanceof DataDirInUse) {
      process.stderr.write(`${err.message}\n`);
      process.exit(75); // EX_TEMPFAIL: free once the other process stops
    }
    throw err;
  }
  // SIGTERM and SIGINT run the graceful shutdown (drain, write usage, close the pool), then
  // exit 0: by default Nest re-raises the signal once done, which reads as a crash (143).
  app.enableShutdownHooks([], { useProcessExit: true });
  await app.listen({ port: env.PORT, host: env.HOST });
  new Logger('Keyhouse').log(`Keyhouse listening on http://${env.HOST}:${env.PORT} (${env.DATABASE_URL ? 'PostgreSQL' : `embedded database in ${env.DATA_DIR}`}); docs at /docs`);
}

void main();
