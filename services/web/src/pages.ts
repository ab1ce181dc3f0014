/**
 * The browser pages: plain HTML, inline CSS and script, no external files
 * (the operators' network has no internet). Data comes from the JSON and SSE
 * APIs; text is inserted with textContent, never as HTML, except the chart SVG
 * that the server renders from numbers.
 */

const STYLE = `
body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#0b4f8a;color:#fff;padding:10px 16px;display:flex;gap:24px;align-items:center}
header a{color:#fff} main{padding:12px 16px} h1{font-size:18px;margin:0} h2{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{border-bottom:1px solid #e3e3e3;padding:4px 6px;text-align:left} th{background:#eef1f5}
tr.g1 td{background:#dde7f3;font-weight:600} tr.g2 td{background:#edf2f8;font-weight:600} tr.g3 td{background:#f7f9fc}
tr.child td{color:#555} .num{text-align:right} .muted{color:#777}
.totals{display:flex;gap:24px;font-size:15px;margin:8px 0} .totals b{font-size:20px}
#answer{background:#fff;padding:12px 16px;border-left:6px solid #999;max-width:860px}
#answer[data-state=ENERGIZED]{border-color:#2e8b57} #answer[data-state=OUTAGE]{border-color:#c0392b}
#answer[data-state=DISCONNECTED],#answer[data-state=RECONNECT_ENABLED]{border-color:#d68910}
#answer[data-state=POWER_LIMIT_TRIP]{border-color:#8e44ad}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px} dt{color:#666}
input{font-size:15px;padding:4px 6px} button{font-size:15px} .error{color:#c0392b}`;

function layout(title: string, body: string, script: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head>
<body><header><h1>PLN AMI · ${title}</h1><a href="/">Grid operations</a><a href="/callcentre">Call centre (CC 123)</a></header>
<main>${body}</main><script>${script}</script></body></html>`;
}

const DASHBOARD_BODY = `
<div>Region: <select id="region"><option value="">All regions</option></select>
 <span id="conn" class="muted">connecting…</span></div>
<div class="totals"><span>Active outages: <b id="t-active">0</b></span>
 <span>Customers without supply: <b id="t-customers">0</b></span>
 <span>Tusbung excluded: <b id="t-tusbung">0</b></span></div>
<h2>Customers without supply (grid outages)</h2><div id="chart"></div>
<h2>Active outages</h2>
<table id="active"><thead><tr><th>Gardu</th><th>Scope</th><th class="num">Customers affected</th>
<th class="num">Tusbung excluded</th><th>Started</th><th>Duration</th><th>Outage</th></tr></thead><tbody></tbody></table>
<h2>Recently restored</h2>
<table id="restored"><thead><tr><th>Region</th><th>ULP</th><th>Feeder</th><th>Gardu</th><th>Scope</th>
<th class="num">Customers affected</th><th>Started</th><th>Restored</th><th>Duration</th><th>Outage</th></tr></thead><tbody></tbody></table>`;

const DASHBOARD_SCRIPT = `
const $ = (id) => document.getElementById(id);
let skew = 0, source = null;
function cell(tr, text, cls) { const td = tr.insertCell(); td.textContent = text; if (cls) td.className = cls; return td; }
function dur(ms) { const s = Math.max(0, Math.floor(ms / 1000)), h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), x = s % 60;
  const mmss = String(m).padStart(2, '0') + ':' + String(x).padStart(2, '0'); return h > 0 ? h + ':' + mmss : mmss; }
const time = (ms) => new Date(ms).toLocaleString();
function group(tbody, cls, label, customers) { const tr = tbody.insertRow(); tr.className = cls;
  const td = cell(tr, label + ' · ' + customers + ' customers without supply'); td.colSpan = 7; }
function renderActive(view) {
  const tbody = $('active').tBodies[0]; tbody.replaceChildren();
  if (view.active.length === 0) { const td = cell(tbody.insertRow(), 'No active outages.', 'muted'); td.colSpan = 7; }
  for (const r of view.active) { group(tbody, 'g1', 'Region ' + r.region, r.customers_affected);
    for (const u of r.ulps) { group(tbody, 'g2', 'ULP ' + u.ulp, u.customers_affected);
      for (const f of u.feeders) { group(tbody, 'g3', 'Feeder ' + f.feeder_id, f.customers_affected);
        for (const o of f.outages) { const tr = tbody.insertRow(); tr.dataset.outageId = o.outage_id;
          if (o.parent_outage_id) tr.className = 'child';
          cell(tr, (o.parent_outage_id ? '└ ' : '') + (o.gardu_id || '—')); cell(tr, o.scope);
          cell(tr, String(o.customers_affected), 'num'); cell(tr, String(o.tusbung_excluded), 'num');
          cell(tr, time(o.started_at)); cell(tr, dur(Date.now() + skew - o.started_at), 'dur').dataset.start = o.started_at;
          cell(tr, o.outage_id + (o.parent_outage_id ? ' (part of ' + o.parent_outage_id + ')' : '')); } } } }
}
function renderRestored(view) {
  const tbody = $('restored').tBodies[0]; tbody.replaceChildren();
  for (const o of view.restored) { const tr = tbody.insertRow(); tr.dataset.outageId = o.outage_id;
    for (const v of [o.region, o.ulp, o.feeder_id, o.gardu_id || '—', o.scope]) cell(tr, v);
    cell(tr, String(o.customers_affected), 'num'); cell(tr, time(o.started_at)); cell(tr, time(o.restored_at));
    cell(tr, dur(o.restored_at - o.started_at)); cell(tr, o.outage_id); }
}
function renderRegions(view) {
  const sel = $('region'), want = view.region || '';
  const have = [...sel.options].map((o) => o.value).slice(1).join(',');
  if (have !== view.regions.join(',')) { sel.replaceChildren(new Option('All regions', ''), ...view.regions.map((r) => new Option(r, r))); }
  sel.value = want;
}
function render(view) {
  skew = view.generated_at - Date.now();
  $('t-active').textContent = view.totals.active; $('t-customers').textContent = view.totals.customers_affected;
  $('t-tusbung').textContent = view.totals.tusbung_excluded;
  $('chart').innerHTML = view.chart_svg;
  renderRegions(view); renderActive(view); renderRestored(view);
  $('conn').textContent = 'live · updated ' + new Date().toLocaleTimeString();
}
function connect(region) {
  if (source) source.close();
  source = new EventSource('/api/outages/stream' + (region ? '?region=' + encodeURIComponent(region) : ''));
  source.addEventListener('view', (e) => render(JSON.parse(e.data)));
  source.onerror = () => { $('conn').textContent = 'reconnecting…'; };
}
setInterval(() => { for (const td of document.querySelectorAll('td.dur')) td.textContent = dur(Date.now() + skew - Number(td.dataset.start)); }, 1000);
$('region').addEventListener('change', (e) => { const r = e.target.value;
  history.replaceState(null, '', r ? '?region=' + encodeURIComponent(r) : location.pathname); connect(r); });
connect(new URLSearchParams(location.search).get('region') || '');`;

export function dashboardHtml(): string {
  return layout('Grid operations', DASHBOARD_BODY, DASHBOARD_SCRIPT);
}

const CC_BODY = `
<form id="lookup"><label>IDPEL or meter id <input id="q" name="q" autocomplete="off" autofocus></label>
 <button type="submit">Look up</button></form>
<p id="error" class="error" role="alert"></p>
<div id="answer" hidden>
 <h2 id="headline"></h2><p id="detail"></p><ol id="advice"></ol>
 <dl><dt>IDPEL</dt><dd id="idpel"></dd><dt>Meter</dt><dd id="meter"></dd><dt>KDPM</dt><dd id="kdpm"></dd>
 <dt>Tariff / daya</dt><dd id="tariff"></dd><dt>Unit</dt><dd id="unit"></dd></dl>
 <p id="consumption"></p></div>`;

const CC_SCRIPT = `
const $ = (id) => document.getElementById(id);
async function lookup(q) {
  $('error').textContent = ''; const box = $('answer');
  const res = await fetch('/api/customers?q=' + encodeURIComponent(q));
  const a = await res.json();
  if (!res.ok) { box.hidden = true; $('error').textContent = a.error; return; }
  box.dataset.state = a.state || 'AMR';
  $('headline').textContent = a.headline; $('detail').textContent = a.detail;
  $('advice').replaceChildren(...a.advice.map((t) => { const li = document.createElement('li'); li.textContent = t; return li; }));
  $('idpel').textContent = a.idpel; $('meter').textContent = a.meter_id;
  $('kdpm').textContent = a.kdpm + ' — ' + a.kdpm_label;
  $('tariff').textContent = a.tariff + ' / ' + a.daya_va + ' VA';
  $('unit').textContent = a.region + ' · ULP ' + a.ulp + ' · gardu ' + a.gardu_id;
  $('consumption').textContent = a.consumption_text; box.hidden = false;
}
$('lookup').addEventListener('submit', (e) => { e.preventDefault(); const q = $('q').value.trim();
  history.replaceState(null, '', '?q=' + encodeURIComponent(q)); lookup(q).catch((err) => { $('error').textContent = String(err); }); });
const first = new URLSearchParams(location.search).get('q'); if (first) { $('q').value = first; lookup(first); }`;

export function callCentreHtml(): string {
  return layout('Call centre (CC 123)', CC_BODY, CC_SCRIPT);
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function loginHtml(error: string | null): string {
  const body = `<form method="post" action="/login"><p>Sign in with your API token.</p>
<input type="password" name="token" size="60" autocomplete="off"> <input type="hidden" name="next" id="next">
<button type="submit">Sign in</button></form>${error ? `<p class="error">${escapeHtml(error)}</p>` : ''}`;
  return layout(
    'Sign in',
    body,
    `document.getElementById('next').value = new URLSearchParams(location.search).get('next') || '/';`,
  );
}
