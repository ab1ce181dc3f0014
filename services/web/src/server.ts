import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type onRequestHookHandler,
} from 'fastify';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import { Counter, Gauge } from 'prom-client';
import { z } from 'zod';
import {
  formatZoned,
  zoneOfRegion,
  ValidationError,
  type Logger,
  type MeterCommand,
  type MeterProfile,
  type MeterStatus,
  type Outage,
  type ServiceMetrics,
  type SuspectedOutage,
} from '@ami/lib';
import {
  authenticate,
  authorize,
  sessionEnd,
  signInTarget,
  signSession,
  tokenOf,
  verifySession,
  type Action,
  type User,
} from './auth.js';
import { auditRows, commandReport, reportStatus, sendFailedRows, type RequestContext } from './campaign.js';
import { commandRequestSchema, planCommands, type CommandRequest, type ProfileLookup } from './commands.js';
import type { WebConfig } from './config.js';
import { describeIssues, text } from './input.js';
import { buildView, withLocalTimes, type OutagesView } from './outagesView.js';
import {
  buildSuspectedView,
  localSuspected,
  suspicionOf,
  type LocalSuspectedRow,
  type SuspectedView,
} from './suspectedView.js';
import { callCentreHtml, complaintsHtml, dashboardHtml, loginHtml, type PageHtml } from './pages.js';
import { chooseLang, isLang, LANGS, LOCALE, render, t, type Lang, type Localized } from './catalogue.js';
import { RateLimiter } from './rateLimit.js';
import { renderSeriesSvg } from './render.js';
import { buildSilentView, type OutageFootprint } from './silentView.js';
import type { AuditRow, ControlRoomData } from './store.js';
import type { UserSource } from './users.js';
import { registerWorkspace, type WorkspaceBackend } from './workspace.js';
import { billingPeriodOf, describeMeter, type Consumption } from './wording.js';

/** What the HTTP layer needs from Kafka and ClickHouse (faked in unit tests). */
export interface WebBackend extends WorkspaceBackend {
  profiles: ProfileLookup;
  status(meterId: string): MeterStatus | undefined;
  outage(outageId: string): Outage | undefined;
  /** Latest record per outage id, live and history merged. */
  outages(): Iterable<Outage>;
  /** Suspected outages still pending (SUSPECTED, VERIFIED), latest record per outage id. */
  suspected(): Iterable<SuspectedOutage>;
  /** This month's reliability per ULP and the meters gone silent (ClickHouse). */
  controlRoom(now: number): Promise<ControlRoomData>;
  billing(profile: MeterProfile, period: string): Promise<Consumption | null>;
  audit(rows: AuditRow[]): Promise<void>;
  send(commands: MeterCommand[]): Promise<void>;
  ready(): boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated user, set by the route's onRequest guard. */
    amiUser: User | null;
  }
}

/** A refusal shown to a person: a catalogue message, rendered in the reader's language. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly said: Localized,
    readonly headers: Record<string, string> = {},
  ) {
    super(said.key);
  }
}

const LANG_COOKIE = 'ami_lang';

interface SseClient {
  res: FastifyReply['raw'];
  region: string | null;
  lang: Lang;
}

const MAX_BODY = 2 * 1024 * 1024;
const SESSION_COOKIE = 'ami_session';
const BASE_HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:",
};

/** Query, params and bodies of the routes; zod, through fastify's validation (400 on failure). */
const langField = z.enum(LANGS).optional();
const langQuery = z.object({ lang: langField });
const regionQuery = z.object({ region: text(64).optional(), lang: langField });
const customerQuery = z.object({ q: text(64).optional(), lang: langField });
const customerParams = z.object({ id: text(64) });
/** Pages read their query in the browser; the server only needs it to be strings. */
const pageQuery = z.record(z.union([z.string(), z.array(z.string())]));
const loginForm = z.object({ token: z.string().max(600).optional(), next: z.string().max(4096).optional() });

/** The dashboard, call-centre and command API on fastify. */
export class WebServer {
  readonly app: FastifyInstance;
  private readonly sse = new Set<SseClient>();
  readonly requestLimiter: RateLimiter;
  private readonly meterLimiter: RateLimiter;
  private readonly sessionKey: Buffer;
  private pushTimer?: NodeJS.Timeout;
  private heartbeat?: NodeJS.Timeout;
  private readonly commandsCounter: Counter<'type' | 'result'>;
  private readonly sseGauge: Gauge;

  constructor(
    private readonly cfg: WebConfig,
    private readonly users: UserSource,
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
    this.sessionKey = cfg.WEB_SESSION_SECRET ? Buffer.from(cfg.WEB_SESSION_SECRET) : randomBytes(32);
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
    this.app = this.build();
  }

  private build(): FastifyInstance {
    const app = Fastify({
      loggerInstance: this.logger as FastifyBaseLogger,
      disableRequestLogging: true,
      bodyLimit: MAX_BODY,
      requestTimeout: 30_000,
      forceCloseConnections: true,
      trustProxy: this.cfg.WEB_TRUST_PROXY.trim() === '' ? false : this.cfg.WEB_TRUST_PROXY,
      // A malformed path (`/api/customers/%E0%A4%A`) or an overlong parameter: 400, and serving goes on.
      frameworkErrors: (err, _req, reply) => {
        void (reply as FastifyReply)
          .code(err.statusCode ?? 400)
          .headers(BASE_HEADERS)
          .send({ error: err.message });
      },
    });
    app.decorateRequest('amiUser', null);
    app.setValidatorCompiler<z.ZodTypeAny>(({ schema, httpPart }) => (data) => {
      const r = schema.safeParse(data);
      return r.success
        ? { value: r.data as unknown }
        : { error: new ValidationError(describeIssues(r.error, httpPart ?? 'request')) };
    });
    app.setErrorHandler((err: FastifyError, req, reply) => this.fail(err, req, reply));
    app.setNotFoundHandler((req, reply) =>
      reply.code(404).send({ error: `no route ${req.method} ${req.url.slice(0, 200)}` }),
    );
    app.addHook('onRequest', async (req, reply) => {
      void reply.headers(BASE_HEADERS);
      // Only origin-form targets (`/path?query`): `*` or `http://host/...` would otherwise be routed as `/`.
      if (!req.raw.url?.startsWith('/'))
        throw new HttpError(400, {
          key: 'error.invalid_request',
          params: { detail: 'the request target must be a path' },
        });
    });
    void app.register(cookie);
    void app.register(formbody, { bodyLimit: 64 * 1024 });
    this.routes(app);
    return app;
  }

  private routes(app: FastifyInstance): void {
    const views = this.guard('view', { cookie: true, onlyIfViewsLocked: true });
    const page = (html: PageHtml) => ({
      schema: { querystring: pageQuery },
      handler: (req: FastifyRequest, reply: FastifyReply) => this.page(req, reply, html),
    });
    app.get('/', page(dashboardHtml));
    app.get('/callcentre', page(callCentreHtml));
    app.get('/complaints', page(complaintsHtml));
    app.get('/login', { schema: { querystring: pageQuery } }, (req, reply) =>
      reply.type('text/html; charset=utf-8').send(loginHtml(this.langOf(req), null)),
    );
    app.post('/login', { schema: { body: loginForm } }, (req, reply) => this.login(req, reply));
    app.post('/logout', (_req, reply) =>
      reply.clearCookie(SESSION_COOKIE, { path: '/' }).redirect('/login', 303),
    );
    app.get('/api/outages', { schema: { querystring: regionQuery }, onRequest: views }, (req) =>
      this.view(regionOf(req), this.langOf(req)),
    );
    app.get('/api/control-room', { schema: { querystring: regionQuery }, onRequest: views }, (req) =>
      this.controlRoom(regionOf(req), this.langOf(req)),
    );
    app.get('/api/outages/stream', { schema: { querystring: regionQuery }, onRequest: views }, (req, reply) =>
      this.stream(req, reply),
    );
    app.get('/api/customers', { schema: { querystring: customerQuery }, onRequest: views }, (req) =>
      this.customer((req.query as z.infer<typeof customerQuery>).q ?? '', this.langOf(req)),
    );
    app.get(
      '/api/customers/:id',
      { schema: { params: customerParams, querystring: langQuery }, onRequest: views },
      (req) => this.customer((req.params as z.infer<typeof customerParams>).id, this.langOf(req)),
    );
    app.post(
      '/api/commands',
      {
        schema: { body: commandRequestSchema(this.cfg.WEB_CAMPAIGN_MAX) },
        // Bearer header, or the pages' session with X-AMI-Request (never a bare cookie: another
        // site's form could send it). Checked before the body is read.
        onRequest: this.guard('command', { cookie: 'with-header', limit: true }),
      },
      (req, reply) => this.commands(req, reply),
    );
    app.get('/api/whoami', { onRequest: this.guard('view', { cookie: false }) }, (req) => ({
      user: req.amiUser!.user,
      role: req.amiUser!.role,
    }));
    app.get('/metrics', { onRequest: views }, async (_req, reply) =>
      reply.type(this.metrics.registry.contentType).send(await this.metrics.registry.metrics()),
    );
    registerWorkspace(
      app,
      this,
      this.backend,
      {
        pingsPerMin: this.cfg.WEB_PINGS_PER_MIN,
        pingTimeoutMs: this.cfg.WEB_PING_TIMEOUT_S * 1000,
        now: this.now,
      },
      HttpError,
    );
    app.get('/healthz', (_req, reply) => reply.type('text/plain').send('ok\n'));
    app.get('/readyz', (_req, reply) =>
      this.backend.ready()
        ? reply.type('text/plain').send('ready\n')
        : reply.code(503).type('text/plain').send('not ready\n'),
    );
  }

  async listen(): Promise<AddressInfo> {
    // Node drops a CONNECT (proxy tunnel) silently unless someone answers it: refuse it like any odd method.
    this.app.server.on('connect', (_req: unknown, socket: Duplex) =>
      socket.end('HTTP/1.1 405 Method Not Allowed\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'),
    );
    await this.app.listen({ port: this.cfg.WEB_PORT, host: this.cfg.WEB_BIND });
    this.heartbeat = setInterval(() => this.pushAll(), 30_000);
    const address = this.app.server.address() as AddressInfo;
    this.logger.info({ address }, 'web service listening');
    return address;
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    clearTimeout(this.pushTimer);
    for (const c of this.sse) c.res.end();
    this.sse.clear();
    await this.app.close();
  }

  /** Outages changed: push fresh views to open dashboards (coalesced over 250 ms). */
  outagesChanged(): void {
    if (this.pushTimer) return;
    this.pushTimer = setTimeout(() => {
      this.pushTimer = undefined;
      this.pushAll();
    }, 250);
  }

  /**
   * Every error ends here. Client errors (4xx: validation, bad JSON, body too
   * large, auth) say what was wrong. Anything else is logged once with an
   * error id and answered 503 with that id only: a backend's own text
   * (ClickHouse, Kafka) never reaches the client.
   */
  private fail(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
    const lang = this.langOf(req);
    if (err instanceof HttpError)
      return void reply
        .code(err.status)
        .headers(err.headers)
        .send({ error: render(lang, err.said) });
    const invalid = (detail: string) => t(lang, 'error.invalid_request', { detail });
    if (err instanceof ValidationError) return void reply.code(400).send({ error: invalid(err.message) });
    const status = err.statusCode ?? 0;
    if (status >= 400 && status < 500) {
      const hint = status === 413 ? ': split the campaign' : '';
      return void reply.code(status).send({ error: invalid(`${err.message}${hint}`) });
    }
    const errorId = randomUUID();
    this.logger.error(
      { err, error_id: errorId, method: req.method, route: req.routeOptions.url },
      'request failed',
    );
    void reply.code(503).send({ error: t(lang, 'error.unavailable', { id: errorId }), error_id: errorId });
  }

  private userOf(req: FastifyRequest, allowCookie: boolean): User | undefined {
    const users = this.users.list();
    const token = tokenOf(req.headers.authorization);
    if (token) return authenticate(users, token, this.now());
    return allowCookie
      ? verifySession(this.sessionKey, users, req.cookies[SESSION_COOKIE], this.now())
      : undefined;
  }

  private viewsLocked(): boolean {
    return this.cfg.WEB_VIEWS_REQUIRE_AUTH;
  }

  /**
   * onRequest check of a route: the user may do `action` (401/403), before any body is read.
   * `cookie: 'with-header'` (actions from the pages) takes the session cookie only on a request
   * that carries `X-AMI-Request: 1`: a custom header another site cannot send without a CORS
   * preflight, which this service never grants, so a signed-in browser cannot be made to act.
   */
  guard(
    action: Action,
    o: { cookie: boolean | 'with-header'; onlyIfViewsLocked?: boolean; limit?: boolean },
  ): onRequestHookHandler {
    return async (req) => {
      if (o.onlyIfViewsLocked && !this.viewsLocked()) return;
      const cookie = o.cookie === 'with-header' ? req.headers['x-ami-request'] === '1' : o.cookie;
      const user = this.require(this.userOf(req, cookie), action);
      req.amiUser = user;
      if (o.limit) this.limit(this.requestLimiter, user.user, 1, 'command requests');
    };
  }

  require(user: User | undefined, action: Action): User {
    const d = authorize(user, action);
    if (!d.ok)
      throw new HttpError(d.status, d, d.status === 401 ? { 'WWW-Authenticate': 'Bearer realm="ami"' } : {});
    return user!;
  }

  /** `?lang=` first (remembered in a cookie by the pages), then the cookie, else Indonesian. */
  langOf(req: FastifyRequest): Lang {
    return chooseLang((req.query as Record<string, unknown> | undefined)?.lang, req.cookies?.[LANG_COOKIE]);
  }

  private page(req: FastifyRequest, reply: FastifyReply, html: PageHtml): FastifyReply {
    const user = this.userOf(req, true);
    if (this.viewsLocked() && !authorize(user, 'view').ok)
      return reply.redirect(`/login?next=${encodeURIComponent(signInTarget(req.url))}`, 303);
    const lang = this.langOf(req);
    const asked = (req.query as Record<string, unknown>).lang;
    if (isLang(asked))
      void reply.setCookie(LANG_COOKIE, asked, { path: '/', sameSite: 'strict', maxAge: 365 * 86_400 });
    return reply.type('text/html; charset=utf-8').send(html({ lang, user: user ?? null }));
  }

  private login(req: FastifyRequest, reply: FastifyReply): FastifyReply {
    const form = req.body as z.infer<typeof loginForm>;
    const user = authenticate(this.users.list(), form.token, this.now());
    if (!user)
      return reply
        .code(401)
        .type('text/html; charset=utf-8')
        .send(loginHtml(this.langOf(req), t(this.langOf(req), 'login.invalid')));
    const expires = sessionEnd(user, this.cfg.WEB_SESSION_HOURS * 3_600_000, this.now());
    return reply
      .setCookie(SESSION_COOKIE, signSession(this.sessionKey, user, expires), {
        path: '/',
        httpOnly: true,
        sameSite: 'strict',
        secure: this.cfg.WEB_COOKIE_SECURE || req.protocol === 'https',
        maxAge: Math.max(0, Math.floor((expires - this.now()) / 1000)),
      })
      .redirect(signInTarget(form.next), 303);
  }

  view(
    regionFilter: string | null,
    lang: Lang = 'id',
  ): OutagesView & {
    chart_svg: string;
    generated_text: string;
    suspected: LocalSuspectedRow[];
    suspected_totals: SuspectedView['totals'];
  } {
    const outages = [...this.backend.outages()];
    const suspected = buildSuspectedView(
      this.backend.suspected(),
      new Set(outages.map((o) => o.outage_id)),
      regionFilter,
    );
    const v0 = buildView(outages, {
      now: this.now(),
      region: regionFilter,
      restoredWindowMs: this.cfg.WEB_RESTORED_WINDOW_H * 3_600_000,
      chartWindowMs: this.cfg.WEB_CHART_HOURS * 3_600_000,
    });
    const v = withLocalTimes(v0, LOCALE[lang]);
    // The time of the view in the region's zone (WIB for all regions), with its label.
    const zone = regionFilter ? zoneOfRegion(regionFilter) : 'Asia/Jakarta';
    return {
      ...v,
      chart_svg: renderSeriesSvg(v.series, { now: t(lang, 'dash.now'), title: t(lang, 'dash.chart_title') }),
      generated_text: formatZoned(v.generated_at, zone, LOCALE[lang], 'time'),
      // Apart from the confirmed outages above: never counted as customers without supply.
      suspected: localSuspected(suspected.rows, lang),
      suspected_totals: suspected.totals,
    };
  }

  /**
   * The control room's table: this month's SAIDI/SAIFI/CAIDI/MAIFI per ULP from ClickHouse beside
   * the customers without supply now (the live view), and meters silent for over an hour by gardu
   * and by concentrator, the gardus in an outage (confirmed or suspected) told apart.
   */
  private async controlRoom(region: string | null, lang: Lang): Promise<unknown> {
    const now = this.now();
    const live = new Map<string, { region: string; ulp: string; n: number }>();
    const view = this.view(region, lang);
    for (const r of view.active)
      for (const u of r.ulps)
        live.set(`${r.region}\u0000${u.ulp}`, { region: r.region, ulp: u.ulp, n: u.customers_affected });
    const zone = region ? zoneOfRegion(region) : 'Asia/Jakarta';
    const asOf = t(lang, 'ctl.as_of', { time: formatZoned(now, zone, LOCALE[lang], 'time') });
    try {
      const d = await this.backend.controlRoom(now);
      const mine = <T extends { region: string }>(rows: T[]) =>
        rows.filter((x) => !region || x.region === region);
      const rows = new Map(
        mine(d.reliability).map((x) => [`${x.region}\u0000${x.ulp}`, { ...x, customers_without_supply: 0 }]),
      );
      // A ULP with customers out now and no figures this month yet still gets its row.
      for (const [key, l] of live)
        rows.set(key, {
          ...(rows.get(key) ?? {
            region: l.region,
            ulp: l.ulp,
            month: '',
            customers_served: 0,
            saidi_minutes: 0,
            saifi: 0,
            caidi_minutes: 0,
            maifi: 0,
          }),
          customers_without_supply: l.n,
        });
      const reliability = [...rows.values()].sort(
        (a, b) => a.region.localeCompare(b.region) || a.ulp.localeCompare(b.ulp),
      );
      const silent = buildSilentView(mine(d.silent), outageFootprint(view), lang);
      return { available: true, as_of_text: asOf, reliability, silent };
    } catch (err) {
      this.logger.warn({ err }, 'control-room figures from ClickHouse unavailable');
      const silent = buildSilentView([], outageFootprint(view), lang);
      return { available: false, as_of_text: t(lang, 'ctl.unavailable'), reliability: [], silent };
    }
  }

  private stream(req: FastifyRequest, reply: FastifyReply): void {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { ...BASE_HEADERS, 'Content-Type': 'text/event-stream', Connection: 'keep-alive' });
    const client: SseClient = { res, region: regionOf(req), lang: this.langOf(req) };
    this.sse.add(client);
    this.sseGauge.set(this.sse.size);
    req.raw.on('close', () => {
      this.sse.delete(client);
      this.sseGauge.set(this.sse.size);
    });
    this.push(client, new Map());
  }

  /** Runs from timers: an error here is logged, it must not become an uncaught exception. */
  private pushAll(): void {
    const cache = new Map<string, string>();
    try {
      for (const c of this.sse) this.push(c, cache);
    } catch (err) {
      this.logger.error({ err }, 'dashboard push failed');
    }
  }

  private push(c: SseClient, cache: Map<string, string>): void {
    const key = `${c.lang}:${c.region ?? ''}`;
    let data = cache.get(key);
    if (data === undefined) {
      data = JSON.stringify(this.view(c.region, c.lang));
      cache.set(key, data);
    }
    c.res.write(`event: view\ndata: ${data}\n\n`);
  }

  profilesLookup(): ProfileLookup {
    return this.backend.profiles;
  }

  /** The customer of an IDPEL or meter id, or a 400/404 saying what to give. */
  profileOf(q: string): MeterProfile {
    const query = q.trim();
    if (query === '') throw new HttpError(400, { key: 'error.give_id' });
    const profile = this.backend.profiles.byIdpel(query) ?? this.backend.profiles.byMeter(query);
    if (!profile)
      throw new HttpError(404, { key: 'error.no_customer', params: { q: JSON.stringify(query) } });
    return profile;
  }

  private async customer(q: string, lang: Lang): Promise<unknown> {
    const profile = this.profileOf(q);
    const status = this.backend.status(profile.meter_id);
    const outage = status?.outage_id ? this.backend.outage(status.outage_id) : undefined;
    const consumption = await this.backend
      .billing(profile, billingPeriodOf(this.now(), profile.timezone))
      .catch((err: unknown) => {
        this.logger.warn({ err, meter_id: profile.meter_id }, 'billing lookup failed; answering without it');
        return null;
      });
    const suspected = this.suspicionOf(profile);
    return describeMeter({ profile, status, outage, suspected, consumption, lang });
  }

  /** The pending suspected outage covering a meter; one already confirmed (its Outage is known) is not. */
  suspicionOf(profile: MeterProfile): SuspectedOutage | undefined {
    const pending = [...this.backend.suspected()].filter((x) => !this.backend.outage(x.outage_id));
    return suspicionOf(profile, pending);
  }

  limit(limiter: RateLimiter, user: string, cost: number, what: string): void {
    const r = limiter.take(user, cost);
    if (r.ok) return;
    const retry = Number.isFinite(r.retryAfterMs) ? Math.ceil(r.retryAfterMs / 1000) : 60;
    throw new HttpError(
      429,
      { key: 'error.rate_limit', params: { what, user, s: retry } },
      { 'Retry-After': String(retry) },
    );
  }

  private async commands(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const body = req.body as CommandRequest;
    const user = this.require(req.amiUser ?? undefined, `command:${body.type}`);
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
      scope: { regions: user.regions, ulps: user.ulps },
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
    return reply.code(reportStatus(report)).send(report);
  }

  /** Sends the accepted commands; on failure the answer and the audit carry an error id, the log the detail. */
  private async sendCommands(commands: MeterCommand[], rows: AuditRow[]): Promise<string | null> {
    if (commands.length === 0) return null;
    try {
      await this.backend.send(commands);
      return null;
    } catch (err) {
      const errorId = randomUUID();
      const message = `Kafka did not take the commands; error id ${errorId}`;
      this.logger.error({ err, error_id: errorId }, message);
      await this.backend
        .audit(sendFailedRows(rows, message))
        .catch((e: unknown) =>
          this.logger.error({ err: e, error_id: errorId }, 'audit of the failed send failed too'),
        );
      return message;
    }
  }
}

function regionOf(req: FastifyRequest): string | null {
  const r = (req.query as z.infer<typeof regionQuery>).region;
  return r && r.trim() !== '' ? r.trim() : null;
}

/** The gardus and feeders out of supply now, confirmed or suspected: their meters are silent for that. */
function outageFootprint(v: {
  active: OutagesView['active'];
  suspected: readonly LocalSuspectedRow[];
}): OutageFootprint {
  const rows = [
    ...v.active.flatMap((r) => r.ulps.flatMap((u) => u.feeders.flatMap((f) => f.outages))),
    ...v.suspected,
  ];
  return {
    gardus: new Set(rows.flatMap((o) => (o.scope === 'GARDU' && o.gardu_id ? [o.gardu_id] : []))),
    feeders: new Set(rows.flatMap((o) => (o.scope === 'FEEDER' ? [o.feeder_id] : []))),
  };
}
