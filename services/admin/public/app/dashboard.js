// The operator dashboard: one page, a view per hash (#overview, #ingestion, ...), each polled every 2 s.
// Every string reaches the DOM through textContent or an attribute set by el(): nothing is parsed as HTML.
'use strict';

const REFRESH_MS = 2000;
const STAGES = [
  ['retrieve', 'retrieveMs'],
  ['assemble', 'assembleMs'],
  ['compress', 'compressMs'],
  ['question prefill', 'questionPrefillMs'],
  ['decode', 'decodeMs'],
];
const COLORS = ['#2563eb', '#db2777', '#059669', '#d97706', '#7c3aed', '#0891b2', '#dc2626', '#65a30d'];

/** el('div', {class: 'x', onclick: f}, 'text', child) */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (k === 'style' && typeof v === 'object') Object.assign(node.style, v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

async function api(path, opts = {}) {
  const res = await fetch(path, {
    credentials: 'same-origin',
    ...opts,
    headers: { accept: 'application/json', ...(opts.body ? { 'content-type': 'application/json' } : {}), ...(opts.headers || {}) },
  });
  if (res.status === 401) {
    location.assign('/admin/login');
    throw new Error('signed out');
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error((body.error && body.error.message) || `${path}: HTTP ${res.status}`);
  return body;
}

const fmt = {
  int: (n) => (n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US')),
  ms: (n) => (n === null || n === undefined ? '–' : n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${n.toFixed(n < 10 ? 2 : 1)} ms`),
  bytes: (n) => {
    if (n === null || n === undefined) return '–';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) (n /= 1024), i++;
    return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
  },
  pct: (x) => (x === null || !Number.isFinite(x) ? '–' : `${(x * 100).toFixed(1)}%`),
  time: (t) => (t ? new Date(t).toLocaleTimeString() : '–'),
};

function card(title, ...body) {
  return el('section', { class: 'card' }, el('h2', {}, title), ...body);
}

function table(headers, rows, cls) {
  return el(
    'table',
    { class: cls || '' },
    el('thead', {}, el('tr', {}, headers.map((h) => el('th', {}, h)))),
    el('tbody', {}, rows.length ? rows : [el('tr', {}, el('td', { colspan: headers.length, class: 'muted empty' }, 'nothing yet'))]),
  );
}

function stat(label, value, hint) {
  return el('div', { class: 'stat' }, el('div', { class: 'stat-value' }, value), el('div', { class: 'stat-label' }, label), hint ? el('div', { class: 'stat-hint muted' }, hint) : null);
}

function badge(text, kind) {
  return el('span', { class: `badge ${kind || ''}` }, text);
}

function progressBar(p) {
  const v = Math.max(0, Math.min(100, Number(p) || 0));
  return el('div', { class: 'progress', title: `${v}%` }, el('div', { class: 'progress-fill', style: { width: `${v}%` } }), el('span', {}, `${v}%`));
}

// ---------------------------------------------------------------- views

const views = {};

views.overview = async () => {
  const o = await api('/v1/admin/overview');
  const g = o.generator;
  const totals = o.collections.reduce((a, c) => ((a.d += c.documents), (a.c += c.chunks), (a.v += c.index ? c.index.vectors : 0), a), { d: 0, c: 0, v: 0 });
  const pending = o.queues.reduce((a, q) => a + (q.counts.waiting || 0) + (q.counts.active || 0) + (q.counts['waiting-children'] || 0) + (q.counts.delayed || 0), 0);
  const failed = o.queues.reduce((a, q) => a + (q.counts.failed || 0), 0);
  return [
    el('div', { class: 'stats' }, stat('collections', fmt.int(o.collections.length)), stat('documents', fmt.int(totals.d)), stat('chunks', fmt.int(totals.c)), stat('indexed vectors', fmt.int(totals.v), 'loaded in this process'), stat('jobs in flight', fmt.int(pending)), stat('failed jobs', fmt.int(failed)), stat('questions recorded', fmt.int(o.asks))),
    el(
      'div',
      { class: 'grid two' },
      card(
        'Models',
        el(
          'dl',
          { class: 'kv' },
          el('dt', {}, 'embedder'),
          el('dd', {}, el('code', {}, o.embedder.id), ` · ${o.embedder.dim}-d`),
          el('dt', {}, 'generator'),
          el('dd', {}, el('code', {}, g.configured), ' ', badge(g.state, g.state === 'ready' ? 'ok' : g.state === 'loading' ? 'warn' : 'bad')),
          g.state === 'ready' ? [el('dt', {}, 'model id'), el('dd', {}, el('code', { class: 'id' }, g.modelId))] : null,
          g.state === 'ready' ? [el('dt', {}, 'model dir'), el('dd', {}, el('code', {}, g.dir)), el('dt', {}, 'attention taps'), el('dd', {}, g.taps ? badge('yes', 'ok') : badge('no (compression raw/probe unavailable)', 'warn')), el('dt', {}, 'layers'), el('dd', {}, String(g.layers)), el('dt', {}, 'shared prefix'), el('dd', {}, g.sharedPrefix ? 'yes' : 'no'), el('dt', {}, 'KV store dir'), el('dd', {}, g.kvDir ? el('code', {}, g.kvDir) : 'memory only')] : null,
          g.reason ? [el('dt', {}, 'why'), el('dd', { class: 'muted' }, g.reason)] : null,
        ),
        g.state === 'ready' ? doctorList(g.doctor) : null,
      ),
      card('Queues', queueTable(o.queues)),
    ),
    card(
      'Collections',
      table(
        ['collection', 'documents', 'chunks', 'embedder', 'index vectors', 'tombstones'],
        o.collections.map((c) => el('tr', {}, el('td', {}, el('strong', {}, c.name)), el('td', { class: 'num' }, fmt.int(c.documents)), el('td', { class: 'num' }, fmt.int(c.chunks)), el('td', {}, c.embedder ? el('code', {}, `${c.embedder.id} (${c.embedder.dim}-d)`) : '–'), el('td', { class: 'num' }, c.index ? fmt.int(c.index.vectors) : el('span', { class: 'muted' }, 'not loaded')), el('td', { class: 'num' }, c.index ? fmt.int(c.index.tombstones) : '–'))),
      ),
    ),
  ];
};

/** The model doctor's report (what `rag models doctor` prints), run when the generator loaded. */
function doctorList(d) {
  if (!d) return el('p', { class: 'muted small' }, 'model doctor: not run (see the service log)');
  const check = (c) => (c ? badge(c.ok ? 'ok' : 'failed', c.ok ? 'ok' : 'bad') : badge('n/a', 'warn'));
  const diff = (c) => (c ? ` max diff ${c.maxAbsDiff.toExponential(1)} (tolerance ${c.tolerance})` : '');
  return [
    el('h3', { class: 'small' }, 'model doctor'),
    el(
      'dl',
      { class: 'kv doctor' },
      el('dt', {}, 'export family'),
      el('dd', {}, `${d.family} · `, el('code', {}, d.variant)),
      el('dt', {}, 'file'),
      el('dd', {}, el('code', {}, d.file)),
      el('dt', {}, 'KV'),
      el('dd', {}, `${d.kvDtype} · ${fmt.int(d.kvBytesPerToken)} bytes/token`),
      el('dt', {}, 'positions'),
      el('dd', {}, badge(d.positions, d.positions === 'refused' ? 'bad' : 'ok'), d.positionsReason ? el('span', { class: 'muted small' }, ` ${d.positionsReason}`) : null),
      el('dt', {}, 'taps'),
      el('dd', {}, d.taps ? badge(d.taps, 'ok') : [badge('none', 'warn'), el('span', { class: 'muted small' }, ` ${d.tapsReason}`)]),
      el('dt', {}, 'logits selector'),
      el('dd', {}, d.logitsSelector ? badge('yes', 'ok') : badge('no', 'warn')),
      el('dt', {}, 'self-check'),
      el('dd', {}, check(d.selfCheck), el('span', { class: 'muted small' }, diff(d.selfCheck))),
      el('dt', {}, 're-encode check'),
      el('dd', {}, check(d.reencode), el('span', { class: 'muted small' }, diff(d.reencode))),
    ),
  ];
}

const QUEUE_COLS = ['waiting', 'waiting-children', 'delayed', 'active', 'completed', 'failed'];
const QUEUE_HEADERS = { 'waiting-children': 'children' };
function queueTable(queues) {
  return table(
    ['queue', ...QUEUE_COLS.map((c) => QUEUE_HEADERS[c] || c)],
    queues.map((q) => el('tr', { 'data-queue': q.queue }, el('td', {}, el('code', {}, q.queue)), QUEUE_COLS.map((s) => el('td', { class: `num ${s === 'failed' && q.counts[s] ? 'bad-text' : ''}`, 'data-state': s }, fmt.int(q.counts[s] || 0))))),
    'compact',
  );
}

views.ingestion = async () => {
  const d = await api('/v1/admin/ingestion');
  const act = async (method, path) => {
    try {
      await api(path, method === 'POST' ? { method, body: '{}' } : { method });
      refresh();
    } catch (e) {
      showStatus(e.message, true);
    }
  };
  return [
    card('Queue depths', queueTable(d.queues), el('p', { class: 'muted small' }, 'Deep inspection of every job: ', el('a', { href: '/admin/queues' }, 'Bull Board'), '.')),
    card(
      `Active jobs (${d.active.length})`,
      table(
        ['queue', 'job', 'subject', 'started', 'progress'],
        d.active.map((j) => el('tr', { class: 'job-active' }, el('td', {}, el('code', {}, j.queue)), el('td', {}, el('code', { class: 'id' }, j.id)), el('td', {}, j.subject), el('td', {}, fmt.time(j.processedOn)), el('td', {}, progressBar(j.progress)))),
      ),
    ),
    card(
      `Failed jobs (${d.failed.length})`,
      table(
        ['queue', 'job', 'subject', 'attempts', 'failed at', 'reason', ''],
        d.failed.map((j) =>
          el(
            'tr',
            { class: 'job-failed', 'data-job': j.id },
            el('td', {}, el('code', {}, j.queue)),
            el('td', {}, el('code', { class: 'id' }, j.id)),
            el('td', {}, j.subject),
            el('td', { class: 'num' }, String(j.attemptsMade)),
            el('td', {}, fmt.time(j.finishedOn)),
            el('td', { class: 'reason' }, j.failedReason || ''),
            el('td', { class: 'actions' }, el('button', { class: 'small', onclick: () => act('POST', `/v1/admin/jobs/${encodeURIComponent(j.queue)}/${encodeURIComponent(j.id)}/retry`) }, 'Retry'), el('button', { class: 'small danger', onclick: () => act('DELETE', `/v1/admin/jobs/${encodeURIComponent(j.queue)}/${encodeURIComponent(j.id)}`) }, 'Remove')),
          ),
        ),
      ),
    ),
  ];
};

views.kv = async () => {
  const kv = await api('/v1/admin/kv');
  if (!kv.available) return [card('KV block store', el('p', { class: 'muted' }, 'This API process has no generator loaded, so it holds no KV blocks.'))];
  const tiers = Object.entries(kv.tiers);
  return [
    el('div', { class: 'stats' }, ...tiers.map(([t, s]) => stat(`${t} tier`, fmt.bytes(s.bytes), `${fmt.int(s.entries)} blocks`)), stat('blocks computed', fmt.int(kv.computed), 'misses in every tier'), stat('disk writes', fmt.int(kv.disk.writes), `${fmt.int(kv.disk.writeErrors)} errors · ${fmt.int(kv.disk.corrupt)} corrupt`)),
    card(
      'Per tier (this API process)',
      table(
        ['tier', 'bytes', 'blocks', 'hits', 'misses', 'hit rate', 'evictions'],
        tiers.map(([t, s]) => el('tr', { 'data-tier': t }, el('td', {}, el('strong', {}, t)), el('td', { class: 'num' }, fmt.bytes(s.bytes)), el('td', { class: 'num' }, fmt.int(s.entries)), el('td', { class: 'num' }, fmt.int(s.hits)), el('td', { class: 'num' }, fmt.int(s.misses)), el('td', {}, hitBar(s.hits, s.misses)), el('td', { class: 'num' }, fmt.int(s.evictions)))),
      ),
      el('p', { class: 'muted small' }, 'A memory miss falls through to disk; a disk miss computes the block (prefill) and stores it. Worker processes keep their own memory tier.'),
    ),
  ];
};

function hitBar(hits, misses) {
  const total = hits + misses;
  const r = total ? hits / total : null;
  return el('div', { class: 'hitbar' }, el('div', { class: 'hitbar-fill', style: { width: `${r === null ? 0 : r * 100}%` } }), el('span', {}, fmt.pct(r)));
}

const charts = [];
const chartBuilders = new WeakMap();
function chart(opts, data, width) {
  const host = el('div', { class: 'chart' });
  // uPlot measures its container: the chart is built once the view is in the document.
  chartBuilders.set(host, () => {
    if (!window.uPlot) {
      host.append(el('p', { class: 'muted' }, 'charting library not loaded'));
      return null;
    }
    const w = width || Math.max(320, host.clientWidth || 600);
    return new window.uPlot({ width: w, height: 240, ...opts }, data, host);
  });
  return host;
}

views.latency = async () => {
  const l = await api('/v1/admin/latency');
  const rows = l.stages.map((s) => el('tr', { 'data-stage': s.stage }, el('td', {}, s.stage.replace('_', ' ')), el('td', { class: 'num' }, fmt.int(s.count)), ...Object.values(s.values).map((v) => el('td', { class: 'num' }, fmt.ms(v)))));
  const pcts = l.stages[0] ? Object.keys(l.stages[0].values) : ['p50', 'p90', 'p99'];
  const series = l.series;
  const xs = series.map((_, i) => i + 1);
  const lines = [
    ['total', 'totalMs'],
    ['first token', 'firstTokenMs'],
    ['question prefill', 'questionPrefillMs'],
    ['assemble', 'assembleMs'],
    ['retrieve', 'retrieveMs'],
  ];
  return [
    card(`Per-stage percentiles over the last ${l.questions} questions`, table(['stage', 'questions', ...pcts], rows)),
    series.length
      ? card(
          'Per question (oldest → newest)',
          chart(
            {
              scales: { x: { time: false } },
              legend: { live: false },
              axes: [{ label: 'question', incrs: [1, 2, 5, 10, 20, 50, 100] }, { label: 'ms', size: 60 }],
              series: [{ label: 'question' }, ...lines.map(([label], i) => ({ label, stroke: COLORS[i], width: 2, points: { show: series.length < 40 } }))],
            },
            [xs, ...lines.map(([, f]) => series.map((s) => (s.timings[f] === null ? null : s.timings[f])))],
          ),
        )
      : null,
  ];
};

views.calibration = async () => {
  const c = await api('/v1/admin/calibration');
  const form = el(
    'form',
    { class: 'inline-form', id: 'recalibrate-form' },
    el('label', {}, 'k ', el('input', { name: 'k', type: 'number', min: 1, max: 32, value: 5 })),
    el('label', {}, 'prompts ', el('input', { name: 'n', type: 'number', min: 1, max: 1024, value: 32 })),
    el('label', {}, 'seed ', el('input', { name: 'seed', type: 'number', min: 0, value: 0 })),
    el('label', {}, 'attention ', el('select', { name: 'mode' }, el('option', { value: 'blocks' }, 'blocks'), el('option', { value: 'full' }, 'full'))),
    el('button', { type: 'submit', id: 'recalibrate' }, 'Recalibrate'),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    try {
      const r = await api('/v1/admin/calibration', { method: 'POST', body: JSON.stringify({ k: Number(f.get('k')), n: Number(f.get('n')), seed: Number(f.get('seed')), mode: f.get('mode') }) });
      showStatus(`calibration job ${r.jobId} queued`);
      refresh();
    } catch (e) {
      showStatus(e.message, true);
    }
  });
  const byKey = c.profiles.map((p) => {
    const xs = p.values.map((_, i) => i + 1);
    return card(
      `k=${p.k} · ${p.attentionMode} attention`,
      el('p', { class: 'muted small profile-meta' }, 'model ', el('code', { class: 'id' }, p.modelId), el('br'), `${p.prompts} prompts · seed ${p.seed} · ${p.layers.length} layers · ${new Date(p.createdAt).toLocaleString()}`),
      chart(
        {
          scales: { x: { time: false, range: [0.5, p.k + 0.5] }, y: { range: [0, Math.max(...p.values) * 1.15 || 1] } },
          legend: { live: false },
          axes: [{ label: 'block slot', incrs: [1, 2, 5, 10] }, { label: 'attention share', size: 60, values: (_, ticks) => ticks.map((t) => `${(t * 100).toFixed(0)}%`) }],
          series: [{ label: 'slot' }, { label: 'share', stroke: COLORS[0], fill: 'rgba(37,99,235,0.10)', width: 2, points: { size: 7 } }],
        },
        [xs, p.values],
      ),
      el('div', { class: 'profile-values' }, p.values.map((v, i) => el('span', { class: 'chip', 'data-slot': i }, `slot ${i + 1}: ${(v * 100).toFixed(1)}%`))),
    );
  });
  return [
    card(`Recalibrate ${c.model}`, el('p', { class: 'muted small' }, 'Queues a rag-calibrate job: the worker loads the model with attention taps for this job only, measures the attention basin over SQuAD prompts and saves the profile (reordering uses it at once).'), form),
    card(
      'Calibration jobs',
      table(
        ['job', 'settings', 'queued', 'state', 'progress'],
        c.jobs.map((j) => el('tr', { class: 'calibration-job', 'data-job': j.id }, el('td', {}, el('code', {}, j.id)), el('td', {}, j.subject), el('td', {}, fmt.time(j.timestamp)), el('td', {}, j.failedReason ? badge('failed', 'bad') : j.finishedOn ? badge('completed', 'ok') : j.processedOn ? badge('active', 'warn') : badge('waiting')), el('td', {}, j.failedReason ? el('span', { class: 'reason' }, j.failedReason) : progressBar(j.progress)))),
      ),
    ),
    c.profiles.length ? el('div', { class: 'grid two' }, byKey) : card('Profiles', el('p', { class: 'muted' }, 'No attention-basin profile yet: blocks are placed in the zig-zag "lost in the middle" order.')),
  ];
};

let selectedAsk = null;
views.recent = async () => {
  const { asks } = await api('/v1/admin/recent-asks?limit=200');
  if (!asks.length) return [card('Recent questions', el('p', { class: 'muted' }, 'No question answered yet.'))];
  if (!selectedAsk || !asks.some((a) => a.id === selectedAsk)) selectedAsk = asks[0].id;
  const current = asks.find((a) => a.id === selectedAsk);
  const list = el(
    'ul',
    { class: 'ask-list' },
    asks.map((a) =>
      el(
        'li',
        { class: a.id === selectedAsk ? 'selected' : '', 'data-ask': a.id, onclick: () => ((selectedAsk = a.id), refresh()) },
        el('div', { class: 'ask-q' }, a.question),
        el('div', { class: 'muted small' }, `${fmt.time(a.at)} · ${a.collection} · ${fmt.ms(a.timings.totalMs)} · ${a.compression.method}`),
      ),
    ),
  );
  return [el('div', { class: 'split' }, el('aside', {}, list), el('div', { class: 'ask-detail', 'data-ask': current.id }, askDetail(current)))];
};

function askDetail(a) {
  const passages = [...a.passages].sort((x, y) => (x.slot ?? 1e9) - (y.slot ?? 1e9) || x.retrievalRank - y.retrievalRank);
  return [
    card(
      'Question',
      el('p', { class: 'question' }, a.question),
      el('h3', {}, 'Answer'),
      el('p', { class: 'answer' }, a.answer || el('span', { class: 'muted' }, '(empty)')),
      a.answerSpan ? el('p', { class: 'answer-span small' }, 'short answer: ', el('mark', {}, a.answerSpan.text)) : null,
      el('h3', {}, 'Citations'),
      el('ul', { class: 'citations' }, a.citations.map((c) => el('li', {}, el('code', {}, c.documentId), ` [${c.start}:${c.end}]`))),
      el(
        'dl',
        { class: 'kv small' },
        el('dt', {}, 'mode'),
        el('dd', { class: 'mode' }, a.mode === 'extractive' ? 'extractive (best retrieved sentence, no generator)' : a.mode, a.fallback ? el('span', { class: 'muted' }, ` (fallback: ${a.fallback})`) : null),
        el('dt', {}, 'compression'),
        el('dd', {}, `${a.compression.method}: ${fmt.int(a.compression.keptTokens)} of ${fmt.int(a.compression.totalTokens)} tokens kept (${fmt.pct(a.compression.ratio)})`),
        el('dt', {}, 'order'),
        el('dd', { class: 'order' }, a.order.method, a.order.fallback ? el('span', { class: 'muted' }, ` (fallback: ${a.order.fallback})`) : null),
        el('dt', {}, 'cache'),
        el('dd', {}, `${a.cache.hits} hits (${a.cache.memoryHits} memory, ${a.cache.diskHits} disk), ${a.cache.misses} misses`),
        el('dt', {}, 'tokens'),
        el('dd', {}, `${fmt.int(a.usage.promptTokens)} prompt, ${fmt.int(a.usage.completionTokens)} completion`),
      ),
    ),
    card('Timing', waterfall(a.timings)),
    card(
      `Passages in ${a.mode === 'extractive' ? 'retrieval' : 'context'} order (${passages.length})`,
      a.mode === 'extractive'
        ? el('p', { class: 'legend small' }, el('span', { class: 'sent kept' }, 'answer or listed candidate'), ' ', el('span', { class: 'sent dropped' }, 'other sentence'))
        : el('p', { class: 'legend small' }, el('span', { class: 'sent kept' }, 'kept sentence'), ' ', el('span', { class: 'sent dropped' }, 'dropped sentence')),
      passages.map((p) => passageView(p)),
    ),
  ];
}

function passageView(p) {
  const body = el('p', { class: 'passage-text' });
  let cursor = p.start;
  for (const s of p.sentences) {
    if (s.start > cursor) body.append(document.createTextNode(p.text.slice(cursor - p.start, s.start - p.start)));
    body.append(
      el(
        'span',
        { class: `sent ${s.kept ? 'kept' : 'dropped'}`, 'data-start': s.start, 'data-end': s.end, title: s.kept ? `kept${s.score === null ? '' : ` · score ${s.score.toFixed(3)}`}` : 'dropped' },
        p.text.slice(s.start - p.start, s.end - p.start),
      ),
    );
    cursor = s.end;
  }
  if (cursor < p.start + p.text.length) body.append(document.createTextNode(p.text.slice(cursor - p.start)));
  const kept = p.sentences.filter((s) => s.kept).length;
  return el(
    'article',
    { class: 'passage', 'data-chunk': p.chunkId },
    el('header', {}, el('span', { class: 'slot' }, p.slot === null ? 'not placed' : `slot ${p.slot + 1}`), el('strong', {}, p.title || p.documentId), el('span', { class: 'muted small' }, ` · ${p.documentId} · retrieval rank ${p.retrievalRank + 1} · ${kept}/${p.sentences.length} sentences kept`)),
    body,
  );
}

function waterfall(t) {
  const total = t.totalMs || 1;
  let offset = 0;
  const rows = STAGES.map(([label, f], i) => {
    const v = t[f] || 0;
    const row = el(
      'div',
      { class: 'wf-row', 'data-stage': f },
      el('div', { class: 'wf-label' }, label),
      el('div', { class: 'wf-track' }, el('div', { class: 'wf-bar', style: { left: `${(offset / total) * 100}%`, width: `${Math.max(0.4, (v / total) * 100)}%`, background: COLORS[i] } })),
      el('div', { class: 'wf-value num' }, fmt.ms(v)),
    );
    offset += v;
    return row;
  });
  const ft = t.firstTokenMs;
  return el(
    'div',
    { class: 'waterfall' },
    rows,
    el('div', { class: 'wf-row total' }, el('div', { class: 'wf-label' }, 'total'), el('div', { class: 'wf-track' }, el('div', { class: 'wf-bar', style: { left: '0%', width: '100%', background: '#94a3b8' } }), ft !== null ? el('div', { class: 'wf-marker', style: { left: `${(ft / total) * 100}%` }, title: `first token at ${fmt.ms(ft)}` }) : null), el('div', { class: 'wf-value num' }, fmt.ms(t.totalMs))),
    el('p', { class: 'muted small' }, `Stages drawn in pipeline order; the marker is the first token (${fmt.ms(ft)}).`),
  );
}

// ---------------------------------------------------------------- shell

let currentView = null;
let lastJson = '';
let timer = null;
let refreshSeq = 0;

function showStatus(msg, bad) {
  const s = document.getElementById('status');
  s.textContent = msg;
  s.className = bad ? 'error' : 'muted';
}

async function refresh() {
  const name = views[location.hash.slice(1)] ? location.hash.slice(1) : 'overview';
  const root = document.getElementById('view');
  for (const a of document.querySelectorAll('#nav a[data-view]')) a.classList.toggle('active', a.dataset.view === name);
  const seq = ++refreshSeq;
  try {
    const content = await views[name]();
    if (seq !== refreshSeq) return; // a newer refresh (e.g. a view switch) owns the page
    // Re-render only on change, so polling does not reset scroll positions, charts or form inputs.
    const snapshot = JSON.stringify([name, selectedAsk, content.map((n) => (n ? n.textContent : ''))]);
    const typing = name === 'calibration' && currentView === 'calibration' && root.querySelector('#recalibrate-form input:focus, #recalibrate-form select:focus');
    if ((snapshot !== lastJson || currentView !== name) && !typing) {
      for (const c of charts.splice(0)) c.destroy();
      root.replaceChildren(...content.filter(Boolean));
      root.dataset.view = name;
      lastJson = snapshot;
      currentView = name;
      for (const host of root.querySelectorAll('.chart')) {
        const build = chartBuilders.get(host);
        const c = build && build();
        if (c) charts.push(c);
      }
    }
    showStatus(`updated ${new Date().toLocaleTimeString()}`);
  } catch (e) {
    showStatus(e.message, true);
  }
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(async () => {
    if (!document.hidden) await refresh();
    schedule();
  }, REFRESH_MS);
}

window.addEventListener('hashchange', () => {
  lastJson = '';
  refresh();
});
document.getElementById('logout').addEventListener('click', async () => {
  await fetch('/v1/admin/session', { method: 'DELETE', credentials: 'same-origin' });
  location.assign('/admin/login');
});
api('/v1/admin/session')
  .then((s) => (document.getElementById('who').textContent = s.name))
  .catch(() => undefined);
refresh().then(schedule);
