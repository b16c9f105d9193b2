// The screens. Each takes {kb, route} and returns the node to show; it loads its data
// from the public API first, so a screen appears whole.
import { t, bi } from './i18n.js';
import { h, api, state, can, has, go, toast, errorBox, empty, fmtTime, fmtMoney, refreshKBs, signedIn, ApiError, appendRows } from './app.js';
import { gaps, dashboard, conversations } from './loop.js';
import { kbPath, docsPath, jobsPath, productsPath, faqsPath, auditPath } from './early.js';

const enc = encodeURIComponent;

// card is a boxed section; a plain object first gives its attributes (an id).
function card(...kids) {
  const attrs = kids[0]?.constructor === Object ? kids.shift() : {};
  return h('section', { class: 'card', ...attrs }, ...kids);
}
function field(label, input, id) {
  input.id = input.id || id || `f-${Math.random().toString(36).slice(2, 8)}`;
  return h('div', { class: 'field' }, h('label', { for: input.id }, label), input);
}
// table shows rows, or one row per item of rows made by build (see appendRows).
function table(cols, rows, build) {
  const tbody = h('tbody');
  appendRows(tbody, rows, build);
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', { class: c.cls }, c.label)))), tbody));
}
// form wraps a submit handler: the button is disabled while it runs and errors show in place.
function form(onsubmit, ...kids) {
  const msg = h('div', { 'aria-live': 'polite' });
  const f = h('form', {
    onsubmit: async (e) => {
      e.preventDefault();
      const btn = f.querySelector('button[type=submit]');
      if (btn) btn.disabled = true;
      msg.replaceChildren();
      try { await onsubmit(f, msg); } catch (err) { msg.replaceChildren(errorBox(err)); } finally { if (btn) btn.disabled = false; }
    },
  }, ...kids, msg);
  return f;
}
function notAvailable(title, route) {
  return h('div', {}, h('h1', {}, title), card(empty(t('common.notAvailable'), t('common.notAvailableBody', route))));
}
function forbidden(title) {
  return h('div', {}, h('h1', {}, title), card(empty(t('common.forbidden', t('role.' + state.session.role)))));
}
function kbOptions(selected = []) {
  return h('select', { multiple: true, size: Math.min(5, Math.max(2, state.kbs.length)) },
    state.kbs.map((k) => h('option', { value: k.name, selected: selected.includes(k.id) }, k.name)));
}
const selectedValues = (sel) => [...sel.selectedOptions].map((o) => o.value);
const kbNames = (ids) => ids == null ? t('common.allKbs') : ids.map((id) => state.kbs.find((k) => k.id === id)?.name || `#${id}`).join(', ');
function statusBadge(s) {
  const cls = { ready: 'ok', review: 'warn', pending: 'warn', processing: 'warn', failed: 'bad' }[s] || '';
  return h('span', { class: `badge ${cls}`, 'data-status': s }, t('status.' + s));
}

// ---------- sign-in ----------
async function login() {
  let useKey = false;
  const box = h('div', { class: 'card login' });
  const draw = () => {
    const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true });
    const pw = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
    const key = h('input', { type: 'password', name: 'key', autocomplete: 'off', required: true });
    box.replaceChildren(
      h('h1', {}, t('login.title')),
      form(async () => {
        const body = useKey ? { key: key.value.trim() } : { email: email.value, password: pw.value };
        await signedIn(await api('POST', '/admin/api/login', body));
      },
      useKey ? field(t('login.key'), key, 'login-key') : [field(t('login.email'), email, 'login-email'), field(t('login.password'), pw, 'login-password')],
      h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', id: 'login-submit' }, t('login.submit')),
        h('button', { type: 'button', class: 'link', id: 'login-mode', onclick: () => { useKey = !useKey; draw(); } }, useKey ? t('login.withPassword') : t('login.withKey')))),
      h('p', { class: 'muted' }, t('login.hint')));
    setTimeout(() => (useKey ? key : email).focus(), 0);
  };
  draw();
  return box;
}

// ---------- knowledge bases ----------
async function kbs() {
  if (!state.kbsFresh) await refreshKBs(); // a page load fetched them a moment ago
  const rows = state.kbs.map((k) => h('tr', {},
    h('td', {}, h('a', { href: `#/kb/${enc(k.name)}/docs` }, k.name)),
    h('td', {}, k.description), h('td', {}, k.language), h('td', { class: 'hide-sm' }, `${k.embedder} · ${k.embedding_model} · ${k.embedding_dim}`),
    h('td', { class: 'hide-sm' }, fmtTime(k.created_at))));
  const out = [h('h1', {}, t('kbs.title'))];
  if (can('kb:write') && state.session.kb_ids == null) {
    const name = h('input', { type: 'text', required: true, maxlength: 100 });
    const desc = h('input', { type: 'text' });
    const lang = h('select', {}, h('option', { value: 'zh' }, '中文 zh'), h('option', { value: 'en' }, 'English en'));
    out.push(card(h('h2', {}, t('kbs.create')), form(async () => {
      const k = await api('POST', '/v1/knowledge-bases', { name: name.value.trim(), description: desc.value, language: lang.value });
      await refreshKBs();
      go(`#/kb/${enc(k.name)}/docs`);
    }, h('div', { class: 'row' }, field(t('common.name'), name, 'kb-name'), field(t('common.description'), desc), field(t('common.language'), lang),
      h('div', { class: 'field' }, h('button', { type: 'submit', class: 'primary' }, t('common.create')))))));
  }
  out.push(card(state.kbs.length ? table([{ label: t('common.name') }, { label: t('common.description') }, { label: t('common.language') },
    { label: t('kbs.embedder'), cls: 'hide-sm' }, { label: t('common.created'), cls: 'hide-sm' }], rows) : empty(t('kbs.empty'), t('kbs.emptyBody'))));
  return h('div', {}, out);
}

// ---------- settings ----------
async function settings({ kb }) {
  if (!can('kb:write')) return forbidden(t('nav.settings'));
  const k = await api('GET', kbPath(kb));
  const s = k.settings || {};
  const num = (v) => h('input', { type: 'number', min: 0, max: 1, step: 0.01, value: v ?? '', placeholder: t('settings.default') });
  const at = num(s.answer_threshold), ct = num(s.curated_threshold);
  const words = h('textarea', {}, (s.dictionary || []).join('\n'));
  const syn = h('textarea', {}, (s.synonyms || []).map((g) => g.join(', ')).join('\n'));
  const desc = h('input', { type: 'text', value: k.description || '' });
  const reindex = reindexCard(kb, k.reindex);
  return h('div', {}, h('h1', {}, t('settings.title', k.name)),
    card(form(async (_, msg) => {
      const threshold = (input, key) => {
        if (input.value === '') return null;
        const v = Number(input.value);
        if (!(v >= 0 && v <= 1)) throw new Error(t('settings.badNumber', t(key).split('（')[0].split(' (')[0]));
        return v;
      };
      const settings = {
        answer_threshold: threshold(at, 'settings.answerThreshold'), curated_threshold: threshold(ct, 'settings.curatedThreshold'),
        dictionary: words.value.split('\n').map((w) => w.trim()).filter(Boolean),
        synonyms: syn.value.split('\n').map((l) => l.split(/[,，、]/).map((w) => w.trim()).filter(Boolean)).filter((g) => g.length > 1),
      };
      await api('PATCH', kbPath(kb), { description: desc.value, settings });
      msg.replaceChildren(h('p', { class: 'badge ok' }, t('common.saved')));
    },
    field(t('common.description'), desc), h('div', { class: 'grid2' }, field(t('settings.answerThreshold'), at, 'set-answer'), field(t('settings.curatedThreshold'), ct, 'set-curated')),
    field(t('settings.dictionary'), words, 'set-words'), field(t('settings.synonyms'), syn, 'set-synonyms'),
    h('button', { type: 'submit', class: 'primary', id: 'settings-save' }, t('common.save')))),
    card(h('h2', {}, t('settings.info')), h('dl', { class: 'kv' },
      h('dt', {}, 'ID'), h('dd', {}, k.id), h('dt', {}, t('common.language')), h('dd', {}, k.language),
      h('dt', {}, t('kbs.embedder')), h('dd', {}, `${k.embedder} · ${k.embedding_model} · ${k.embedding_dim}`),
      h('dt', {}, t('common.created')), h('dd', {}, fmtTime(k.created_at)))), reindex);
}

// reindexCard shows the latest re-tokenizing run (a dictionary change starts one) and
// starts one by hand, following its progress until it is done.
function reindexCard(kb, initial) {
  const route = has('POST /v1/knowledge-bases/:kb/reindex');
  if (!route && !initial) return null;
  const bar = h('progress', { max: 1, value: 0, id: 'reindex-bar' });
  const status = h('p', { id: 'reindex-state', 'aria-live': 'polite' });
  const btn = h('button', { type: 'button', id: 'reindex-run', hidden: !route }, t('reindex.run'));
  const draw = (r) => {
    const st = r?.state || 'none';
    status.dataset.state = st;
    bar.hidden = !r;
    if (r) { bar.max = Math.max(1, r.total); bar.value = st === 'done' ? bar.max : r.done; }
    status.replaceChildren(...[r ? t('reindex.state.' + st, r.done, r.total) : t('reindex.never'),
      r?.error ? h('span', { class: 'error' }, r.error) : null,
      r?.finished_at ? h('span', { class: 'muted' }, ' · ', fmtTime(r.finished_at)) : null].filter(Boolean));
    btn.disabled = st === 'queued' || st === 'running';
    return st;
  };
  const follow = async () => {
    for (;;) {
      const k = await api('GET', kbPath(kb));
      const st = draw(k.reindex);
      if (st !== 'queued' && st !== 'running') return;
      if (!btn.isConnected) return; // the screen was left
      await new Promise((r) => setTimeout(r, 300));
    }
  };
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    try { draw((await api('POST', kbPath(kb, '/reindex'))).reindex); await follow(); } catch (e) { status.replaceChildren(errorBox(e)); btn.disabled = false; }
  });
  if (draw(initial) === 'running' || initial?.state === 'queued') setTimeout(() => follow().catch(() => {}), 300);
  return card({ id: 'reindex' }, h('h2', {}, t('reindex.title')), h('p', { class: 'muted' }, t('reindex.intro')), status, bar, btn);
}

// ---------- documents ----------
function jobText(j) {
  const p = j.progress || {};
  switch (j.state) {
    case 'queued': return j.attempt > 0 && j.attempt_errors?.length ? t('job.retrying', j.attempt + 1, j.attempt_errors.at(-1)) : t('job.queued');
    case 'running':
      if (p.stage === 'parsing') return t('job.parsing', p.pages_parsed || 0);
      if (p.stage === 'embedding') return t('job.embedding', p.chunks_embedded || 0);
      if (p.stage === 'writing') return t('job.writing');
      return t('job.running');
    case 'succeeded': { const r = j.result || {}; return t('job.succeeded', r.documents_new || 0, r.documents_updated || 0, r.documents_unchanged || 0, r.chunks || 0); }
    case 'failed': return t('job.failed', bi(j.error, j.error_zh));
    case 'cancelled': return t('job.cancelled');
  }
  return j.state;
}
function jobPercent(j) {
  const p = j.progress || {};
  if (j.state === 'succeeded' || j.state === 'failed' || j.state === 'cancelled') return 100;
  if (j.state === 'queued') return 35;
  const base = { parsing: 45, embedding: 65, writing: 90 }[p.stage] || 40;
  if (p.documents_total > 0) return Math.min(95, base + (25 * p.documents_done) / p.documents_total);
  return base;
}
function jobDetails(j) {
  const r = j.result || {};
  return [
    r.failures?.length ? h('div', { class: 'error' }, t('job.someFailed', r.documents_failed), h('ul', {}, r.failures.map((f) => h('li', {}, `${f.external_id}: ${bi(f.error, f.error_zh)}`)))) : null,
    r.warnings?.length ? h('div', { class: 'notice' }, t('job.warnings'), h('ul', {}, r.warnings.map((w) => h('li', {}, typeof w === 'string' ? w : bi(w.message, w.message_zh))))) : null,
  ];
}

async function docs({ kb, route }) {
  const tab = route[3] || 'all';
  const out = [h('h1', {}, t('docs.title', kb.name))];
  const listBox = h('div', { id: 'doc-list' });
  const jobsBox = h('div');
  const detail = h('div');
  // The catalog tab shows the product table instead of the documents (one per product).
  const products = tab === 'catalog' && has('GET /v1/knowledge-bases/:kb/products');
  // refresh redraws the documents and recent jobs; uploads call it as each one finishes.
  const refresh = async () => {
    const [list, jobs] = await Promise.all([
      products ? null : api('GET', docsPath(kb, tab)),
      has('GET /v1/jobs') ? api('GET', jobsPath(kb)).catch(() => ({ jobs: [] })) : null,
    ]);
    if (list) listBox.replaceChildren(docTable(kb, tab, list.documents || [], detail, refresh));
    if (jobs) {
      const jl = jobs.jobs || [];
      jobsBox.replaceChildren(card(h('h2', {}, t('docs.recentJobs')), jl.length ? h('ul', { class: 'uploads' }, jl.map((j) => h('li', {},
        h('span', { class: 'name' }, j.file?.file_name || `#${j.id}`), h('span', { class: 'muted' }, fmtTime(j.created_at)),
        h('span', { class: 'msg' }, jobText(j), jobDetails(j))))) : h('p', { class: 'muted' }, t('docs.noJobs'))));
    }
  };
  if (can('doc:upload') && has('POST /v1/knowledge-bases/:kb/documents')) out.push(card(uploader(kb, refresh)));
  out.push(h('div', { class: 'tabs', role: 'tablist' }, ['all', 'review', 'failed', 'rejected', 'catalog'].map((x) => h('button', {
    type: 'button', role: 'tab', 'aria-selected': String(x === tab), id: `tab-${x}`,
    onclick: () => go(`#/kb/${enc(kb.name)}/docs${x === 'all' ? '' : '/' + x}`),
  }, t('docs.tab.' + x)))));
  if (products) {
    const [table] = await Promise.all([catalog(kb, detail), refresh()]);
    out.push(table, detail, jobsBox);
    return h('div', {}, out);
  }
  await refresh();
  out.push(listBox, detail, jobsBox);
  return h('div', {}, out);
}

// catalog is the product table of the catalog tab: SKU, name, price, stock and every
// other column, searched on the server by SKU, name or any value, a page at a time.
async function catalog(kb, detail) {
  const PAGE = 50;
  const q = h('input', { type: 'search', id: 'product-q', placeholder: t('cat.search'), 'aria-label': t('cat.search') });
  const box = h('div', { id: 'product-list' });
  let offset = 0;
  const money = (v) => v == null ? '—' : `¥${fmtMoney(v)}`;
  const attrs = (a) => Object.entries(a || {}).filter(([k]) => k !== 'sheet').map(([k, v]) => h('span', { class: 'badge attr' }, `${k}: ${Array.isArray(v) ? v.join('、') : v}`));
  const load = async () => {
    const data = await api('GET', productsPath(kb, offset, q.value.trim()));
    const ps = data.products || [];
    if (!ps.length) {
      box.replaceChildren(q.value.trim() ? empty(t('cat.noMatch', q.value.trim()), t('cat.noMatchBody')) : empty(t('cat.empty'), t('cat.emptyBody')));
      return;
    }
    const row = (p) => h('tr', { 'data-sku': p.sku },
      h('td', {}, h('button', { type: 'button', class: 'link mono', onclick: () => showDoc(kb, { id: p.document_id }, detail).catch((e) => detail.replaceChildren(errorBox(e))) }, p.sku)),
      h('td', {}, p.name, p.brand || p.category ? h('div', { class: 'muted' }, [p.brand, p.category].filter(Boolean).join(' · ')) : null),
      h('td', { class: 'num' }, money(p.price)),
      h('td', { class: 'num' }, p.stock == null ? '—' : p.stock === 0 ? h('span', { class: 'badge bad' }, t('cat.outOfStock')) : p.stock),
      h('td', { class: 'hide-sm' }, h('div', { class: 'tags' }, attrs(p.attributes))));
    box.replaceChildren(...[h('p', { class: 'muted', id: 'product-total' }, t('cat.total', data.total)),
      table([{ label: 'SKU' }, { label: t('cat.name') }, { label: t('cat.price'), cls: 'num' }, { label: t('cat.stock'), cls: 'num' }, { label: t('cat.attributes'), cls: 'hide-sm' }], ps, row),
      data.total > PAGE ? h('div', { class: 'row pager' },
        h('button', { type: 'button', disabled: offset === 0, onclick: () => { offset = Math.max(0, offset - PAGE); load(); } }, t('common.prev')),
        h('span', { class: 'muted' }, t('common.range', offset + 1, offset + ps.length, data.total)),
        h('button', { type: 'button', disabled: offset + PAGE >= data.total, onclick: () => { offset += PAGE; load(); } }, t('common.next'))) : null].filter(Boolean));
  };
  let timer;
  q.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => { offset = 0; load().catch((e) => box.replaceChildren(errorBox(e))); }, 200); });
  await load();
  return card(h('div', { class: 'row spread' }, h('h2', {}, t('cat.title')), q), box);
}

function docTable(kb, tab, docsList, detail, refresh) {
  const act = async (fn) => { try { await fn(); await refresh(); } catch (e) { toast(e.text ? e.text() : String(e.message || e)); } };
  const row = (d) => {
    const actions = [h('button', { type: 'button', class: 'link', 'data-details': d.id, onclick: () => showDoc(kb, d, detail).catch((e) => detail.replaceChildren(errorBox(e))) }, t('docs.details'))];
    if (can('doc:curate') && d.status === 'review') {
      actions.push(h('button', { type: 'button', class: 'link', 'data-approve': d.id, onclick: () => act(() => api('POST', kbPath(kb, `/documents/${d.id}/approve`))) }, t('docs.approve')),
        d.kind === 'tickets' && has('POST /v1/knowledge-bases/:kb/documents/:doc/curate')
          ? h('button', { type: 'button', class: 'link', 'data-curate': d.id, onclick: () => curateEditor(kb, d, detail, refresh).catch((e) => detail.replaceChildren(errorBox(e))) }, t('docs.editApprove')) : null,
        h('button', { type: 'button', class: 'link', onclick: () => {
          const reason = prompt(t('docs.rejectReason'));
          if (reason !== null) act(() => api('POST', kbPath(kb, `/documents/${d.id}/reject`), { reason }));
        } }, t('docs.reject')));
    }
    if (can('doc:curate')) {
      actions.push(h('button', { type: 'button', class: 'link danger', onclick: () => {
        if (confirm(t('common.confirmDelete', d.title || d.external_id))) act(async () => { await api('DELETE', kbPath(kb, `/documents/${d.id}`)); toast(t('docs.deleted', d.title || d.external_id)); });
      } }, t('common.delete')));
    }
    return h('tr', { 'data-doc': d.external_id },
      h('td', {}, h('div', {}, d.title || d.external_id), h('div', { class: 'muted' }, d.source_name || d.external_id)),
      h('td', {}, t('docs.kind.' + d.kind)), h('td', {}, statusBadge(d.status), d.status === 'failed' && d.status_detail ? h('div', { class: 'muted' }, bi(d.status_detail, d.status_detail_zh)) : null),
      h('td', { class: 'num' }, d.chunks ?? ''), h('td', { class: 'num hide-sm' }, d.pages || ''), h('td', { class: 'num hide-sm' }, d.version),
      h('td', { class: 'hide-sm' }, fmtTime(d.updated_at)), h('td', {}, actions));
  };
  return card(docsList.length ? table([{ label: t('docs.col.title') }, { label: t('docs.kind') }, { label: t('docs.col.status') }, { label: t('docs.col.chunks'), cls: 'num' },
    { label: t('docs.col.pages'), cls: 'num hide-sm' }, { label: t('docs.col.version'), cls: 'num hide-sm' }, { label: t('common.updated'), cls: 'hide-sm' }, { label: t('common.actions') }], docsList, row)
    : tab === 'review' ? empty(t('docs.reviewEmpty'), t('docs.reviewEmptyBody')) : empty(t('docs.empty'), t('docs.emptyBody')));
}

// showDoc opens a document's detail under the list: its fields, its kept versions and its
// chunks (page and heading path, as search sees them), 50 at a time.
async function showDoc(kb, d, box) {
  const PAGE = 50;
  const [full, versions, first, reindex] = await Promise.all([
    api('GET', kbPath(kb, `/documents/${d.id}`)),
    has('GET /v1/knowledge-bases/:kb/documents/:doc/versions') ? api('GET', kbPath(kb, `/documents/${d.id}/versions`)).catch(() => null) : null,
    has('GET /v1/knowledge-bases/:kb/documents/:doc/chunks') ? api('GET', kbPath(kb, `/documents/${d.id}/chunks?limit=${PAGE}`)).catch(() => null) : null,
    has('GET /v1/knowledge-bases/:kb/documents/:doc/reindex') ? api('GET', kbPath(kb, `/documents/${d.id}/reindex`)).catch(() => null) : null,
  ]);
  const meta = Object.entries(full.metadata || {}).filter(([, v]) => v !== '' && v != null);
  const kv = [[t('doc.externalId'), full.external_id], [t('docs.col.status'), h('span', {}, statusBadge(full.status), full.status_detail ? h('span', { class: 'muted' }, ' ', bi(full.status_detail, full.status_detail_zh)) : null)],
    [t('docs.kind'), t('docs.kind.' + full.kind)], [t('docs.col.version'), full.version], [t('doc.source'), full.source_name], [t('doc.mime'), full.mime_type],
    [t('doc.size'), full.size_bytes ? fmtBytes(full.size_bytes) : ''], [t('docs.col.pages'), full.pages || ''], [t('docs.col.chunks'), full.chunks], [t('common.updated'), fmtTime(full.updated_at)]]
    .filter(([, v]) => v !== '' && v != null);
  const parts = [h('div', { class: 'row spread' }, h('h2', { tabindex: -1, id: 'doc-title' }, full.title || full.external_id),
    h('button', { type: 'button', id: 'doc-close', onclick: () => box.replaceChildren() }, t('common.close'))),
  h('dl', { class: 'kv' }, kv.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
  reindex ? docReindex(kb, full, reindex.reindex) : null,
  meta.length ? h('details', {}, h('summary', {}, t('doc.metadata', meta.length)), h('dl', { class: 'kv' },
    meta.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, typeof v === 'object' ? JSON.stringify(v) : String(v))]))) : null];
  if (versions) {
    const vs = versions.versions || [];
    parts.push(h('h3', {}, t('doc.versions', vs.length)), h('div', { class: 'table-wrap', id: 'doc-versions' }, h('table', {},
      h('thead', {}, h('tr', {}, [t('docs.col.version'), t('docs.col.status'), t('doc.hash'), t('doc.size'), t('docs.col.chunks'), t('common.created')].map((c, i) => h('th', { class: [[0, 'num nowrap'], [2, 'hide-sm'], [3, 'num hide-sm'], [4, 'num hide-sm']].find(([j]) => j === i)?.[1] }, c)))),
      h('tbody', {}, vs.map((v) => h('tr', { 'data-version': v.version, class: v.is_current ? 'current' : null },
        h('td', { class: 'num nowrap' }, `v${v.version}`, v.is_current ? h('span', { class: 'badge ok' }, t('doc.current')) : null),
        h('td', {}, statusBadge(v.status)), h('td', { class: 'hide-sm' }, h('code', { title: v.content_hash }, (v.content_hash || '—').slice(0, 12))),
        h('td', { class: 'num hide-sm' }, v.size_bytes ? fmtBytes(v.size_bytes) : '—'), h('td', { class: 'num hide-sm' }, v.is_current ? v.chunks : '—'),
        h('td', {}, fmtTime(v.created_at))))))),
    vs.length > 1 ? h('p', { class: 'muted' }, t('doc.versionsNote')) : null);
  }
  if (first) {
    const list = h('ol', { class: 'chunks', id: 'doc-chunks' });
    const more = h('button', { type: 'button', id: 'chunks-more' });
    let shown = 0;
    const add = (page) => {
      list.append(...(page.chunks || []).map((c) => h('li', { 'data-ord': c.ord, value: c.ord + 1 },
        h('div', { class: 'where' }, c.page ? h('span', { class: 'badge' }, t('hit.page', c.page)) : null,
          (c.section_path || []).length ? h('span', { class: 'path' }, c.section_path.join(' › ')) : h('span', { class: 'muted' }, t('doc.noHeading')),
          h('span', { class: 'muted' }, t('doc.chars', [...c.content].length))),
        h('div', { class: 'content' }, c.content))));
      shown += (page.chunks || []).length;
      more.hidden = shown >= page.total;
      more.textContent = t('doc.moreChunks', shown, page.total);
    };
    more.addEventListener('click', async () => {
      more.disabled = true;
      try { add(await api('GET', kbPath(kb, `/documents/${full.id}/chunks?limit=${PAGE}&offset=${shown}`))); } catch (e) { toast(e.text ? e.text() : String(e.message || e)); } finally { more.disabled = false; }
    });
    add(first);
    parts.push(h('h3', {}, t('doc.chunks', first.total)), first.total ? list : h('p', { class: 'muted' }, t('doc.noChunks')), more);
  }
  box.replaceChildren(card({ id: 'doc-detail' }, ...parts));
  box.scrollIntoView({ block: 'nearest' });
  box.querySelector('#doc-title')?.focus({ preventScroll: true });
}

// docReindex re-tokenizes and re-embeds one document (a background job): a button, the
// run's progress, and its result in words. The new index replaces the old one at once,
// so search never sees the document half done.
function docReindex(kb, doc, initial) {
  const canRun = can('doc:curate') && has('POST /v1/knowledge-bases/:kb/documents/:doc/reindex');
  if (!canRun && !initial) return null;
  const bar = h('progress', { max: 1, value: 0, id: 'doc-reindex-bar' });
  const status = h('p', { id: 'doc-reindex-state', 'aria-live': 'polite' });
  const btn = h('button', { type: 'button', id: 'doc-reindex-run', hidden: !canRun }, t('docReindex.run'));
  const path = kbPath(kb, `/documents/${doc.id}/reindex`);
  const draw = (r) => {
    const st = r?.state || 'none';
    status.dataset.state = st;
    bar.hidden = st !== 'queued' && st !== 'running';
    if (r) { bar.max = Math.max(1, r.total); bar.value = st === 'queued' ? 0 : r.done; }
    status.replaceChildren(...[
      st === 'none' ? t('docReindex.never') : t('docReindex.state.' + st, r.done, r.total),
      r?.error ? h('span', { class: 'error' }, r.error) : null,
      r?.finished_at ? h('span', { class: 'muted' }, ' · ', fmtTime(r.finished_at)) : null].filter(Boolean));
    btn.disabled = st === 'queued' || st === 'running';
    return st;
  };
  const follow = async () => {
    for (;;) {
      await new Promise((r) => setTimeout(r, 300));
      if (!btn.isConnected) return; // the detail was closed
      const st = draw((await api('GET', path)).reindex);
      if (st !== 'queued' && st !== 'running') return;
    }
  };
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    try { draw((await api('POST', path)).reindex); await follow(); } catch (e) { status.replaceChildren(errorBox(e)); btn.disabled = false; }
  });
  const st = draw(initial);
  if (st === 'queued' || st === 'running') follow().catch(() => {});
  return h('div', { class: 'doc-reindex', id: 'doc-reindex' }, h('h3', {}, t('docReindex.title')), h('p', { class: 'muted' }, t('docReindex.intro')),
    h('div', { class: 'row' }, btn, bar), status);
}

const fmtBytes = (n) => n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KB` : `${(n / (1 << 20)).toFixed(1)} MB`;

// curateEditor is "edit and approve" for a Q&A pair mined from tickets: the operator fixes
// the question and answer, and saving makes them a curated answer (the bot gives it as
// written) while the mined pair leaves search (POST .../curate).
async function curateEditor(kb, d, box, refresh) {
  const page = await api('GET', kbPath(kb, `/documents/${d.id}/chunks?limit=1`));
  const text = page.chunks?.[0]?.content || '';
  const m = text.match(/^(?:问：|Q: )([\s\S]*?)\n(?:答：|A: )([\s\S]*)$/);
  const origQ = m ? m[1].trim() : d.title, origA = m ? m[2].trim() : text;
  const q = h('input', { type: 'text', id: 'curate-q', required: true, value: origQ });
  const a = h('textarea', { id: 'curate-a', required: true, rows: 5 }, origA);
  const sim = h('textarea', { id: 'curate-similar', rows: 2 });
  box.replaceChildren(card({ id: 'curate' }, h('h2', { tabindex: -1, id: 'curate-title' }, t('curate.title')),
    h('p', { class: 'muted' }, t('curate.intro', d.metadata?.count || 1)),
    form(async () => {
      const similar = sim.value.split('\n').map((x) => x.trim()).filter(Boolean);
      if (q.value.trim() !== origQ && origQ && !similar.includes(origQ)) similar.push(origQ); // the customers' own wording still matches
      const r = await api('POST', kbPath(kb, `/documents/${d.id}/curate`), { question: q.value.trim(), answer: a.value.trim(), similar_questions: similar });
      toast(t('curate.done', r.faq.id));
      box.replaceChildren();
      await refresh();
    }, field(t('faqs.question'), q), field(t('faqs.answer'), a), field(t('faqs.similar'), sim),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', id: 'curate-save' }, t('curate.save')),
      h('button', { type: 'button', onclick: () => box.replaceChildren() }, t('common.cancel'))))));
  box.scrollIntoView({ block: 'nearest' });
  q.focus({ preventScroll: true });
}

function uploader(kb, refresh) {
  const kind = h('select', { id: 'upload-kind' }, ['auto', 'manual', 'catalog', 'tickets', 'faq', 'records'].map((k) => h('option', { value: k }, t('docs.kind.' + k))));
  const input = h('input', { type: 'file', multiple: true, hidden: true, id: 'upload-input', onchange: () => { send([...input.files]); input.value = ''; } });
  const list = h('ul', { class: 'uploads', id: 'uploads' });
  const drop = h('div', {
    class: 'drop', tabindex: 0, role: 'button', id: 'dropzone', 'aria-label': t('docs.drop'),
    onclick: () => input.click(), onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); input.click(); } },
    ondragover: (e) => { e.preventDefault(); drop.classList.add('over'); }, ondragleave: () => drop.classList.remove('over'),
    ondrop: (e) => { e.preventDefault(); drop.classList.remove('over'); send([...e.dataTransfer.files]); },
  }, t('docs.drop'));
  function send(files) {
    for (const file of files) uploadOne(kb, file, kind.value, list, refresh);
  }
  return h('div', {}, h('div', { class: 'row' }, field(t('docs.kind'), kind)), drop, input, list);
}

function uploadOne(kb, file, kind, list, refresh) {
  const bar = h('progress', { max: 100, value: 0 });
  const msg = h('span', { class: 'msg', 'data-state': 'uploading' }, t('job.uploading', 0));
  const li = h('li', { 'data-file': file.name }, h('span', { class: 'name' }, file.name), bar, msg);
  list.prepend(li);
  const fd = new FormData();
  fd.append('kind', kind);
  fd.append('file', file);
  const xhr = new XMLHttpRequest();
  xhr.open('POST', kbPath(kb, '/documents'));
  xhr.setRequestHeader('X-CSRF-Token', state.session?.csrf_token || '');
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) { const p = Math.round((100 * e.loaded) / e.total); bar.value = p * 0.3; msg.textContent = t('job.uploading', p); } };
  xhr.onerror = () => { msg.replaceChildren(errorBox(new Error(t('err.network')))); msg.dataset.state = 'failed'; };
  xhr.onload = () => {
    let body = null;
    try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
    if (xhr.status !== 202) { msg.replaceChildren(errorBox(new ApiError(xhr.status, body))); msg.dataset.state = 'failed'; bar.value = 100; return; }
    watchJob(body.job, bar, msg).then(() => refresh().catch(() => {}));
  };
  xhr.send(fd);
}

async function watchJob(job, bar, msg) {
  for (;;) {
    bar.value = jobPercent(job);
    msg.replaceChildren(jobText(job), ...jobDetails(job).filter(Boolean));
    msg.dataset.state = job.state === 'succeeded' ? 'ready' : job.state;
    if (['succeeded', 'failed', 'cancelled'].includes(job.state)) return;
    await new Promise((r) => setTimeout(r, 400));
    try { job = (await api('GET', `/v1/jobs/${job.id}`)).job; } catch (err) { msg.replaceChildren(errorBox(err)); return; }
  }
}

// ---------- curated Q&A ----------
async function faqs({ kb }) {
  const route = 'GET /v1/knowledge-bases/:kb/faqs';
  if (!has(route)) return notAvailable(t('faqs.title', kb.name), '/v1/knowledge-bases/{kb}/faqs');
  const data = await api('GET', faqsPath(kb));
  const all = data.faqs || data.items || [];
  const editor = h('div');
  const filter = h('input', { type: 'search', placeholder: t('faqs.filter'), 'aria-label': t('faqs.filter'), id: 'faq-filter' });
  const tbody = h('tbody');
  const draw = () => {
    const q = filter.value.trim().toLowerCase();
    tbody.replaceChildren(...all.filter((f) => !q || (f.question + f.answer + (f.similar_questions || []).join()).toLowerCase().includes(q)).map((f) => h('tr', {},
      h('td', {}, f.question, f.similar_questions?.length ? h('div', { class: 'muted' }, f.similar_questions.join(' · ')) : null),
      h('td', {}, f.answer), h('td', {},
        h('button', { type: 'button', class: 'link', onclick: () => edit(f) }, t('common.edit')),
        h('button', { type: 'button', class: 'link danger', onclick: async () => {
          if (!confirm(t('common.confirmDelete', f.question))) return;
          await api('DELETE', kbPath(kb, `/faqs/${f.id}`)); go(location.hash);
        } }, t('common.delete'))))));
  };
  const edit = (f) => {
    const q = h('input', { type: 'text', required: true, value: f?.question || '' });
    const a = h('textarea', { required: true }, f?.answer || '');
    const sim = h('textarea', {}, (f?.similar_questions || []).join('\n'));
    editor.replaceChildren(card(h('h2', {}, f ? f.question : t('faqs.new')), form(async () => {
      const body = { question: q.value.trim(), answer: a.value.trim(), similar_questions: sim.value.split('\n').map((s) => s.trim()).filter(Boolean) };
      if (f) await api('PUT', kbPath(kb, `/faqs/${f.id}`), body); else await api('POST', kbPath(kb, '/faqs'), body);
      toast(t('common.saved')); go(location.hash);
    }, field(t('faqs.question'), q, 'faq-q'), field(t('faqs.answer'), a, 'faq-a'), field(t('faqs.similar'), sim, 'faq-sim'),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, t('common.save')), h('button', { type: 'button', onclick: () => editor.replaceChildren() }, t('common.cancel'))))));
    q.focus();
  };
  const tableWrap = h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, t('faqs.question')), h('th', {}, t('faqs.answer')), h('th', {}, t('common.actions')))), tbody));
  const listCard = card();
  const drawAll = () => { draw(); listCard.replaceChildren(all.length ? tableWrap : empty(t('faqs.empty'), t('faqs.emptyBody'))); };
  // reload refetches the list in place, keeping an import's report on screen.
  const reload = async () => { const d = await api('GET', faqsPath(kb)); all.splice(0, all.length, ...(d.faqs || [])); drawAll(); };
  filter.addEventListener('input', draw);
  drawAll();
  const importBox = h('div', { id: 'faq-import' });
  const csvInput = h('input', { type: 'file', accept: '.csv,text/csv', hidden: true, id: 'faq-import-input',
    onchange: () => { const f = csvInput.files[0]; csvInput.value = ''; if (f) importFAQs(kb, f, all, importBox, reload); } });
  const curate = can('doc:curate');
  return h('div', {}, h('h1', {}, t('faqs.title', kb.name)),
    h('div', { class: 'row' }, filter, curate ? h('button', { type: 'button', class: 'primary', onclick: () => edit(null) }, t('faqs.new')) : null,
      h('button', { type: 'button', id: 'faq-export', onclick: () => exportFAQs(kb).catch((e) => toast(e.text ? e.text() : String(e.message || e))) }, t('faqs.export')),
      curate ? h('button', { type: 'button', id: 'faq-import-button', onclick: () => csvInput.click() }, t('faqs.import')) : null, csvInput),
    curate ? h('p', { class: 'muted' }, t('faqs.csvHint')) : null, importBox, editor,
    listCard);
}

// ---------- curated Q&A as CSV ----------
// The columns are those of an FAQ file for upload (kind faq): 问题, 答案, 相似问题 (split
// by | or a new line), 标签 (split by ;). Import reads the usual header names in Chinese or
// English and creates each row through POST /v1/knowledge-bases/{kb}/faqs, so every row
// is validated, audited and live at once like one typed in; its errors are per row.
function parseCSV(text) {
  const rows = [];
  let row = [], cell = '', quoted = false;
  text = text.replace(/^\uFEFF/, '');
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (c === '"') quoted = false; else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(cell); cell = ''; } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell); cell = '';
      if (row.some((x) => x.trim() !== '')) rows.push(row);
      row = [];
    } else cell += c;
  }
  row.push(cell);
  if (row.some((x) => x.trim() !== '')) rows.push(row);
  return rows;
}
const csvCell = (v) => {
  let s = String(v ?? '');
  if (/^[=+\-@\t\r]/.test(s)) s = "'" + s; // a spreadsheet would run it as a formula
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};
const HEADERS = {
  question: ['question', 'q', '问题', '标准问题', '标准问', '问', '常见问题'],
  answer: ['answer', 'a', '答案', '回复', '标准答案', '答', '回答', '标准回复'],
  similar: ['similar', 'similarquestions', 'similarquestion', '相似问题', '相似问法', '相似问', '扩展问题', '扩展问法'],
  tags: ['tags', 'tag', '标签', '关键词', 'keywords'],
};

async function exportFAQs(kb) {
  const out = [['问题', '答案', '相似问题', '标签']];
  for (let offset = 0; ; offset += 500) {
    const page = await api('GET', kbPath(kb, `/faqs?limit=500&offset=${offset}`));
    for (const f of page.faqs || []) out.push([f.question, f.answer, (f.similar_questions || []).join('|'), (f.tags || []).join(';')]);
    if (offset + 500 >= page.total) break;
  }
  const blob = new Blob(['\uFEFF' + out.map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n'], { type: 'text/csv;charset=utf-8' });
  const a = h('a', { href: URL.createObjectURL(blob), download: `${kb.name}-faqs.csv` });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

async function importFAQs(kb, file, existing, box, reload) {
  const rows = parseCSV(await file.text());
  const norm = (x) => x.trim().toLowerCase().replace(/[\s_\-]/g, '');
  const head = (rows.shift() || []).map(norm);
  const col = Object.fromEntries(Object.entries(HEADERS).map(([k, names]) => [k, head.findIndex((x) => names.includes(x))]));
  if (col.question < 0 || col.answer < 0) { box.replaceChildren(h('div', { class: 'error' }, t('faqs.csvNoHeader'))); return; }
  const have = new Set(existing.map((f) => f.question.trim()));
  const bar = h('progress', { max: rows.length, value: 0 });
  const status = h('span', { class: 'muted' });
  const failures = h('ul', { class: 'error-list' });
  box.replaceChildren(card(h('h2', {}, t('faqs.importing', file.name)), bar, status, failures));
  let created = 0, skipped = 0;
  for (const [i, r] of rows.entries()) {
    const get = (k) => (col[k] >= 0 ? (r[col[k]] || '').trim() : '');
    const question = get('question');
    if (have.has(question)) { skipped++; } else {
      try {
        await api('POST', kbPath(kb, '/faqs'), { question, answer: get('answer'),
          similar_questions: get('similar').split(/[|｜\n]/).map((x) => x.trim()).filter(Boolean),
          tags: get('tags').split(/[;；,，]/).map((x) => x.trim()).filter(Boolean) });
        created++; have.add(question);
      } catch (e) {
        failures.append(h('li', {}, t('faqs.rowError', i + 2, question || '—', e.text ? e.text() : String(e.message || e))));
      }
    }
    bar.value = i + 1;
    status.textContent = t('faqs.importProgress', i + 1, rows.length);
  }
  status.textContent = '';
  box.querySelector('h2').textContent = t('faqs.imported', created, skipped, failures.children.length);
  if (created) await reload().catch(() => {});
  box.querySelector('section').dataset.done = 'true';
}

// ---------- hit test ----------
function highlight(text, terms) {
  const ts = (terms || []).filter((x) => x && x.length > 0).sort((a, b) => b.length - a.length);
  if (!ts.length) return [text];
  const re = new RegExp(`(${ts.map((x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`, 'gi');
  return text.split(re).map((part, i) => (i % 2 ? h('mark', {}, part) : part));
}
function scoreRow(label, v, color) {
  const track = h('span', { class: 'track' }, v == null ? null : h('span', { class: 'bar', style: { width: `${Math.max(2, Math.min(100, v * 100))}%`, background: color } }));
  return [h('span', {}, label), track, h('span', { class: 'num' }, v == null ? '—' : v.toFixed(3))];
}

async function hittest({ kb }) {
  if (!can('search')) return forbidden(t('nav.hittest'));
  const q = h('input', { type: 'search', id: 'hit-q', required: true, style: { minWidth: '260px', flex: '1' } });
  const mode = h('select', { id: 'hit-mode' }, ['hybrid', 'vector', 'text'].map((m) => h('option', { value: m }, t('hit.mode.' + m))));
  const topK = h('input', { type: 'number', min: 1, max: 50, value: 8, id: 'hit-k', style: { width: '80px' } });
  const filters = h('input', { type: 'text', id: 'hit-filters', placeholder: '{"kind":"manual"}' });
  const results = h('div', { id: 'hit-results' });
  const answerBox = h('div', { id: 'hit-answer' });
  const withAnswer = has('POST /v1/answer');
  return h('div', {}, h('h1', {}, t('hit.title', kb.name)), card(form(async () => {
    let f;
    if (filters.value.trim()) {
      try { f = JSON.parse(filters.value); } catch { throw new Error(t('hit.badFilters')); }
      if (typeof f !== 'object' || f === null) throw new Error(t('hit.badFilters'));
    }
    results.replaceChildren(h('p', { class: 'muted' }, t('common.loading')));
    answerBox.replaceChildren();
    const search = api('POST', kbPath(kb, '/search'), { query: q.value, mode: mode.value, top_k: Number(topK.value) || 8, filters: f });
    const answer = withAnswer ? api('POST', '/v1/answer', { knowledge_base: kb.name, question: q.value, filters: f, debug: true }).catch((e) => e) : null;
    const sr = await search;
    drawHits(results, sr.results || []);
    if (answer) drawAnswer(answerBox, await answer);
  }, h('div', { class: 'row' }, field(t('hit.question'), q), field(t('hit.mode'), mode), field(t('hit.topK'), topK),
    h('div', { class: 'field' }, h('button', { type: 'submit', class: 'primary', id: 'hit-run' }, t('hit.run')))),
  field(t('hit.filters'), filters))), withAnswer ? null : h('p', { class: 'notice' }, t('hit.noAnswerApi')), answerBox, results);
}

function drawHits(box, hits) {
  if (!hits.length) { box.replaceChildren(card(empty(t('hit.noResults'), t('hit.noResultsBody')))); return; }
  box.replaceChildren(card(h('h2', {}, t('hit.results', hits.length)), hits.map((r, i) => h('div', { class: 'hit', 'data-chunk': r.chunk_id },
    h('span', { class: 'rank' }, `#${i + 1}`),
    h('div', {}, h('div', {}, h('strong', {}, r.title || r.external_id), ' ', h('span', { class: 'muted' },
      [r.source?.page ? t('hit.page', r.source.page) : '', (r.source?.section_path || []).join(' › ')].filter(Boolean).join(' · '))),
    h('div', { class: 'content' }, highlight(r.content.length > 600 ? r.content.slice(0, 600) + '…' : r.content, r.matched_terms)),
    r.matched_terms?.length ? h('div', { class: 'muted' }, `${t('hit.matched')}: ${r.matched_terms.join(', ')}`) : null),
    h('div', { class: 'scores' }, scoreRow(t('hit.vector'), r.scores?.vector, 'var(--vec)'), scoreRow(t('hit.text'), r.scores?.text, 'var(--txt)'),
      scoreRow(t('hit.fused'), r.scores?.fused, 'var(--fused)'), scoreRow('score', r.score, 'var(--ok)'))))));
}

function drawAnswer(box, a) {
  if (a instanceof Error) { box.replaceChildren(errorBox(a)); return; }
  const d = a.debug || {};
  const steps = Object.entries(d.steps_ms || {});
  box.replaceChildren(card(h('h2', {}, t('hit.answer')),
    h('p', { class: 'answer', id: 'answer-text' }, a.answer || '—'),
    h('dl', { class: 'kv' },
      h('dt', {}, t('hit.answered')), h('dd', {}, h('span', { class: `badge ${a.answered ? 'ok' : 'bad'}` }, a.answered ? t('common.yes') : t('common.no')), a.handoff ? [' ', h('span', { class: 'badge warn' }, `${t('hit.handoff')} ${a.handoff_reason || ''}`)] : null),
      h('dt', {}, t('hit.confidence')), h('dd', {}, h('span', { class: 'scores' }, scoreRow('', a.confidence, a.confidence >= (d.threshold || 0) ? 'var(--ok)' : 'var(--bad)'))),
      h('dt', {}, t('hit.source')), h('dd', {}, t('source.' + a.source)),
      a.rewritten_query ? [h('dt', {}, t('hit.rewritten')), h('dd', {}, a.rewritten_query)] : null,
      a.citations?.length ? [h('dt', {}, t('hit.citations')), h('dd', {}, h('ol', {}, a.citations.map((c) => h('li', {}, h('strong', {}, c.title), c.page ? ` (${t('hit.page', c.page)}) ` : ' ', h('span', { class: 'muted' }, c.snippet)))))] : null,
      steps.length ? [h('dt', {}, t('hit.steps')), h('dd', {}, steps.map(([k, v]) => `${k} ${Number(v).toFixed(1)} ms`).join(' · '))] : null)));
}

// ---------- administration ----------
async function keys() {
  if (!can('keys:manage')) return forbidden(t('keys.title'));
  const data = await api('GET', '/v1/keys');
  const name = h('input', { type: 'text', id: 'key-name' });
  const role = h('select', { id: 'key-role' }, ['bot', 'uploader', 'operator', 'admin'].map((r) => h('option', { value: r }, t('role.' + r))));
  const scope = kbOptions();
  const shown = h('div');
  const rows = (data.keys || []).map((k) => h('tr', {},
    h('td', {}, h('code', {}, k.prefix + '…')), h('td', {}, k.name), h('td', {}, t('role.' + k.role)), h('td', {}, kbNames(k.kb_ids)),
    h('td', { class: 'hide-sm' }, fmtTime(k.created_at)), h('td', { class: 'hide-sm' }, fmtTime(k.last_used_at)),
    h('td', {}, k.revoked_at ? h('span', { class: 'badge bad' }, t('keys.revoked')) : [h('span', { class: 'badge ok' }, t('keys.live')), ' ',
      h('button', { type: 'button', class: 'link danger', onclick: async () => { if (!confirm(t('keys.confirmRevoke', k.prefix))) return; await api('DELETE', `/v1/keys/${k.id}`); go(location.hash); } }, t('keys.revoke'))])));
  return h('div', {}, h('h1', {}, t('keys.title')), card(h('h2', {}, t('keys.create')), form(async () => {
    const r = await api('POST', '/v1/keys', { name: name.value, role: role.value, knowledge_bases: selectedValues(scope) });
    shown.replaceChildren(h('div', { class: 'notice' }, t('keys.shownOnce'), h('div', { class: 'secret', id: 'new-key' }, r.key)));
  }, h('div', { class: 'row' }, field(t('common.name'), name), field(t('common.role'), role), field(`${t('common.kbs')} (${t('users.kbHint')})`, scope),
    h('div', { class: 'field' }, h('button', { type: 'submit', class: 'primary', id: 'key-create' }, t('common.create'))))), shown),
  card(rows.length ? table([{ label: t('keys.prefix') }, { label: t('common.name') }, { label: t('common.role') }, { label: t('common.kbs') },
    { label: t('common.created'), cls: 'hide-sm' }, { label: t('keys.lastUsed'), cls: 'hide-sm' }, { label: t('docs.col.status') }], rows) : empty(t('keys.empty'), t('keys.emptyBody'))));
}

async function users() {
  if (!can('keys:manage')) return forbidden(t('users.title'));
  const data = await api('GET', '/v1/users');
  const email = h('input', { type: 'email', required: true, id: 'user-email', autocomplete: 'off' });
  const dn = h('input', { type: 'text', id: 'user-name' });
  const pw = h('input', { type: 'password', required: true, minlength: 8, id: 'user-password', autocomplete: 'new-password' });
  const role = h('select', { id: 'user-role' }, ['operator', 'uploader', 'admin'].map((r) => h('option', { value: r }, t('role.' + r))));
  const scope = kbOptions();
  scope.id = 'user-kbs';
  const rows = (data.users || []).map((u) => h('tr', { 'data-user': u.email },
    h('td', {}, u.email, u.display_name ? h('div', { class: 'muted' }, u.display_name) : null), h('td', {}, t('role.' + u.role)), h('td', {}, kbNames(u.kb_ids)),
    h('td', {}, h('span', { class: `badge ${u.disabled_at ? 'bad' : 'ok'}` }, u.disabled_at ? t('users.disabled') : t('users.active'))),
    h('td', { class: 'hide-sm' }, fmtTime(u.created_at)),
    h('td', {}, h('button', { type: 'button', class: 'link', onclick: async () => { await api('PATCH', `/v1/users/${u.id}`, { disabled: !u.disabled_at }); go(location.hash); } },
      u.disabled_at ? t('users.enable') : t('users.disable')))));
  return h('div', {}, h('h1', {}, t('users.title')), card(h('h2', {}, t('users.create')), form(async () => {
    await api('POST', '/v1/users', { email: email.value, display_name: dn.value, password: pw.value, role: role.value, knowledge_bases: selectedValues(scope) });
    toast(t('common.saved')); go(location.hash);
  }, h('div', { class: 'grid2' }, field(t('login.email'), email), field(t('users.displayName'), dn), field(t('login.password'), pw), field(t('common.role'), role),
    field(`${t('common.kbs')} (${t('users.kbHint')})`, scope)), h('button', { type: 'submit', class: 'primary', id: 'user-create' }, t('common.create')))),
  card(rows.length ? table([{ label: t('login.email') }, { label: t('common.role') }, { label: t('common.kbs') }, { label: t('docs.col.status') },
    { label: t('common.created'), cls: 'hide-sm' }, { label: t('common.actions') }], rows) : empty(t('users.empty'), t('users.emptyBody'))));
}

async function audit({ route }) {
  if (!can('keys:manage')) return forbidden(t('audit.title'));
  const prefix = route[1] || '';
  const tbody = h('tbody');
  const more = h('button', { type: 'button' }, t('common.more'));
  let before = 0;
  const load = async () => {
    const data = await api('GET', auditPath(prefix, before));
    const es = data.entries || [];
    appendRows(tbody, es, (e) => h('tr', {}, h('td', {}, fmtTime(e.created_at)), h('td', {}, e.actor), h('td', {}, h('code', {}, e.action)), h('td', {}, e.target),
      h('td', { class: 'hide-sm muted' }, JSON.stringify(e.details || {}))));
    before = es.at(-1)?.id || 0;
    more.hidden = es.length < 100;
    return es.length;
  };
  more.addEventListener('click', load);
  const n = await load();
  const filter = h('input', { type: 'search', value: prefix, placeholder: t('audit.filter'), 'aria-label': t('audit.filter'), onchange: (e) => go(`#/audit/${enc(e.target.value.trim())}`) });
  return h('div', {}, h('h1', {}, t('audit.title')), h('div', { class: 'row' }, filter), card(n ? h('div', { class: 'table-wrap' }, h('table', {},
    h('thead', {}, h('tr', {}, [t('audit.when'), t('audit.actor'), t('audit.action'), t('audit.target'), ''].map((c) => h('th', {}, c)))), tbody), more) : empty(t('audit.empty'))));
}

export { card, field, table, form, notAvailable, forbidden, scoreRow };

export const screens = { login, kbs, settings, docs, faqs, hittest, gaps, dashboard, conversations, keys, users, audit };
