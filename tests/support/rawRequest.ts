import * as http from 'node:http';
import * as https from 'node:https';
import type { Sandbox } from '../sandbox';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  // Sandbox answers are read field by field in assertions: any by default, a type where a test gives one.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json<T = Record<string, any>>(): T;
}

/** One-shot HTTP(S) request to a sandbox service (no keep-alive), trusting only the sandbox CA. */
export function rawRequest(
  sandbox: Sandbox,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? https.request : http.request;
    const req = send(target, { method: init.method ?? 'GET', headers: init.headers, ca: sandbox.caPem, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: <T>() => JSON.parse(text) as T });
      });
    });
    req.on('error', reject);
    req.end(init.body);
  });
}
