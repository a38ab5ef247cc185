import type { Request } from 'express';
import type { DataSource } from 'typeorm';
import { recordAudit } from '../../shared/audit';
import type { OAuthErrorCode } from '../../shared/errors';

/** Why a token request was refused: OAuth's error codes, or a limit that refused it before any check. */
export type RefusalReason = OAuthErrorCode | 'rate_limited_address' | 'rate_limited_client' | 'hashing_busy';

/** Refusals decided after a credential check get an audit row; the others (cheap, floodable) only a log line. */
const AUDITED: ReadonlySet<RefusalReason> = new Set(['invalid_client', 'invalid_scope']);
/** As the audit column and any real client id: a longer one names no client. */
const CLIENT_ID_SHOWN = 64;

/**
 * One log line per token decision, and an audit row for each token issued and each
 * credential refused: who asked (the client id asked for, as sent), from where, and why not.
 * Never the secret: it is not passed in.
 */
export class TokenDecisions {
  constructor(private readonly dataSource: DataSource) {}

  async issued(req: Request, clientId: string, scope: string): Promise<void> {
    const sourceAddress = req.ip;
    req.log.info('token issued', { event: 'auth.token_issued', clientId, sourceAddress, scope });
    await recordAudit(this.dataSource.manager, {
      actor: clientId,
      action: 'token.issue',
      outcome: 'succeeded',
      requestId: req.requestId,
      clientRequestId: req.clientRequestId,
      details: { sourceAddress, scope },
    });
  }

  async refused(req: Request, reason: RefusalReason): Promise<void> {
    const clientId = req.tokenRequest?.clientId?.slice(0, CLIENT_ID_SHOWN);
    const sourceAddress = req.ip;
    req.log.info('token refused', { event: 'auth.token_refused', clientId, sourceAddress, reason });
    if (!AUDITED.has(reason)) return;
    await recordAudit(this.dataSource.manager, {
      actor: clientId || '(none)',
      action: 'token.issue',
      outcome: 'rejected',
      requestId: req.requestId,
      clientRequestId: req.clientRequestId,
      details: { sourceAddress, reason },
    });
  }
}
