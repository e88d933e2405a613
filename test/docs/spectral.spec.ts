import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { OPENAPI_FILE } from '../support/openapi-validation';

/**
 * Lints the committed openapi/openapi.json with the committed .spectral.yaml (Spectral's
 * OpenAPI rules and the OWASP API Security ruleset, with the rules that do not fit turned
 * off, each with its reason), through Spectral's own command line as an operator runs it.
 * Any error fails; warnings are printed.
 */
const ROOT = join(__dirname, '..', '..');
const SPECTRAL = join(ROOT, 'node_modules', '.bin', 'spectral');

interface Finding {
  code: string;
  path: string[];
  message: string;
  /** 0 an error, 1 a warning, 2 information, 3 a hint. */
  severity: number;
}

/** Spectral exits 1 when it finds an error; its findings are on stdout either way. */
async function lint(file: string): Promise<Finding[]> {
  const args = ['lint', file, '--ruleset', join(ROOT, '.spectral.yaml'), '--format', 'json', '--quiet'];
  const { stdout } = await promisify(execFile)(SPECTRAL, args, { cwd: ROOT, maxBuffer: 64 << 20 }).catch(
    (err: { stdout?: string; code?: number }) => {
      if (err.code === 1 && err.stdout) return { stdout: err.stdout };
      throw err;
    },
  );
  return JSON.parse(stdout) as Finding[];
}

const format = (d: Finding) => `${d.code} at ${d.path.join('.')}: ${d.message}`;

describe('the OpenAPI document under Spectral and the OWASP ruleset', () => {
  const text = readFileSync(OPENAPI_FILE, 'utf8');

  it('should have no error', async () => {
    const findings = await lint(OPENAPI_FILE);
    const errors = findings.filter((d) => d.severity === 0);
    const warnings = findings.filter((d) => d.severity === 1);
    if (warnings.length)
      process.stdout.write(`Spectral: ${warnings.length} warnings\n${warnings.map(format).join('\n')}\n`);
    expect(errors.map(format)).toEqual([]);
  }, 60_000);

  it('should report what the rules exist for: an unbounded string, a bearer JWT, a 429 that says nothing', async () => {
    // A copy elsewhere: the ruleset's overrides name the committed file, so they do not apply to it.
    const broken = JSON.parse(text);
    broken.components.schemas.KeyResponse.properties.name = { type: 'string' };
    broken.components.securitySchemes.bearer.bearerFormat = 'JWT';
    delete broken.paths['/v1/authorize'].get.responses['429'].headers['Retry-After'];
    delete broken.paths['/v1/authorize'].get.responses['204'].headers['X-RateLimit-Limit'];
    const dir = mkdtempSync(join(tmpdir(), 'keyhouse-spectral-'));
    let codes: string[];
    try {
      writeFileSync(join(dir, 'openapi.json'), JSON.stringify(broken, null, 2));
      codes = (await lint(join(dir, 'openapi.json')))
        .filter((d) => d.severity === 0)
        .map((d) => `${d.code} ${d.path.join('.')}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(codes).toEqual(
      expect.arrayContaining([
        'owasp:api4:2023-string-limit components.schemas.KeyResponse.properties.name',
        'owasp:api2:2023-jwt-best-practices components.securitySchemes.bearer.description',
        'keyhouse-429-retry-after paths./v1/authorize.get.responses.429.headers',
        'keyhouse-authorize-rate-limit-headers paths./v1/authorize.get.responses.204.headers',
      ]),
    );
  }, 60_000);
});
