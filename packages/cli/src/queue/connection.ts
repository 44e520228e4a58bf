import type { ConnectionOptions, Queue } from 'bullmq';
import { UsageError, show } from '../errors.js';

/** The one queue every sweep and worker uses; jobs of different sweeps differ by their ids. */
export const QUEUE_NAME = 'sparsify-sweep';

/**
 * `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS) as ioredis options. Checked
 * here so that a typo is a clear error instead of a client retrying forever against the wrong host.
 */
export function parseRedisUrl(url: string, flag = '--queue'): ConnectionOptions & { host: string; port: number; db: number } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`${flag} must be a Redis URL redis://host:port[/db]; got ${show(url)}`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
    throw new UsageError(`${flag} must start with redis:// or rediss://; got ${show(url)}`);
  if (!parsed.hostname) throw new UsageError(`${flag} needs a host: redis://host:port[/db]; got ${show(url)}`);
  const port = parsed.port ? Number(parsed.port) : 6379;
  const path = parsed.pathname.replace(/^\//, '');
  const db = path === '' ? 0 : Number(path);
  if (!/^\d*$/.test(path) || !Number.isInteger(db) || db < 0 || db > 15)
    throw new UsageError(`${flag}: the database (after the port) must be an integer in [0, 15]; got ${show(path)} in ${show(url)}`);
  if (parsed.search || parsed.hash) throw new UsageError(`${flag} takes no query or fragment; got ${show(url)}`);
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port,
    db,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/** `url` without its password, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/** A Queue whose Redis answered within `timeoutMs` (else an error naming the URL). */
export async function openQueue(url: string, timeoutMs = 10_000): Promise<Queue> {
  const connection = parseRedisUrl(url);
  let lastError: Error | undefined;
  // Imported here, not at the top: the bundled CLI loads BullMQ only for the queue commands.
  const { Queue } = await import('bullmq');
  // Fail fast on the first connection; later outages are retried by ioredis while the sweep waits.
  const queue = new Queue(QUEUE_NAME, { connection: { ...connection, enableOfflineQueue: true } });
  queue.on('error', (error) => {
    lastError = error;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      queue.waitUntilReady(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `cannot reach Redis at ${redactUrl(url)} within ${timeoutMs / 1000} s${lastError ? ` (${lastError.message})` : ''}`,
              ),
            ),
          timeoutMs,
        );
      }),
    ]);
  } catch (error) {
    await queue.close().catch(() => undefined);
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return queue;
}
