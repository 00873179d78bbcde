import { describe, expect, it } from 'vitest';
import { OcinitError } from '../../../../src/log/errors.ts';
import { withRetries } from '../../../../src/oci/transport/retry.ts';
import { codedError, fakeSend, GET } from './fake-send.ts';

const peer = { host: 'reg.example', tlsVerify: true };
const options = { attempts: 3, retryDelayMs: 1, random: () => 0, cancelled: () => false };

describe('retry layer', () => {
  it('retries 5xx, 429 and connection errors, then returns the first good answer', async () => {
    const answers = [codedError('ECONNRESET'), { status: 503 }, { status: 200, body: 'ok' }];
    const inner = fakeSend((_request, index) => answers[index] ?? { status: 500 });
    const response = await withRetries(inner.send, peer, options)(GET('https://reg.example/v2/'));
    expect([response.status, await response.body.text(), inner.seen.length]).toEqual([200, 'ok', 3]);
  });

  it('returns the last answer whatever its status once the attempts are spent', async () => {
    const inner = fakeSend(() => ({ status: 429, headers: { 'retry-after': '0' } }));
    expect((await withRetries(inner.send, peer, options)(GET('https://reg.example/x'))).status).toBe(429);
    expect(inner.seen).toHaveLength(3);
  });

  it('pauses with jittered exponential backoff, Retry-After as a floor', async () => {
    const answers = [{ status: 502 }, codedError('EPIPE'), { status: 503, headers: { 'retry-after': '2' } }, { status: 200 }];
    const inner = fakeSend((_request, index) => answers[index] ?? { status: 500 });
    const pauses: number[] = [];
    const sleep = async (ms: number): Promise<void> => void pauses.push(ms);
    await withRetries(inner.send, peer, { ...options, attempts: 5, retryDelayMs: 100, random: () => 0.5, sleep })(GET('https://reg.example/x'));
    expect(pauses).toEqual([75, 150, 2250]);
  });

  it('does not retry 4xx answers, OcinitErrors, unknown errors, a probe that must fail fast, or after cancellation', async () => {
    const cases: { answer: () => ReturnType<Parameters<typeof fakeSend>[0]>; extra?: object; cancelled?: boolean }[] = [
      { answer: () => ({ status: 404 }) },
      { answer: () => new OcinitError('redirected without a Location') },
      { answer: () => new TypeError('a bug') },
      { answer: () => codedError('ECONNREFUSED'), extra: { retryConnectionErrors: false } },
      { answer: () => codedError('ECONNREFUSED'), cancelled: true },
    ];
    for (const { answer, extra, cancelled } of cases) {
      const inner = fakeSend(answer);
      await withRetries(inner.send, peer, { ...options, cancelled: () => cancelled === true })(GET('https://reg.example/x', extra)).catch(() => undefined);
      expect(inner.seen).toHaveLength(1);
    }
  });

  it('throws the last connection error as it came, for the error layer to name', async () => {
    const inner = fakeSend(() => codedError('ECONNREFUSED', 'connect ECONNREFUSED'));
    await expect(withRetries(inner.send, peer, options)(GET('https://reg.example/x'))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(inner.seen).toHaveLength(3);
  });
});
