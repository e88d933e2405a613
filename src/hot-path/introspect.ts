import { Injectable } from '@nestjs/common';
import { presentedKey } from '../auth/actor';
import { AuthFailureThrottle } from '../auth/auth-failure-throttle';
import { DeniedAttempts } from '../audit/denied-attempts';
import { parseFormBody, parseJsonBody } from '../common/body-parsers';
import { Forbidden, TooManyFailedAttempts, Unauthenticated, UnsupportedMediaType } from '../common/errors';
import type { KeyRecord } from '../credentials/key-record';
import { KeyVerifier, type Verdict } from '../credentials/key-verifier';
import { coversAll } from '../credentials/scope-match';
import type { Exchange } from './exchange';
import { introspectBody, requirementsOf } from './introspect-body';
import { introspectionJson } from './introspection-answer';
import { type Decision, KeyPipeline } from './key-pipeline';
import { bodyKind, hasBody, readBody, type BodyKind } from './request-body';

export const INTROSPECT_PATH = '/v1/introspect';
export const INTROSPECT_SCOPE = 'admin:introspect';
const INTROSPECT_REQUIRED = [INTROSPECT_SCOPE];

const MEDIA_TYPE_REFUSED = new UnsupportedMediaType(
  'Send the body as application/json (or application/x-www-form-urlencoded where documented).',
);

/**
 * POST /v1/introspect (RFC 7662): in order, the body is read and parsed (a 413, 415 or 400
 * for one that cannot be), the caller's own key is checked as the admin guard checks one
 * (a 401, counted by the failure throttle, or a 403 without `admin:introspect`, recorded as
 * a denied attempt), then the body is validated (a 400 only a caller learns), then the
 * key asked about goes through the KeyPipeline and its decision is answered as JSON.
 */
@Injectable()
export class Introspection {
  private bodyLimit = 0;

  constructor(
    private readonly verifier: KeyVerifier,
    private readonly pipeline: KeyPipeline,
    private readonly failures: AuthFailureThrottle,
    private readonly denied: DeniedAttempts,
  ) {}

  /** Set by HotPathServer from the configuration. */
  limitBodiesTo(bytes: number): void {
    this.bodyLimit = bytes;
  }

  answer(call: Exchange): void {
    const type = call.req.headers['content-type'];
    if (type === undefined) {
      // As Fastify: no content type and no body is a call without a body (a 400 from validation); with one, a 415.
      if (hasBody(call.req)) return call.problem(MEDIA_TYPE_REFUSED);
      return this.authenticated(call, undefined);
    }
    const kind = bodyKind(type);
    if (kind === null) return call.problem(MEDIA_TYPE_REFUSED);
    readBody(
      call.req,
      this.bodyLimit,
      (err, raw) => (err ? call.problem(err) : this.parsed(call, kind, raw!)),
      () => call.abandon(),
    );
  }

  private parsed(call: Exchange, kind: BodyKind, raw: Buffer): void {
    let body: unknown;
    try {
      body = kind === 'json' ? parseJsonBody(raw) : parseFormBody(raw);
    } catch (err) {
      return call.problem(err);
    }
    this.authenticated(call, body);
  }

  /** The caller's own key first, as the admin guard's: a stranger learns nothing from a 400. */
  private authenticated(call: Exchange, body: unknown): void {
    try {
      const token = presentedKey(call.req.headers);
      if (!token) return call.problem(new Unauthenticated());
      const wait = this.failures.refuseFirst('introspect', call.ip, token);
      if (wait !== null) return call.problem(new TooManyFailedAttempts(wait));
      const caller = this.verifier.verifyNow(token, { clientIp: call.ip });
      if (caller instanceof Promise) {
        // catch, not then's second argument: whatever goes wrong after the query is answered too (once: see Exchange).
        caller.then((verdict) => this.admitted(call, verdict, body)).catch((err: unknown) => call.problem(err));
      } else this.admitted(call, caller, body);
    } catch (err) {
      call.problem(err);
    }
  }

  private admitted(call: Exchange, caller: Verdict, body: unknown): void {
    if (!caller.active) {
      this.failures.refusal('introspect', call.ip).then(
        (refusal) => call.problem(refusal),
        (err: unknown) => call.problem(err),
      );
      return;
    }
    const key = caller.record;
    if (!coversAll(key.scopes, INTROSPECT_REQUIRED)) return this.forbidden(call, caller.record);
    const checked = introspectBody(body);
    const decision = this.pipeline.decide('introspect', checked.token, requirementsOf(checked));
    if (decision instanceof Promise) {
      decision.then((d) => answer(call, d)).catch((err: unknown) => call.problem(err));
    } else answer(call, decision);
  }

  private forbidden(call: Exchange, key: KeyRecord): void {
    const actor = { keyId: key.keyId, clientId: key.clientId, isSystem: key.isSystemClient, scopes: key.scopes };
    this.denied.observeDenial({
      context: { actor, requestId: call.id, sourceIp: call.sourceIp },
      status: 403,
      method: 'POST',
      route: INTROSPECT_PATH,
      params: {},
      requiredScopes: INTROSPECT_REQUIRED,
    });
    call.problem(
      new Forbidden(`This operation requires the scope ${INTROSPECT_SCOPE}.`, { required_scopes: INTROSPECT_REQUIRED }),
    );
  }
}

/** The answer as JSON text, written once for most answers (see introspectionJson). */
function answer(call: Exchange, decision: Decision): void {
  call.json(introspectionJson(decision), 'no-store');
}
