import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { CallRecord, CommandResult, MeterCommand, MeterProfile } from '@ami/lib';
import type { User } from './auth.js';
import {
  closeComplaintSchema,
  complaintStep,
  logCallSchema,
  newCall,
  openComplaints,
  type Actor,
  type LogCallRequest,
} from './calls.js';
import { auditRows, type RequestContext } from './campaign.js';
import { COMPLAINT_TYPES, LANGS, searchFaq, t, type Lang, type MessageKey } from './catalogue.js';
import { planCommands } from './commands.js';
import { text } from './input.js';
import { pingState, pingText, readOf, reasonText, type PingAnswer, type PingTracker } from './ping.js';
import { RateLimiter } from './rateLimit.js';
import type { AuditRow, StoryData } from './store.js';
import { buildStory, callText } from './story.js';
import { formatLocalTime } from './wording.js';
import type { HttpError as HttpErrorType, WebServer } from './server.js';

/**
 * The CC 123 workspace routes: calls logged as the SOP says, the unit's
 * complaints, the SOP's FAQ, "ping the meter now", the customer's story and the
 * head-end's answers to commands. Every route validates its input with zod and
 * answers in the reader's language.
 */

export interface WorkspaceBackend {
  calls: {
    get(callId: string): CallRecord | undefined;
    ofIdpel(idpel: string): CallRecord[];
    values(): Iterable<CallRecord>;
  };
  /** Publishes a call record (Kafka) and applies it to `calls`. */
  sendCall(record: CallRecord): Promise<void>;
  pings: PingTracker;
  story(p: MeterProfile, now: number): Promise<StoryData>;
  audit(rows: AuditRow[]): Promise<void>;
  send(commands: MeterCommand[]): Promise<void>;
}

export interface WorkspaceOptions {
  pingsPerMin: number;
  pingTimeoutMs: number;
  now: () => number;
}

const langField = z.object({ lang: z.enum(LANGS).optional() });
const qQuery = langField.extend({ q: text(64).optional() });
const idParams = z.object({ id: text(64) });
const pingBody = z.object({ q: text(64) }).strict();

const actorOf = (u: User): Actor => ({ user: u.user, role: u.role, ulps: u.ulps ?? [] });

export function registerWorkspace(
  app: FastifyInstance,
  server: WebServer,
  backend: WorkspaceBackend,
  o: WorkspaceOptions,
  HttpError: typeof HttpErrorType,
): void {
  const pingLimiter = new RateLimiter(o.pingsPerMin, o.pingsPerMin, o.now);
  const fromPage = { cookie: 'with-header' as const };
  const views = server.guard('view', { cookie: true, onlyIfViewsLocked: true });
  const lang = (req: FastifyRequest): Lang => server.langOf(req);
  const refused = (r: { status: number; key: MessageKey; params?: object; keys?: object }) =>
    new HttpError(r.status, r as never);

  app.get('/api/faq', { schema: { querystring: qQuery }, onRequest: views }, (req) => {
    const l = lang(req);
    const q = (req.query as z.infer<typeof qQuery>).q ?? '';
    return { answers: searchFaq(q).map((f) => ({ id: f.id, q: f.q[l], a: f.a[l] })) };
  });

  app.get('/api/complaint-types', { schema: { querystring: langField }, onRequest: views }, (req) => {
    const l = lang(req);
    return {
      types: Object.entries(COMPLAINT_TYPES).map(([code, v]) => ({
        code,
        label: v.label[l],
        subtypes: Object.entries(v.subtypes).map(([sub, label]) => ({ code: sub, label: label[l] })),
      })),
    };
  });

  app.get(
    '/api/customers/:id/story',
    { schema: { params: idParams, querystring: langField }, onRequest: views },
    async (req) => {
      const p = server.profileOf((req.params as z.infer<typeof idParams>).id);
      const now = o.now();
      const data = await backend.story(p, now).catch((err: unknown) => {
        req.log.warn(
          { err, meter_id: p.meter_id },
          'story from ClickHouse unavailable; answering without it',
        );
        return null;
      });
      // An answer the loader has not put in ClickHouse yet may already be here (this instance's tail).
      for (const c of data?.commands ?? []) {
        const r = c.answer === null ? backend.pings.result(c.command_id) : undefined;
        if (r) c.answer = { status: r.status, reason: r.reason, decided_at: r.decided_at };
      }
      return buildStory(data, backend.calls.ofIdpel(p.idpel), p, lang(req), now, server.suspicionOf(p));
    },
  );

  app.post(
    '/api/calls',
    { schema: { body: logCallSchema }, onRequest: server.guard('log_call', fromPage) },
    async (req, reply) => {
      const body = req.body as LogCallRequest;
      const p = server.profileOf(body.q);
      const made = newCall(body, p, actorOf(req.amiUser!), o.now(), randomUUID());
      if (!made.ok) throw refused(made.refusal);
      await backend.sendCall(made.value);
      req.log.info(
        { call_id: made.value.call_id, user: req.amiUser!.user, outcome: body.outcome },
        'call logged',
      );
      return reply.code(201).send(callView(made.value, p.timezone, lang(req)));
    },
  );

  app.get('/api/calls', { schema: { querystring: qQuery }, onRequest: views }, (req) => {
    const p = server.profileOf((req.query as z.infer<typeof qQuery>).q ?? '');
    return { calls: backend.calls.ofIdpel(p.idpel).map((c) => callView(c, p.timezone, lang(req))) };
  });

  app.get(
    '/api/complaints',
    { schema: { querystring: langField }, onRequest: server.guard('complaints', { cookie: true }) },
    (req) => {
      const actor = actorOf(req.amiUser!);
      return {
        ulps: actor.ulps,
        complaints: openComplaints(backend.calls.values(), actor).map((c) =>
          callView(c, zoneOf(c, server), lang(req)),
        ),
      };
    },
  );

  const step = (action: 'WORK_STARTED' | 'CLOSED') => async (req: FastifyRequest) => {
    const id = (req.params as z.infer<typeof idParams>).id;
    const resolution =
      action === 'CLOSED' ? (req.body as z.infer<typeof closeComplaintSchema>).resolution : null;
    const next = complaintStep(backend.calls.get(id), id, action, actorOf(req.amiUser!), o.now(), resolution);
    if (!next.ok) throw refused(next.refusal);
    await backend.sendCall(next.value);
    req.log.info({ call_id: id, user: req.amiUser!.user, action }, 'complaint changed');
    return callView(next.value, zoneOf(next.value, server), lang(req));
  };
  app.post(
    '/api/complaints/:id/work',
    { schema: { params: idParams }, onRequest: server.guard('complaints', fromPage) },
    step('WORK_STARTED'),
  );
  app.post(
    '/api/complaints/:id/close',
    {
      schema: { params: idParams, body: closeComplaintSchema },
      onRequest: server.guard('complaints', fromPage),
    },
    step('CLOSED'),
  );

  app.post(
    '/api/ping',
    { schema: { body: pingBody }, onRequest: server.guard('ping', fromPage) },
    async (req, reply) => {
      const user = req.amiUser!;
      server.limit(pingLimiter, user.user, 1, 'ping');
      const p = server.profileOf((req.body as z.infer<typeof pingBody>).q);
      const now = o.now();
      const ctx: RequestContext = {
        request_id: randomUUID(),
        user: user.user,
        role: user.role,
        type: 'READ_NOW',
        power_limit_va: null,
        reason: 'CC 123 ping',
        now,
      };
      const plan = planCommands(
        { type: 'READ_NOW', idpels: [], meter_ids: [p.meter_id], power_limit_va: null, reason: ctx.reason },
        server.profilesLookup(),
        { user: user.user, now, newId: randomUUID, scope: { regions: user.regions, ulps: user.ulps } },
      );
      // Audited before it is sent, like every command; an AMR meter is refused here.
      await backend.audit(auditRows(plan, ctx));
      const accepted = plan.accepted[0];
      if (!accepted) {
        const r = plan.refused[0]!;
        throw new HttpError(422, { key: 'cmd.refused', params: { message: `${r.code}: ${r.message}` } });
      }
      backend.pings.sent(accepted.command.command_id, p.meter_id, now);
      await backend.send([accepted.command]);
      return reply
        .code(202)
        .send(pingView(backend.pings.answer(accepted.command.command_id, now)!, p, o, lang(req)));
    },
  );

  app.get(
    '/api/ping/:id',
    {
      schema: { params: idParams, querystring: langField },
      onRequest: server.guard('ping', { cookie: true }),
    },
    (req) => {
      const id = (req.params as z.infer<typeof idParams>).id;
      const a = backend.pings.answer(id, o.now());
      if (!a) throw new HttpError(404, { key: 'error.invalid_request', params: { detail: `no ping ${id}` } });
      const p = server.profilesLookup().byMeter(a.meter_id);
      return pingView(a, p, o, lang(req));
    },
  );

  // The head-end's answers to the commands a user sent (the operator's page polls it).
  app.get(
    '/api/command-results',
    {
      schema: { querystring: langField.extend({ ids: text(4000) }) },
      onRequest: server.guard('command', { cookie: true }),
    },
    (req) => {
      const l = lang(req);
      const ids = (req.query as { ids: string }).ids.split(',').slice(0, 100);
      return {
        results: ids.flatMap((id) => {
          const r = backend.pings.result(id.trim());
          return r ? [resultView(r, server, l, o)] : [];
        }),
      };
    },
  );
}

function zoneOf(c: CallRecord, server: WebServer): string {
  return server.profilesLookup().byMeter(c.meter_id)?.timezone ?? 'Asia/Jakarta';
}

export function callView(c: CallRecord, tz: string, lang: Lang) {
  return {
    ...c,
    called_at_text: formatLocalTime(c.called_at, tz, lang),
    updated_at_text: formatLocalTime(c.updated_at, tz, lang),
    status_text: t(lang, `status.${c.status}`),
    summary: callText(c, lang),
    saved_text:
      c.action === 'LOGGED'
        ? c.outcome === 'ISSUE_CLOSED'
          ? t(lang, 'call.saved_closed', { id: c.call_id, time: formatLocalTime(c.called_at, tz, lang) })
          : t(lang, 'call.saved_forwarded', {
              id: c.call_id,
              ulp: c.ulp,
              time: formatLocalTime(c.called_at, tz, lang),
            })
        : c.action === 'CLOSED'
          ? t(lang, 'unit.closed', { id: c.call_id, time: formatLocalTime(c.updated_at, tz, lang) })
          : t(lang, 'unit.started', { id: c.call_id }),
  };
}

function pingView(a: PingAnswer, p: MeterProfile | undefined, o: WorkspaceOptions, lang: Lang) {
  const context = {
    timeZone: p?.timezone ?? 'Asia/Jakarta',
    kdpm: p?.kdpm ?? null,
    gardu_id: p?.gardu_id ?? null,
    timeoutMs: o.pingTimeoutMs,
  };
  return { ...a, text: pingText(a, context, lang) };
}

function resultView(r: CommandResult, server: WebServer, lang: Lang, o: WorkspaceOptions) {
  const p = server.profilesLookup().byMeter(r.meter_id);
  const tz = p?.timezone ?? 'Asia/Jakarta';
  // An operator's READ_NOW reads like an agent's ping: the meter's answer, or why there is none.
  if (r.type === 'READ_NOW') {
    const result = { status: r.status, reason: r.reason, decided_at: r.decided_at };
    const read = readOf(r);
    const state = pingState({ sent_at: r.decided_at, result, read }, r.decided_at, Infinity);
    if (state !== 'WAITING') {
      const answer = {
        command_id: r.command_id,
        meter_id: r.meter_id,
        sent_at: r.decided_at,
        state,
        result,
        read,
      };
      return { ...r, text: pingView(answer, p, o, lang).text };
    }
  }
  return {
    ...r,
    text:
      r.status === 'ACCEPTED'
        ? t(lang, 'cmd.result.ACCEPTED', { type: r.type, time: formatLocalTime(r.decided_at, tz, lang) })
        : t(lang, 'cmd.result.REFUSED', { type: r.type, reason: reasonText(r.reason, lang) }),
  };
}
