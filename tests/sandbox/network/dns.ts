/**
 * A minimal authoritative DNS server (UDP, RFC 1035 wire format) for the sandbox's private network.
 *
 * Each agent network namespace's /etc/resolv.conf points at one of these, bound to the host side
 * of that namespace's veth. It answers only from the records the network gives it (A and CNAME),
 * so the OS resolver in the namespace sees real DNS semantics:
 *   - a known name with A records           → NOERROR + answers (AAAA → NOERROR, no answers: NODATA);
 *   - a CNAME                               → the CNAME plus whatever its target resolves to, the rcode
 *                                              being that of the last name in the chain (RFC 6604);
 *   - an unknown name                       → NXDOMAIN (getaddrinfo: EAI_NONAME → Node ENOTFOUND,
 *                                              `getent hosts` exit 2);
 *   - an injected fault                     → SERVFAIL / REFUSED (EAI_AGAIN) or no answer at all
 *                                              (resolver timeout, EAI_AGAIN).
 * Nothing is forwarded upstream: a namespace can never leak a query to a real resolver.
 */
import * as dgram from 'node:dgram';

export type DnsRecord = { type: 'A'; addresses: string[]; ttl?: number } | { type: 'CNAME'; target: string; ttl?: number };

export type DnsFaultKind = 'nxdomain' | 'servfail' | 'refused' | 'drop';

export interface DnsFault {
  /** What to answer instead of the records. Omit to only delay the normal answer. */
  kind?: DnsFaultKind;
  /** Waits this long before answering. */
  delayMs?: number;
}

export type DnsRcode = 'NOERROR' | 'FORMERR' | 'SERVFAIL' | 'NXDOMAIN' | 'NOTIMP' | 'REFUSED' | 'DROPPED';

export interface DnsQueryRecord {
  /** Label of the server that answered (the namespace view: 'inside' / 'outside'). */
  view: string;
  /** Queried name, lower case, without the trailing dot. */
  name: string;
  /** 'A', 'AAAA', 'CNAME', … or 'TYPE<n>'. */
  type: string;
  rcode: DnsRcode;
  /** Answer data in order: addresses and CNAME targets. */
  answers: string[];
  at: Date;
}

export interface DnsServerOptions {
  /** Address to bind (the host side of a namespace's veth). */
  address: string;
  /** Default 53 (resolv.conf cannot name another port). */
  port?: number;
  /** Recorded in the query log. */
  view: string;
  /** Records for a lower-case, dot-less name. */
  lookup(name: string): DnsRecord | undefined;
  fault?(name: string): DnsFault | undefined;
  /** Shared query log (appended to). */
  log?: DnsQueryRecord[];
}

const TYPE = { A: 1, CNAME: 5, AAAA: 28, ANY: 255 } as const;
const TYPE_NAMES: Record<number, string> = {
  1: 'A',
  2: 'NS',
  5: 'CNAME',
  6: 'SOA',
  12: 'PTR',
  15: 'MX',
  16: 'TXT',
  28: 'AAAA',
  33: 'SRV',
  64: 'SVCB',
  65: 'HTTPS',
  255: 'ANY',
};
const RCODE: Record<Exclude<DnsRcode, 'DROPPED'>, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };
const DEFAULT_TTL = 10;
const MAX_CHAIN = 8;

export function normalizeDnsName(name: string): string {
  return name.trim().toLowerCase().replace(/\.+$/, '');
}

interface ParsedQuery {
  id: number;
  flags: number;
  name: string;
  qtype: number;
  /** End offset of the (single) question. */
  questionEnd: number;
}

export class DnsServer {
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  private constructor(
    private readonly socket: dgram.Socket,
    private readonly options: DnsServerOptions,
    readonly address: string,
    readonly port: number,
  ) {}

  static async start(options: DnsServerOptions): Promise<DnsServer> {
    const socket = dgram.createSocket({ type: 'udp4' });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(options.port ?? 53, options.address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const server = new DnsServer(socket, options, options.address, socket.address().port);
    socket.on('message', (msg, rinfo) => server.onMessage(msg, rinfo));
    socket.on('error', () => undefined);
    return server;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const query = parseQuery(msg);
    if (!query) {
      // Not even a parsable header: nothing sensible to echo.
      if (msg.length >= 12)
        this.send(buildResponse(msg.readUInt16BE(0), msg.readUInt16BE(2), RCODE.FORMERR, Buffer.alloc(0), []), rinfo, 0);
      return;
    }
    const record: DnsQueryRecord = {
      view: this.options.view,
      name: query.name,
      type: TYPE_NAMES[query.qtype] ?? `TYPE${query.qtype}`,
      rcode: 'NOERROR',
      answers: [],
      at: new Date(),
    };
    this.options.log?.push(record);
    const question = msg.subarray(12, query.questionEnd);
    const opcode = (query.flags >> 11) & 0xf;
    if (opcode !== 0) {
      record.rcode = 'NOTIMP';
      this.send(buildResponse(query.id, query.flags, RCODE.NOTIMP, question, []), rinfo, 0);
      return;
    }
    const fault = this.options.fault?.(query.name);
    const delay = fault?.delayMs ?? 0;
    if (fault?.kind === 'drop') {
      record.rcode = 'DROPPED';
      return;
    }
    if (fault?.kind) {
      const rcode = fault.kind === 'nxdomain' ? 'NXDOMAIN' : fault.kind === 'servfail' ? 'SERVFAIL' : 'REFUSED';
      record.rcode = rcode;
      this.send(buildResponse(query.id, query.flags, RCODE[rcode], question, []), rinfo, delay);
      return;
    }
    const { answers, rcode, texts } = this.resolve(query.name, query.qtype);
    record.rcode = rcode;
    record.answers = texts;
    this.send(buildResponse(query.id, query.flags, RCODE[rcode], question, answers), rinfo, delay);
  }

  private resolve(name: string, qtype: number): { answers: Buffer[]; rcode: 'NOERROR' | 'NXDOMAIN'; texts: string[] } {
    const answers: Buffer[] = [];
    const texts: string[] = [];
    let owner: Buffer = Buffer.from([0xc0, 0x0c]); // pointer to the question name
    let current = name;
    for (let depth = 0; depth < MAX_CHAIN; depth++) {
      const rec = this.options.lookup(current);
      if (!rec) return { answers, rcode: 'NXDOMAIN', texts };
      const ttl = rec.ttl ?? DEFAULT_TTL;
      if (rec.type === 'CNAME') {
        answers.push(resourceRecord(owner, TYPE.CNAME, ttl, encodeName(rec.target)));
        texts.push(normalizeDnsName(rec.target));
        if (qtype === TYPE.CNAME) break;
        owner = encodeName(rec.target);
        current = normalizeDnsName(rec.target);
        continue;
      }
      if (qtype === TYPE.A || qtype === TYPE.ANY) {
        for (const address of rec.addresses) {
          answers.push(resourceRecord(owner, TYPE.A, ttl, Buffer.from(address.split('.').map(Number))));
          texts.push(address);
        }
      }
      break;
    }
    return { answers, rcode: 'NOERROR', texts };
  }

  private send(response: Buffer, rinfo: dgram.RemoteInfo, delayMs: number): void {
    const go = (): void => {
      if (this.closed) return;
      this.socket.send(response, rinfo.port, rinfo.address, () => undefined);
    };
    if (delayMs <= 0) {
      go();
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(t);
      go();
    }, delayMs);
    this.timers.add(t);
  }
}

function parseQuery(msg: Buffer): ParsedQuery | undefined {
  if (msg.length < 12) return undefined;
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  if (flags & 0x8000) return undefined; // a response, not a query
  if (msg.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let offset = 12;
  for (;;) {
    if (offset >= msg.length) return undefined;
    const len = msg[offset];
    if (len === 0) {
      offset += 1;
      break;
    }
    if (len & 0xc0) return undefined; // compression in a question: not produced by stub resolvers
    if (offset + 1 + len > msg.length) return undefined;
    labels.push(msg.toString('latin1', offset + 1, offset + 1 + len));
    offset += 1 + len;
    if (offset - 12 > 255) return undefined;
  }
  if (offset + 4 > msg.length) return undefined;
  const qtype = msg.readUInt16BE(offset);
  return { id, flags, name: normalizeDnsName(labels.join('.')), qtype, questionEnd: offset + 4 };
}

function buildResponse(id: number, queryFlags: number, rcode: number, question: Buffer, answers: Buffer[]): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  // QR=1, opcode copied, AA=1, RD copied, RA=1, rcode.
  const flags = 0x8000 | (queryFlags & 0x7800) | 0x0400 | (queryFlags & 0x0100) | 0x0080 | (rcode & 0xf);
  header.writeUInt16BE(flags, 2);
  header.writeUInt16BE(question.length > 0 ? 1 : 0, 4);
  header.writeUInt16BE(answers.length, 6);
  return Buffer.concat([header, question, ...answers]);
}

function resourceRecord(owner: Buffer, type: number, ttl: number, rdata: Buffer): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(1, 2); // class IN
  fixed.writeUInt32BE(ttl, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([owner, fixed, rdata]);
}

function encodeName(name: string): Buffer {
  const parts = normalizeDnsName(name).split('.').filter(Boolean);
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const bytes = Buffer.from(part, 'latin1');
    if (bytes.length > 63) throw new Error(`DNS label too long: ${part}`);
    chunks.push(Buffer.from([bytes.length]), bytes);
  }
  chunks.push(Buffer.from([0]));
  return Buffer.concat(chunks);
}
