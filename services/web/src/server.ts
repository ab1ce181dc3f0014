import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge } from 'prom-client';
import {
  ValidationError,
  type Logger,
  type MeterCommand,
  type MeterProfile,
  type MeterStatus,
  type Outage,
  type ServiceMetrics,
} from '@ami/lib';
import { authenticate, authorize, tokenOf, type Action, type User } from './auth.js';
import { auditRows, commandReport, reportStatus, sendFailedRows, type RequestContext } from './campaign.js';
import { parseCommandRequest, planCommands, type ProfileLookup } from './commands.js';
import type { WebConfig } from './config.js';
import { buildView, type OutagesView } from './outagesView.js';
import { callCentreHtml, dashboardHtml, loginHtml } from './pages.js';
import { RateLimiter } from './rateLimit.js';
import { renderSeriesSvg } from './render.js';
import type { AuditRow } from './store.js';
import { billingPeriodOf, describeMeter, type Consumption } from './wording.js';

/** What the HTTP layer needs from Kafka and ClickHouse (faked in unit tests). */
export interface WebBackend {
  profiles: ProfileLookup;
  status(meterId: string): MeterStatus | undefined;
  outage(outageId: string): Outage | undefined;
  /** Latest record per outage id, live and history merged. */
  outages(): Iterable<Outage>;
  billing(profile: MeterProfile, period: string): Promise<Consumption | null>;
  audit(rows: AuditRow[]): Promise<void>;
  send(commands: MeterCommand[]): Promise<void>;
  ready(): boolean;
}

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const MAX_BODY = 2 * 1024 * 1024;
const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:",
};

function send(
  res: ServerResponse,
  status: number,
  body: string,
  type: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Cache-Control': 'no-store',
    ...SECURITY_HEADERS,
    ...headers,
  });
  res.end(body);
}
const sendJson = (res: ServerResponse, status: number, value: unknown, headers?: Record<string, string>) =>
  send(res, status, JSON.stringify(value), 'application/json; charset=utf-8', headers);
const sendHtml = (res: ServerResponse, html: string) => send(res, 200, html, 'text/html; charset=utf-8');

async function readBody(req: IncomingMessage): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, `request body over ${MAX_BODY} bytes: split the campaign`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  try {
    return JSON.parse(await readBody(req)) as unknown;
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, `body is not JSON: ${(err as Error).message}`);
  }
}

interface SseClient {
  res: ServerResponse;
  region: string | null;
}

/** The dashboard, call-centre and command API over node:http. */
export class WebServer {
  private server?: Server;
  private readonly sse = new Set<SseClient>();
  private readonly requestLimiter: RateLimiter;
  private readonly meterLimiter: RateLimiter;
  private readonly routes: Record<string, Handler>;
  private pushTimer?: NodeJS.Timeout;
  private heartbeat?: NodeJS.Timeout;
  private readonly commandsCounter: Counter<'type' | 'result'>;
  private readonly sseGauge: Gauge;

  constructor(
    private readonly cfg: WebConfig,
    private readonly users: readonly User[],
    private readonly backend: WebBackend,
    private readonly logger: Logger,
    private readonly metrics: ServiceMetrics,
    private readonly now: () => number = Date.now,
  ) {
    this.requestLimiter = new RateLimiter(
      cfg.WEB_COMMAND_REQUESTS_PER_MIN,
      cfg.WEB_COMMAND_REQUESTS_PER_MIN,
      now,
    );
    this.meterLimiter = new RateLimiter(cfg.WEB_COMMAND_METERS_PER_MIN, cfg.WEB_COMMAND_METERS_PER_MIN, now);
    this.commandsCounter = new Counter({
      name: 'ami_web_command_meters_total',
      help: 'Meters targeted by command requests, by command type and result',
      labelNames: ['type', 'result'],
      registers: [metrics.registry],
    });
    this.sseGauge = new Gauge({
      name: 'ami_web_sse_clients',
      help: 'Open dashboard streams',
      registers: [metrics.registry],
    });
    this.routes = {
      'GET /': (req, res) => this.page(req, res, dashboardHtml()),
      'GET /callcentre': (req, res) => this.page(req, res, callCentreHtml()),
      'GET /login': (_req, res) => sendHtml(res, loginHtml(null)),
      'POST /login': (req, res) => this.login(req, res),
      'GET /api/outages': (req, res, url) =>
        this.viewOr401(req, res) && sendJson(res, 200, this.view(region(url))),
      'GET /api/outages/stream': (req, res, url) => this.stream(req, res, url),
      'GET /api/customers': (req, res, url) => this.customer(req, res, url.searchParams.get('q') ?? ''),
      'POST /api/commands': (req, res) => this.commands(req, res),
      'GET /api/whoami': (req, res) => this.whoami(req, res),
      'GET /metrics': (_req, res) => this.metricsText(res),
      'GET /healthz': (_req, res) => send(res, 200, 'ok\n', 'text/plain'),
      'GET /readyz': (_req, res) =>
        this.backend.ready()
          ? send(res, 200, 'ready\n', 'text/plain')
          : send(res, 503, 'not ready\n', 'text/plain'),
    };
  }

  async listen(): Promise<AddressInfo> {
    const server = createServer((req, res) => void this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.cfg.WEB_PORT, this.cfg.WEB_BIND, resolve);
    });
    this.heartbeat = setInterval(() => this.pushAll(), 30_000);
    const address = server.address() as AddressInfo;
    this.logger.info({ address }, 'web service listening');
    return address;
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    clearTimeout(this.pushTimer);
    for (const c of this.sse) c.res.end();
    this.sse.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections();
  }

  /** Outages changed: push fresh views to open dashboards (coalesced over 250 ms). */
  outagesChanged(): void {
    if (this.pushTimer) return;
    this.pushTimer = setTimeout(() => {
      this.pushTimer = undefined;
      this.pushAll();
    }, 250);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.startsWith('/api/customers/') ? '/api/customers' : url.pathname;
    if (path === '/api/customers' && url.pathname !== path)
      url.searchParams.set('q', decodeURIComponent(url.pathname.slice(15)));
    const route = this.routes[`${req.method} ${path}`];
    try {
      if (!route) throw new HttpError(404, `no route ${req.method} ${url.pathname}`);
      await route(req, res, url);
    } catch (err) {
      this.fail(res, err);
    }
  }

  private fail(res: ServerResponse, err: unknown): void {
    if (res.headersSent) return void res.end();
    if (err instanceof HttpError) return sendJson(res, err.status, { error: err.message }, err.headers);
    if (err instanceof ValidationError) return sendJson(res, 400, { error: err.message });
    this.logger.error({ err }, 'request failed');
    sendJson(res, 503, { error: `service unavailable: ${(err as Error).message}` });
  }

  private userOf(req: IncomingMessage, allowCookie: boolean): User | undefined {
    const token = tokenOf(req.headers.authorization, allowCookie ? req.headers.cookie : undefined);
    return authenticate(this.users, token);
  }

  /** Views are open unless WEB_VIEWS_REQUIRE_AUTH; then a viewer or operator token (header or login cookie). */
  private viewOr401(req: IncomingMessage, _res: ServerResponse): true {
    if (this.cfg.WEB_VIEWS_REQUIRE_AUTH !== 'true') return true;
    this.require(this.userOf(req, true), 'view');
    return true;
  }

  private require(user: User | undefined, action: Action): User {
    const d = authorize(user, action);
    if (!d.ok)
      throw new HttpError(
        d.status,
        d.error,
        d.status === 401 ? { 'WWW-Authenticate': 'Bearer realm="ami"' } : {},
      );
    return user!;
  }

  private page(req: IncomingMessage, res: ServerResponse, html: string): void {
    if (this.cfg.WEB_VIEWS_REQUIRE_AUTH === 'true' && !authorize(this.userOf(req, true), 'view').ok) {
      return send(res, 303, '', 'text/plain', {
        Location: `/login?next=${encodeURIComponent(req.url ?? '/')}`,
      });
    }
    sendHtml(res, html);
  }

  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = new URLSearchParams(await readBody(req));
    const token = form.get('token') ?? '';
    const next = form.get('next') ?? '/';
    if (!authenticate(this.users, token))
      return send(res, 401, loginHtml('That token is not valid.'), 'text/html; charset=utf-8');
    const cookie = `ami_token=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`;
    send(res, 303, '', 'text/plain', {
      Location: next.startsWith('/') && !next.startsWith('//') ? next : '/',
      'Set-Cookie': cookie,
    });
  }

  private whoami(req: IncomingMessage, res: ServerResponse): void {
    const user = this.require(this.userOf(req, false), 'view');
    sendJson(res, 200, { user: user.user, role: user.role });
  }

  private async metricsText(res: ServerResponse): Promise<void> {
    send(res, 200, await this.metrics.registry.metrics(), this.metrics.registry.contentType);
  }

  view(regionFilter: string | null): OutagesView & { chart_svg: string } {
    const v = buildView(this.backend.outages(), {
      now: this.now(),
      region: regionFilter,
      restoredWindowMs: this.cfg.WEB_RESTORED_WINDOW_H * 3_600_000,
      chartWindowMs: this.cfg.WEB_CHART_HOURS * 3_600_000,
    });
    return { ...v, chart_svg: renderSeriesSvg(v.series) };
  }

  private stream(req: IncomingMessage, res: ServerResponse, url: URL): void {
    this.viewOr401(req, res);
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      ...SECURITY_HEADERS,
    });
    const client: SseClient = { res, region: region(url) };
    this.sse.add(client);
    this.sseGauge.set(this.sse.size);
    req.on('close', () => {
      this.sse.delete(client);
      this.sseGauge.set(this.sse.size);
    });
    this.push(client, new Map());
  }

  private pushAll(): void {
    const cache = new Map<string, string>();
    for (const c of this.sse) this.push(c, cache);
  }

  private push(c: SseClient, cache: Map<string, string>): void {
    const key = c.region ?? '';
    let data = cache.get(key);
    if (data === undefined) {
      data = JSON.stringify(this.view(c.region));
      cache.set(key, data);
    }
    c.res.write(`event: view\ndata: ${data}\n\n`);
  }

  private async customer(req: IncomingMessage, res: ServerResponse, q: string): Promise<void> {
    this.viewOr401(req, res);
    const query = q.trim();
    if (query === '') throw new HttpError(400, 'give an IDPEL (12 digits) or a meter id');
    const profile = this.backend.profiles.byIdpel(query) ?? this.backend.profiles.byMeter(query);
    if (!profile) throw new HttpError(404, `no customer with IDPEL or meter id ${JSON.stringify(query)}`);
    const status = this.backend.status(profile.meter_id);
    const outage = status?.outage_id ? this.backend.outage(status.outage_id) : undefined;
    const consumption = await this.backend
      .billing(profile, billingPeriodOf(this.now(), profile.timezone))
      .catch((err: unknown) => {
        this.logger.warn({ err, meter_id: profile.meter_id }, 'billing lookup failed; answering without it');
        return null;
      });
    sendJson(res, 200, describeMeter({ profile, status, outage, consumption }));
  }

  private limit(limiter: RateLimiter, user: string, cost: number, what: string): void {
    const r = limiter.take(user, cost);
    if (r.ok) return;
    const retry = Number.isFinite(r.retryAfterMs) ? Math.ceil(r.retryAfterMs / 1000) : 60;
    throw new HttpError(429, `rate limit: too many ${what} for ${user}; retry in ${retry} s`, {
      'Retry-After': String(retry),
    });
  }

  private async commands(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Bearer header only: a cookie would let another site's form send commands.
    const who = this.userOf(req, false);
    this.require(who, 'command');
    this.limit(this.requestLimiter, who!.user, 1, 'command requests');
    const body = parseCommandRequest(await readJson(req), this.cfg.WEB_CAMPAIGN_MAX);
    const user = this.require(who, `command:${body.type}`);
    this.limit(this.meterLimiter, user.user, body.idpels.length + body.meter_ids.length, 'meters');
    const ctx: RequestContext = {
      request_id: randomUUID(),
      user: user.user,
      role: user.role,
      type: body.type,
      power_limit_va: body.power_limit_va,
      reason: body.reason,
      now: this.now(),
    };
    const plan = planCommands(body, this.backend.profiles, {
      user: user.user,
      now: ctx.now,
      newId: randomUUID,
    });
    const rows = auditRows(plan, ctx);
    // The audit comes first: if it cannot be written, nothing is sent.
    await this.backend.audit(rows);
    const sendError = await this.sendCommands(
      plan.accepted.map((a) => a.command),
      rows,
    );
    const report = commandReport(plan, ctx, sendError);
    this.commandsCounter.inc(
      { type: body.type, result: sendError ? 'SEND_FAILED' : 'SENT' },
      plan.accepted.length,
    );
    this.commandsCounter.inc({ type: body.type, result: 'REFUSED' }, plan.refused.length);
    this.logger.info(
      {
        request_id: ctx.request_id,
        user: user.user,
        type: body.type,
        sent: report.sent,
        refused: report.refused,
        failed: report.failed,
      },
      'command request',
    );
    sendJson(res, reportStatus(report), report);
  }

  private async sendCommands(commands: MeterCommand[], rows: AuditRow[]): Promise<string | null> {
    if (commands.length === 0) return null;
    try {
      await this.backend.send(commands);
      return null;
    } catch (err) {
      const message = `Kafka did not take the commands: ${(err as Error).message}`;
      this.logger.error({ err }, message);
      await this.backend
        .audit(sendFailedRows(rows, message))
        .catch((e: unknown) => this.logger.error({ err: e }, 'audit of the failed send failed too'));
      return message;
    }
  }
}

function region(url: URL): string | null {
  const r = url.searchParams.get('region');
  return r && r.trim() !== '' ? r.trim() : null;
}
