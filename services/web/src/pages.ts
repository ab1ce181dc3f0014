/**
 * The browser pages: plain HTML, inline CSS and script, no external files
 * (the operators' network has no internet). Every word comes from the
 * catalogue (catalogue.ts) in the reader's language: the server renders the
 * static text, and the script gets the messages it needs as JSON. Data comes
 * from the JSON and SSE APIs; text is inserted with textContent, never as
 * HTML, except the chart SVG that the server renders from numbers. Every
 * control has a label, live results are announced (role=status / alert), and
 * everything works from the keyboard (native controls only).
 */
import { may, type User } from './auth.js';
import { COMPLAINT_TYPES, FAQ, LANGS, messagesFor, t, type Lang, type MessageKey } from './catalogue.js';

export interface PageContext {
  lang: Lang;
  /** The signed-in user (session cookie), or null when views are open and nobody signed in. */
  user: User | null;
}
export type PageHtml = (ctx: PageContext) => string;

const STYLE = `
body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#0b4f8a;color:#fff;padding:10px 16px;display:flex;gap:20px;align-items:center;flex-wrap:wrap}
header a{color:#fff} header nav{display:flex;gap:16px} main{padding:12px 16px} h1{font-size:18px;margin:0}
h2{font-size:15px;margin:18px 0 6px} .skip{position:absolute;left:-999px} .skip:focus{left:8px;top:8px;background:#fff;color:#000;padding:4px}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{border-bottom:1px solid #e3e3e3;padding:4px 6px;text-align:left;vertical-align:top} th{background:#eef1f5}
tr.g1 td{background:#dde7f3;font-weight:600} tr.g2 td{background:#edf2f8;font-weight:600} tr.g3 td{background:#f7f9fc}
tr.child td{color:#555} .num{text-align:right} .muted{color:#777}
.totals{display:flex;gap:24px;font-size:15px;margin:8px 0} .totals b{font-size:20px}
.cols{display:grid;grid-template-columns:minmax(0,2fr) minmax(260px,1fr);gap:16px}
section.card,aside.card{background:#fff;padding:10px 14px;margin-bottom:12px}
#answer{border-left:6px solid #999}
#answer[data-state=ENERGIZED]{border-color:#2e8b57} #answer[data-state=OUTAGE]{border-color:#c0392b}
#answer[data-state=DISCONNECTED],#answer[data-state=RECONNECT_ENABLED]{border-color:#d68910}
#answer[data-state=POWER_LIMIT_TRIP]{border-color:#8e44ad} #answer[data-suspected]{border-color:#e67e22}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px} dt{color:#666}
input,select,textarea{font-size:15px;padding:4px 6px} button{font-size:15px} .error{color:#c0392b}
fieldset{border:1px solid #ccd;margin:6px 0} label{display:inline-block;margin:4px 8px 4px 0}
:focus-visible{outline:3px solid #f5a623;outline-offset:2px} .ok{color:#1e6b3a}`;

/** JSON for a <script>: `<` escaped so no text can close the element. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Helpers every page script uses: `$`, the messages `M` with `fmt`, and `api` (JSON, page header, language). */
const COMMON_SCRIPT = `
const $ = (id) => document.getElementById(id);
const fmt = (key, p) => (M[key] || key).replace(/\\{(\\w+)\\}/g, (m, n) => (p && p[n] !== undefined ? String(p[n]) : m));
function el(tag, text, attrs) { const e = document.createElement(tag); if (text !== undefined) e.textContent = text;
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v); return e; }
async function api(method, url, body) {
  const sep = url.includes('?') ? '&' : '?';
  const res = await fetch(url + sep + 'lang=' + LANG, { method, headers: body === undefined ? { 'X-AMI-Request': '1' }
    : { 'Content-Type': 'application/json', 'X-AMI-Request': '1' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.error || res.statusText);
  return data;
}`;

function nav(ctx: PageContext, path: string): string {
  const l = ctx.lang;
  const links: [string, MessageKey][] = [
    ['/', 'nav.dashboard'],
    ['/callcentre', 'nav.callcentre'],
  ];
  if (may(ctx.user ?? undefined, 'complaints')) links.push(['/complaints', 'nav.complaints']);
  const items = links
    .map(([href, key]) => `<a href="${href}"${href === path ? ' aria-current="page"' : ''}>${t(l, key)}</a>`)
    .join('');
  const langs = LANGS.map(
    (x) =>
      `<a href="?lang=${x}" data-lang="${x}" lang="${x}"${x === l ? ' aria-current="true"' : ''}>${x === 'id' ? 'Bahasa Indonesia' : 'English'}</a>`,
  ).join(' · ');
  const who = ctx.user
    ? `<span>${escapeHtml(t(l, 'nav.signed_in_as', { user: ctx.user.user, role: ctx.user.role }))}</span>`
    : '';
  return `<nav aria-label="${t(l, 'nav.main')}">${items}</nav><span>${t(l, 'nav.language')}: ${langs}</span>${who}`;
}

function layout(
  ctx: PageContext,
  path: string,
  titleKey: MessageKey,
  body: string,
  script: string,
  prefixes: readonly string[] = [],
): string {
  const title = t(ctx.lang, titleKey);
  const messages = messagesFor(ctx.lang, prefixes);
  return `<!doctype html><html lang="${ctx.lang}"><head><meta charset="utf-8"><title>PLN AMI · ${title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head>
<body><a class="skip" href="#main">${ctx.lang === 'id' ? 'Langsung ke isi' : 'Skip to content'}</a>
<header><h1>PLN AMI · ${title}</h1>${nav(ctx, path)}</header>
<main id="main">${body}</main><script>const LANG = ${scriptJson(ctx.lang)}; const M = ${scriptJson(messages)};
const ROLE = ${scriptJson(ctx.user?.role ?? null)};${COMMON_SCRIPT}
${script}
// The language links keep the page's query (an IDPEL being looked up stays).
for (const a of document.querySelectorAll('a[data-lang]')) { const q = new URLSearchParams(location.search);
  q.set('lang', a.dataset.lang); a.href = '?' + q.toString(); }</script></body></html>`;
}

// ---------------------------------------------------------------- dashboard

function dashboardBody(l: Lang): string {
  const th = (key: MessageKey, cls = '') =>
    `<th scope="col"${cls ? ` class="${cls}"` : ''}>${t(l, key)}</th>`;
  return `
<div><label for="region">${t(l, 'dash.region')}</label> <select id="region"><option value="">${t(l, 'dash.all_regions')}</option></select>
 <span id="conn" class="muted" role="status">${t(l, 'dash.connecting')}</span></div>
<div class="totals"><span>${t(l, 'dash.active_outages')}: <b id="t-active">0</b></span>
 <span>${t(l, 'dash.customers_without_supply')}: <b id="t-customers">0</b></span>
 <span>${t(l, 'dash.tusbung_excluded')}: <b id="t-tusbung">0</b></span>
 <span>${t(l, 'dash.suspected')}: <b id="t-suspected">0</b></span></div>
<h2>${t(l, 'dash.chart_title')}</h2><div id="chart"></div>
<h2 id="active-h">${t(l, 'dash.active_title')}</h2>
<table id="active" aria-labelledby="active-h"><thead><tr>${th('col.gardu')}${th('col.scope')}${th('col.customers_affected', 'num')}
${th('col.tusbung_excluded', 'num')}${th('col.started')}${th('col.duration')}${th('col.outage')}</tr></thead><tbody></tbody></table>
<h2 id="suspected-h">${t(l, 'susp.title')}</h2>
<table id="suspected" aria-labelledby="suspected-h"><thead><tr>${th('col.region')}${th('col.ulp')}${th('susp.col.where')}${th('susp.col.status')}
${th('col.started')}${th('col.duration')}${th('susp.col.last_gasps', 'num')}${th('susp.col.customers', 'num')}${th('susp.col.verification')}${th('col.outage')}</tr></thead><tbody></tbody></table>
<h2 id="rel-h">${t(l, 'ctl.reliability_title')}</h2><p id="ctl-as-of" class="muted"></p>
<table id="reliability" aria-labelledby="rel-h"><thead><tr>${th('col.region')}${th('col.ulp')}${th('ctl.col.live', 'num')}${th('ctl.col.served', 'num')}
${th('ctl.col.saidi', 'num')}${th('ctl.col.saifi', 'num')}${th('ctl.col.caidi', 'num')}${th('ctl.col.maifi', 'num')}</tr></thead><tbody></tbody></table>
<h2 id="silent-h">${t(l, 'ctl.silent_title')}</h2>
<table id="silent" aria-labelledby="silent-h"><thead><tr>${th('col.region')}${th('col.ulp')}${th('col.gardu')}${th('ctl.col.silent_of', 'num')}
${th('ctl.col.plc', 'num')}${th('ctl.col.direct', 'num')}${th('ctl.col.diagnosis')}${th('ctl.col.examples')}</tr></thead><tbody></tbody></table>
<h2 id="silent-dcu-h">${t(l, 'ctl.silent_dcu_title')}</h2>
<table id="silent-dcu" aria-labelledby="silent-dcu-h"><thead><tr>${th('col.region')}${th('col.ulp')}${th('ctl.col.concentrator')}${th('ctl.col.plc_silent', 'num')}
${th('ctl.col.diagnosis')}</tr></thead><tbody></tbody></table>
<h2 id="restored-h">${t(l, 'dash.restored_title')}</h2>
<table id="restored" aria-labelledby="restored-h"><thead><tr>${th('col.region')}${th('col.ulp')}${th('col.feeder')}${th('col.gardu')}${th('col.scope')}
${th('col.customers_affected', 'num')}${th('col.started')}${th('col.restored')}${th('col.duration')}${th('col.outage')}</tr></thead><tbody></tbody></table>`;
}

const DASHBOARD_SCRIPT = `
let skew = 0, source = null;
function cell(tr, text, cls) { const td = tr.insertCell(); td.textContent = text; if (cls) td.className = cls; return td; }
function dur(ms) { const s = Math.max(0, Math.floor(ms / 1000)), h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), x = s % 60;
  const mmss = String(m).padStart(2, '0') + ':' + String(x).padStart(2, '0'); return h > 0 ? h + ':' + mmss : mmss; }
function group(tbody, cls, label, customers) { const tr = tbody.insertRow(); tr.className = cls;
  const td = cell(tr, fmt('dash.group_customers', { label, n: customers })); td.colSpan = 7; }
function renderActive(view) {
  const tbody = $('active').tBodies[0]; tbody.replaceChildren();
  if (view.active.length === 0) { const td = cell(tbody.insertRow(), M['dash.no_active'], 'muted'); td.colSpan = 7; }
  for (const r of view.active) { group(tbody, 'g1', M['col.region'] + ' ' + r.region, r.customers_affected);
    for (const u of r.ulps) { group(tbody, 'g2', 'ULP ' + u.ulp, u.customers_affected);
      for (const f of u.feeders) { group(tbody, 'g3', M['col.feeder'] + ' ' + f.feeder_id, f.customers_affected);
        for (const o of f.outages) { const tr = tbody.insertRow(); tr.dataset.outageId = o.outage_id;
          if (o.parent_outage_id) tr.className = 'child';
          cell(tr, (o.parent_outage_id ? '└ ' : '') + (o.gardu_id || '—')); cell(tr, M['scope.' + o.scope] || o.scope);
          cell(tr, String(o.customers_affected), 'num'); cell(tr, String(o.tusbung_excluded), 'num');
          cell(tr, o.started_text, 'started'); cell(tr, dur(Date.now() + skew - o.started_at), 'dur').dataset.start = o.started_at;
          cell(tr, o.outage_id + (o.parent_outage_id ? ' ' + fmt('dash.part_of', { id: o.parent_outage_id }) : '')); } } } }
}
function renderRestored(view) {
  const tbody = $('restored').tBodies[0]; tbody.replaceChildren();
  for (const o of view.restored) { const tr = tbody.insertRow(); tr.dataset.outageId = o.outage_id;
    for (const v of [o.region, o.ulp, o.feeder_id, o.gardu_id || '—', M['scope.' + o.scope] || o.scope]) cell(tr, v);
    cell(tr, String(o.customers_affected), 'num'); cell(tr, o.started_text); cell(tr, o.restored_text);
    cell(tr, dur(o.restored_at - o.started_at)); cell(tr, o.outage_id); }
}
function renderSuspected(view) {
  const tbody = $('suspected').tBodies[0]; tbody.replaceChildren();
  if (view.suspected.length === 0) { const td = cell(tbody.insertRow(), M['susp.none'], 'muted'); td.colSpan = 10; }
  for (const o of view.suspected) { const tr = tbody.insertRow(); tr.dataset.outageId = o.outage_id; tr.dataset.status = o.status;
    for (const v of [o.region, o.ulp, o.where_text, o.status_text, o.started_text]) cell(tr, v);
    cell(tr, dur(Date.now() + skew - o.started_at), 'dur').dataset.start = o.started_at;
    cell(tr, String(o.last_gasps), 'num'); cell(tr, String(o.customers_total), 'num');
    cell(tr, o.verification_text); cell(tr, o.outage_id); }
}
function renderRegions(view) {
  const sel = $('region'), want = view.region || '';
  const have = [...sel.options].map((o) => o.value).slice(1).join(',');
  if (have !== view.regions.join(',')) { sel.replaceChildren(new Option(M['dash.all_regions'], ''), ...view.regions.map((r) => new Option(r, r))); }
  sel.value = want;
}
function render(view) {
  skew = view.generated_at - Date.now();
  $('t-active').textContent = view.totals.active; $('t-customers').textContent = view.totals.customers_affected;
  $('t-tusbung').textContent = view.totals.tusbung_excluded;
  $('t-suspected').textContent = view.suspected.length;
  $('chart').innerHTML = view.chart_svg;
  renderRegions(view); renderActive(view); renderSuspected(view); renderRestored(view);
  $('conn').textContent = fmt('dash.live', { time: view.generated_text });
}
function connect(region) {
  if (source) source.close();
  source = new EventSource('/api/outages/stream?lang=' + LANG + (region ? '&region=' + encodeURIComponent(region) : ''));
  source.addEventListener('view', (e) => render(JSON.parse(e.data)));
  source.onerror = () => { $('conn').textContent = M['dash.reconnecting']; };
}
setInterval(() => { for (const td of document.querySelectorAll('td.dur')) td.textContent = dur(Date.now() + skew - Number(td.dataset.start)); }, 1000);
$('region').addEventListener('change', (e) => { const r = e.target.value;
  history.replaceState(null, '', r ? '?region=' + encodeURIComponent(r) : location.pathname); connect(r); });
connect(new URLSearchParams(location.search).get('region') || '');
const num = (v, d) => Number(v).toLocaleString(LANG === 'id' ? 'id-ID' : 'en-GB', { maximumFractionDigits: d });
function emptyRow(tbody, text, span) { const td = cell(tbody.insertRow(), text, 'muted'); td.colSpan = span; }
async function controlRoom() {
  const region = $('region').value;
  const c = await api('GET', '/api/control-room' + (region ? '?region=' + encodeURIComponent(region) : ''));
  $('ctl-as-of').textContent = c.as_of_text;
  const rel = $('reliability').tBodies[0]; rel.replaceChildren();
  if (c.reliability.length === 0) emptyRow(rel, M['ctl.none'], 8);
  for (const r of c.reliability) { const tr = rel.insertRow(); tr.dataset.ulp = r.ulp; cell(tr, r.region); cell(tr, r.ulp);
    cell(tr, num(r.customers_without_supply, 0), 'num');
    // No figures this month yet for this ULP (only a live outage): a dash, never a misleading 0.
    const fig = (v, d) => (r.month ? num(v, d) : '—');
    cell(tr, fig(r.customers_served, 0), 'num');
    for (const [v, d] of [[r.saidi_minutes, 2], [r.saifi, 3], [r.caidi_minutes, 1], [r.maifi, 3]]) cell(tr, fig(v, d), 'num'); }
  const of = (x) => num(x.silent, 0) + ' / ' + num(x.meters, 0);
  const sil = $('silent').tBodies[0]; sil.replaceChildren();
  if (c.silent.by_gardu.length === 0) emptyRow(sil, M['ctl.no_silent'], 8);
  for (const s of c.silent.by_gardu) { const tr = sil.insertRow(); tr.dataset.gardu = s.gardu_id; tr.dataset.diagnosis = s.diagnosis;
    for (const v of [s.region, s.ulp, s.gardu_id]) cell(tr, v);
    for (const x of [s.ami, s.plc, s.direct]) cell(tr, of(x), 'num');
    cell(tr, s.diagnosis_text); cell(tr, s.examples.join(', ')); }
  const dcu = $('silent-dcu').tBodies[0]; dcu.replaceChildren();
  if (c.silent.by_concentrator.length === 0) emptyRow(dcu, M['ctl.no_silent_dcu'], 5);
  for (const s of c.silent.by_concentrator) { const tr = dcu.insertRow(); tr.dataset.gardu = s.gardu_id;
    if (s.all_silent) tr.dataset.down = 'true';
    for (const v of [s.region, s.ulp, s.concentrator_text]) cell(tr, v); cell(tr, of(s.plc), 'num'); cell(tr, s.diagnosis_text); }
}
const refreshControlRoom = () => controlRoom().catch((err) => { $('ctl-as-of').textContent = err.message; });
refreshControlRoom(); setInterval(refreshControlRoom, 60000); $('region').addEventListener('change', refreshControlRoom);`;

export const dashboardHtml: PageHtml = (ctx) =>
  layout(ctx, '/', 'nav.dashboard', dashboardBody(ctx.lang), DASHBOARD_SCRIPT, [
    'dash.',
    'col.',
    'scope.',
    'ctl.',
    'susp.',
  ]);

// ---------------------------------------------------------------- call centre

function faqPanel(l: Lang): string {
  const items = FAQ.map(
    (f) =>
      `<details id="faq-${f.id}" data-faq="${f.id}"><summary>${escapeHtml(f.q[l])}</summary><p>${escapeHtml(f.a[l])}</p></details>`,
  ).join('');
  return `<aside class="card" aria-labelledby="faq-h"><h2 id="faq-h">${t(l, 'faq.title')}</h2>
<label for="faq-q">${t(l, 'faq.search')}</label> <input id="faq-q" type="search" autocomplete="off">
<p id="faq-none" class="muted" hidden>${t(l, 'faq.none')}</p><div id="faq-list">${items}</div></aside>`;
}

function callForm(l: Lang): string {
  const types = Object.entries(COMPLAINT_TYPES)
    .map(([code, v]) => `<option value="${code}">${escapeHtml(v.label[l])}</option>`)
    .join('');
  const outcome = (o: string, checked: boolean) =>
    `<label><input type="radio" name="outcome" value="${o}"${checked ? ' checked' : ''}> ${escapeHtml(t(l, `call.outcome.${o}` as MessageKey))}</label><br>`;
  return `<section class="card" id="call" aria-labelledby="call-h" hidden><h2 id="call-h">${t(l, 'call.title')}</h2>
<form id="call-form"><label for="call-keyword">${t(l, 'call.keyword')}</label> <input id="call-keyword" value="KWH METER AMI" readonly size="16"><br>
<label for="call-type">${t(l, 'call.type')}</label> <select id="call-type" required>${types}</select>
<label for="call-subtype">${t(l, 'call.subtype')}</label> <select id="call-subtype" required></select><br>
<label for="call-notes">${t(l, 'call.notes')}</label><br><textarea id="call-notes" rows="2" cols="70" maxlength="2000"></textarea>
<fieldset><legend>${t(l, 'call.outcome')}</legend>${outcome('ISSUE_CLOSED', true)}${outcome('FORWARDED_TO_UNIT', false)}</fieldset>
<button type="submit">${t(l, 'call.submit')}</button></form>
<p id="call-result" role="status"></p>
<h3 id="calls-h">${t(l, 'call.history')}</h3><ul id="calls" aria-labelledby="calls-h"></ul></section>`;
}

function commandForm(l: Lang): string {
  const types = ['DISCONNECT', 'ENABLE_RECONNECT', 'READ_NOW']
    .map((c) => `<option value="${c}">${t(l, `cmd.type.${c}` as MessageKey)}</option>`)
    .join('');
  return `<section class="card" id="cmd" aria-labelledby="cmd-h" hidden><h2 id="cmd-h">${t(l, 'cmd.title')}</h2>
<form id="cmd-form"><label for="cmd-type">${t(l, 'cmd.type')}</label> <select id="cmd-type">${types}</select>
<label for="cmd-reason">${t(l, 'cmd.reason')}</label> <input id="cmd-reason" maxlength="500" size="30">
<button type="submit">${t(l, 'cmd.submit')}</button></form><p id="cmd-result" role="status"></p></section>`;
}

function callCentreBody(ctx: PageContext): string {
  const l = ctx.lang;
  const th = (key: MessageKey) => `<th scope="col">${t(l, key)}</th>`;
  return `
<form id="lookup" role="search"><label for="q">${t(l, 'cc.lookup_label')}</label> <input id="q" name="q" autocomplete="off" autofocus>
 <button type="submit">${t(l, 'cc.lookup_submit')}</button></form>
<p id="error" class="error" role="alert"></p>
<div class="cols"><div>
<section id="answer" class="card" hidden aria-labelledby="headline">
 <h2 id="headline"></h2><p id="detail"></p><h3>${t(l, 'cc.advice_title')}</h3><ol id="advice"></ol><ul id="advice-faq"></ul>
 <dl><dt>${t(l, 'cc.idpel')}</dt><dd id="idpel"></dd><dt>${t(l, 'cc.meter')}</dt><dd id="meter"></dd><dt>${t(l, 'cc.kdpm')}</dt><dd id="kdpm"></dd>
 <dt>${t(l, 'cc.tariff')}</dt><dd id="tariff"></dd><dt>${t(l, 'cc.unit')}</dt><dd id="unit"></dd></dl>
 <p id="consumption"></p>
 <div id="ping-box" hidden><button type="button" id="ping">${t(l, 'ping.button')}</button> <span id="ping-result" role="status"></span></div>
</section>
${callForm(l)}
${commandForm(l)}
<section id="story" class="card" hidden aria-labelledby="read-h">
 <h2 id="read-h">${t(l, 'read.title')}</h2><p id="latest-read"></p>
 <h2 id="bills-h">${t(l, 'bills.title')}</h2>
 <table id="bills" aria-labelledby="bills-h"><thead><tr>${th('bills.col.period')}${th('bills.col.kwh')}${th('bills.col.rp')}${th('bills.col.basis')}</tr></thead><tbody></tbody></table>
 <h2 id="timeline-h">${t(l, 'story.title')}</h2>
 <table id="timeline" aria-labelledby="timeline-h"><thead><tr>${th('story.col.time')}${th('story.col.what')}</tr></thead><tbody></tbody></table>
</section></div>
${faqPanel(l)}</div>`;
}

const CC_SCRIPT = `
const TYPES = TYPES_JSON;
let current = null, pingTimer = null;
const mayDo = { ping: ['agent', 'operator', 'admin'], log: ['agent', 'admin'], command: ['operator', 'admin'] };
function fillSubtypes() { const t = TYPES[$('call-type').value];
  $('call-subtype').replaceChildren(...Object.entries(t.subtypes).map(([c, label]) => new Option(label, c))); }
function list(ul, items, make) { ul.replaceChildren(...items.map(make)); }
async function loadStory(q) {
  const s = await api('GET', '/api/customers/' + encodeURIComponent(q) + '/story');
  $('latest-read').textContent = s.latest_read_text;
  const bills = $('bills').tBodies[0]; bills.replaceChildren();
  if (s.bills.length === 0) { const td = bills.insertRow().insertCell(); td.colSpan = 4; td.textContent = M['bills.none']; }
  for (const b of s.bills) { const tr = bills.insertRow(); tr.dataset.period = b.billing_period;
    for (const v of [b.period_text, b.kwh_text, b.amount_text, b.basis_text]) tr.insertCell().textContent = v; }
  const tl = $('timeline').tBodies[0]; tl.replaceChildren();
  if (s.timeline.length === 0) { const td = tl.insertRow().insertCell(); td.colSpan = 2; td.textContent = M['story.none']; }
  for (const e of s.timeline) { const tr = tl.insertRow(); tr.dataset.kind = e.kind;
    tr.insertCell().textContent = e.at_text; tr.insertCell().textContent = e.text; }
  $('story').hidden = false;
}
async function loadCalls(q) {
  const r = await api('GET', '/api/calls?q=' + encodeURIComponent(q));
  if (r.calls.length === 0) { $('calls').replaceChildren(el('li', M['call.none'])); return; }
  list($('calls'), r.calls, (c) => el('li', c.called_at_text + ' · ' + c.summary, { 'data-call-id': c.call_id }));
}
function showFaqLinks(ids) {
  list($('advice-faq'), ids, (id) => { const d = $('faq-' + id); const li = el('li');
    const a = el('a', fmt('cc.see_answer', { q: d ? d.querySelector('summary').textContent : id }), { href: '#faq-' + id });
    a.addEventListener('click', () => { if (d) { d.open = true; d.querySelector('summary').focus(); } }); li.append(a); return li; });
}
async function lookup(q) {
  $('error').textContent = ''; const box = $('answer');
  let a; try { a = await api('GET', '/api/customers?q=' + encodeURIComponent(q)); }
  catch (err) { box.hidden = true; $('story').hidden = true; $('call').hidden = true; $('cmd').hidden = true; $('error').textContent = err.message; return; }
  current = a;
  box.dataset.state = a.state || 'AMR';
  if (a.suspected) box.dataset.suspected = a.suspected.status; else delete box.dataset.suspected;
  $('headline').textContent = a.headline; $('detail').textContent = a.detail;
  list($('advice'), a.advice, (t) => el('li', t)); showFaqLinks(a.faq);
  $('idpel').textContent = a.idpel; $('meter').textContent = a.meter_id;
  $('kdpm').textContent = a.kdpm + ' — ' + a.kdpm_label;
  $('tariff').textContent = a.tariff + ' / ' + a.daya_va + ' VA';
  $('unit').textContent = fmt('cc.unit_text', { region: a.region, ulp: a.ulp, gardu: a.gardu_id });
  $('consumption').textContent = a.consumption_text; box.hidden = false;
  $('ping-box').hidden = !(a.ami && mayDo.ping.includes(ROLE)); $('ping-result').textContent = '';
  delete $('ping-result').dataset.state;
  $('call').hidden = !mayDo.log.includes(ROLE); $('call-result').textContent = '';
  $('cmd').hidden = !(a.ami && mayDo.command.includes(ROLE)); $('cmd-result').textContent = '';
  await Promise.all([loadStory(a.idpel), loadCalls(a.idpel)]).catch((err) => { $('error').textContent = err.message; });
}
$('call-type').addEventListener('change', fillSubtypes); fillSubtypes();
$('lookup').addEventListener('submit', (e) => { e.preventDefault(); const q = $('q').value.trim();
  history.replaceState(null, '', '?q=' + encodeURIComponent(q)); lookup(q); });
$('ping').addEventListener('click', async () => {
  clearInterval(pingTimer); $('ping').disabled = true; delete $('ping-result').dataset.state;
  try { let p = await api('POST', '/api/ping', { q: current.meter_id }); $('ping-result').textContent = p.text;
    $('ping-result').dataset.state = p.state;
    pingTimer = setInterval(async () => { try { p = await api('GET', '/api/ping/' + p.command_id);
      $('ping-result').textContent = p.text; $('ping-result').dataset.state = p.state;
      if (p.state !== 'WAITING') { clearInterval(pingTimer); $('ping').disabled = false; loadStory(current.idpel); } }
      catch (err) { clearInterval(pingTimer); $('ping').disabled = false; $('ping-result').textContent = err.message; } }, 1000); }
  catch (err) { $('ping-result').textContent = err.message; $('ping').disabled = false; }
});
$('call-form').addEventListener('submit', async (e) => { e.preventDefault();
  const outcome = document.querySelector('input[name=outcome]:checked').value;
  try { const c = await api('POST', '/api/calls', { q: current.idpel, complaint_type: $('call-type').value,
      complaint_subtype: $('call-subtype').value, outcome, notes: $('call-notes').value });
    $('call-result').className = 'ok'; $('call-result').textContent = c.saved_text; $('call-notes').value = '';
    await Promise.all([loadCalls(current.idpel), loadStory(current.idpel)]); }
  catch (err) { $('call-result').className = 'error'; $('call-result').textContent = err.message; }
});
$('cmd-form').addEventListener('submit', async (e) => { e.preventDefault(); const type = $('cmd-type').value;
  const reason = $('cmd-reason').value.trim();
  let r; try { r = await api('POST', '/api/commands', { type, meter_ids: [current.meter_id], reason: reason || null }); }
  catch (err) { $('cmd-result').textContent = err.message; return; }
  const res = r.results[0];
  if (res.result !== 'SENT') { $('cmd-result').textContent = fmt('cmd.refused', { message: res.code + ': ' + res.message }); return; }
  $('cmd-result').textContent = fmt('cmd.sent', { type });
  const deadline = Date.now() + 30000;
  const poll = setInterval(async () => { const x = await api('GET', '/api/command-results?ids=' + res.command_id).catch(() => ({ results: [] }));
    if (x.results.length > 0) { clearInterval(poll); $('cmd-result').textContent = x.results[0].text; $('cmd-result').dataset.status = x.results[0].status;
      setTimeout(() => lookup(current.idpel), 1500); }
    else if (Date.now() > deadline) { clearInterval(poll); $('cmd-result').textContent = M['answer.none']; } }, 1000);
});
$('faq-q').addEventListener('input', async () => { const r = await api('GET', '/api/faq?q=' + encodeURIComponent($('faq-q').value));
  const keep = new Set(r.answers.map((a) => a.id));
  for (const d of document.querySelectorAll('[data-faq]')) d.hidden = !keep.has(d.dataset.faq);
  $('faq-none').hidden = keep.size > 0; });
const first = new URLSearchParams(location.search).get('q'); if (first) { $('q').value = first; lookup(first); }`;

export const callCentreHtml: PageHtml = (ctx) => {
  const types = Object.fromEntries(
    Object.entries(COMPLAINT_TYPES).map(([code, v]) => [
      code,
      {
        label: v.label[ctx.lang],
        subtypes: Object.fromEntries(Object.entries(v.subtypes).map(([s, x]) => [s, x[ctx.lang]])),
      },
    ]),
  );
  return layout(
    ctx,
    '/callcentre',
    'nav.callcentre',
    callCentreBody(ctx),
    CC_SCRIPT.replace('TYPES_JSON', scriptJson(types)),
    ['cc.', 'call.', 'bills.', 'story.', 'answer.', 'cmd.', 'faq.', 'ping.'],
  );
};

// ---------------------------------------------------------------- unit complaints

function complaintsBody(ctx: PageContext): string {
  const l = ctx.lang;
  const ulps = ctx.user?.ulps ?? [];
  const title = ulps.length > 0 ? t(l, 'unit.title', { ulp: ulps.join(', ') }) : t(l, 'unit.title_all');
  const th = (key: MessageKey) => `<th scope="col">${t(l, key)}</th>`;
  return `<h2 id="complaints-h">${escapeHtml(title)}</h2><p id="unit-result" role="status"></p><p id="error" class="error" role="alert"></p>
<table id="complaints" aria-labelledby="complaints-h"><thead><tr>${th('unit.col.called_at')}${th('unit.col.customer')}${th('unit.col.type')}
${th('unit.col.notes')}${th('unit.col.status')}${th('unit.col.action')}</tr></thead><tbody></tbody></table>`;
}

const COMPLAINTS_SCRIPT = `
function row(c) { const tr = el('tr', undefined, { 'data-call-id': c.call_id });
  for (const v of [c.called_at_text, c.idpel + ' · ' + c.meter_id + ' · gardu ' + c.gardu_id, c.summary, c.notes, c.status_text]) tr.append(el('td', v));
  const act = el('td');
  if (c.status === 'OPEN') { const b = el('button', M['unit.work'], { type: 'button' });
    b.addEventListener('click', () => step(c.call_id, 'work')); act.append(b); }
  const f = el('form'); const id = 'res-' + c.call_id;
  const lab = el('label', fmt('unit.resolution', { id: c.call_id }), { for: id });
  const ta = el('textarea', undefined, { id, rows: '2', cols: '30', maxlength: '2000' });
  f.append(lab, el('br'), ta, el('button', M['unit.close'], { type: 'submit' }));
  f.addEventListener('submit', (e) => { e.preventDefault(); step(c.call_id, 'close', { resolution: ta.value }); });
  act.append(f); tr.append(act); return tr; }
async function load() { const r = await api('GET', '/api/complaints'); const tb = $('complaints').tBodies[0];
  if (r.complaints.length === 0) { const td = el('td', M['unit.none']); td.colSpan = 6; const tr = el('tr'); tr.append(td); tb.replaceChildren(tr); return; }
  tb.replaceChildren(...r.complaints.map(row)); }
async function step(id, what, body) { $('error').textContent = '';
  try { const c = await api('POST', '/api/complaints/' + encodeURIComponent(id) + '/' + what, body || {});
    $('unit-result').textContent = c.saved_text; await load(); }
  catch (err) { $('error').textContent = err.message; } }
load().catch((err) => { $('error').textContent = err.message; }); setInterval(() => load().catch(() => {}), 10000);`;

export const complaintsHtml: PageHtml = (ctx) =>
  layout(ctx, '/complaints', 'nav.complaints', complaintsBody(ctx), COMPLAINTS_SCRIPT, ['unit.']);

// ---------------------------------------------------------------- sign-in

export function loginHtml(lang: Lang, error: string | null): string {
  const body = `<form method="post" action="/login"><p>${t(lang, 'login.prompt')}</p>
<label for="token">${t(lang, 'login.token')}</label> <input type="password" id="token" name="token" size="60" autocomplete="off"> <input type="hidden" name="next" id="next">
<button type="submit">${t(lang, 'login.submit')}</button></form>${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}`;
  return layout(
    { lang, user: null },
    '/login',
    'title.signin',
    body,
    `document.getElementById('next').value = new URLSearchParams(location.search).get('next') || '/';`,
  );
}
