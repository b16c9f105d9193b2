// Zhiku admin UI: a hash router over the same /v1 API bots use, signed in by a session
// cookie (HttpOnly) with a CSRF token sent back on every change.
import { t, getLang, setLang } from './i18n.js';
import { screens } from './screens.js';
import { early, parse } from './early.js';

export const state = { session: null, kbs: [], kbsFresh: false };


// h builds an element: h('a', {href, onclick}, 'text', child). Text is never parsed as HTML.
export function h(tag, attrs, ...kids) {
  const el = tag === 'svg' || attrs?.svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false || k === 'svg') continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'style') Object.assign(el.style, v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid == null || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

// ApiError carries the API's error: status, code and both languages' messages.
export class ApiError extends Error {
  constructor(status, body) {
    const e = body?.error || {};
    super(e.message || `HTTP ${status}`);
    this.status = status; this.code = e.code || ''; this.zh = e.message_zh || ''; this.requestId = body?.request_id || '';
  }
  text() { return (getLang() === 'zh' && this.zh) ? this.zh : this.message; }
}

// api calls the JSON API; changes carry the session's CSRF token. A lost session sends
// the user to sign in.
export async function api(method, path, body, { raw = false, quiet = false } = {}) {
  const headers = {};
  if (method !== 'GET') headers['X-CSRF-Token'] = state.session?.csrf_token || '';
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) { headers['Content-Type'] = 'application/json'; payload = JSON.stringify(body); }
  let res, data;
  try {
    const waiting = method === 'GET' && !raw ? early.get(path) : undefined; // started, body read, by early.js
    early.delete(path);
    if (waiting) ({ res, data } = await waiting);
    else res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin' });
  } catch {
    throw Object.assign(new ApiError(0, { error: { message: t('err.network'), message_zh: t('err.network') } }));
  }
  if (res.status === 204) return null;
  if (data === undefined) data = await res.json().catch(() => null);
  if (!res.ok) {
    const err = new ApiError(res.status, data);
    if (res.status === 401 && path !== '/admin/api/login' && !quiet) {
      state.session = null;
      toast(t('err.session'));
      go('#/login');
    }
    throw err;
  }
  return raw ? res : data;
}

// appendRows appends a row per item to tbody: a first screenful at once, the rest once the
// browser has drawn it. Building and laying out a long table is most of a list screen's
// first paint (measured: 100–150 ms for 50–70 rows on a busy machine; building the rows
// alone was the largest script cost of the documents screen) while only the first rows
// are on screen (about a dozen at 800 px), so only those are built before it. build makes
// an item's row (items are rows already when it is left out). tbody carries data-pending
// until the rest are in. Rows of a list that was redrawn in the meantime (the first ones
// left tbody) are dropped.
const FIRST_ROWS = 12;
export function appendRows(tbody, items, build = (row) => row) {
  const first = items.slice(0, FIRST_ROWS).map(build);
  tbody.append(...first);
  if (items.length <= FIRST_ROWS) return;
  const mark = first[first.length - 1];
  tbody.dataset.pending = '';
  requestAnimationFrame(() => setTimeout(() => {
    if (mark.parentNode === tbody) { tbody.append(...items.slice(FIRST_ROWS).map(build)); delete tbody.dataset.pending; }
  }));
}

export function errorBox(err) {
  const msg = err instanceof ApiError ? err.text() : String(err?.message || err);
  return h('div', { class: 'error', role: 'alert' }, msg, err?.requestId ? h('span', { class: 'muted' }, ` (${t('common.requestId')} ${err.requestId})`) : null);
}

export function empty(title, body) {
  return h('div', { class: 'empty' }, h('strong', {}, title), body ? h('span', {}, body) : null);
}

export function toast(msg) {
  const el = h('div', {}, msg);
  document.getElementById('toast').append(el);
  setTimeout(() => el.remove(), 3500);
}

// can tells whether the signed-in role holds a permission (the server checks it anyway).
export const can = (perm) => !!state.session?.permissions?.includes(perm);
// has tells whether this server serves a route, e.g. has('GET /v1/gaps').
export const has = (route) => !!state.session?.routes?.includes(route);

export function go(hash) { if (location.hash !== hash) location.hash = hash; else render(); }

// Times and prices are formatted by hand, not by Intl: the first Intl formatter a page
// builds loads the locale's data, measured at 65–75 ms of a catalog page's load on a busy
// machine, more than the rest of its script. Times read the same in both languages
// (2026-11-29 07:35, local time); prices group thousands and keep up to two decimals.
const pad2 = (n) => String(n).padStart(2, '0');
export function fmtTime(s) {
  const d = s ? new Date(s) : null;
  if (!d || Number.isNaN(d.getTime())) return '—';
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}
export function fmtMoney(v) {
  const [int, frac] = (Math.round(Number(v) * 100) / 100).toFixed(2).split('.');
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const cents = frac.replace(/0+$/, '');
  return cents ? `${grouped}.${cents}` : grouped;
}

async function loadSession() {
  // Both at once: a page load waits for one round trip, not two.
  const [session, kbs] = await Promise.allSettled([api('GET', '/v1/session', undefined, { quiet: true }), api('GET', '/v1/knowledge-bases', undefined, { quiet: true })]);
  if (session.status !== 'fulfilled' || kbs.status !== 'fulfilled') { state.session = null; early.clear(); return; }
  state.session = session.value;
  state.kbs = kbs.value.knowledge_bases || [];
  state.kbsFresh = true; // the knowledge-base list screen need not ask again at once
}

export async function refreshKBs() {
  const r = await api('GET', '/v1/knowledge-bases');
  state.kbs = r.knowledge_bases || [];
}


function defaultRoute() {
  if (!can('search') && state.kbs.length) return `#/kb/${encodeURIComponent(state.kbs[0].name)}/docs`;
  return '#/kbs';
}

function header() {
  const top = document.getElementById('top');
  top.replaceChildren(
    h('span', { class: 'brand' }, t('app.name')),
    state.session ? h('span', { class: 'who', id: 'who' }, `${state.session.name} · ${t('role.' + state.session.role)}`) : null,
    h('button', { type: 'button', id: 'lang', 'aria-label': t('lang.label'), onclick: () => { setLang(getLang() === 'zh' ? 'en' : 'zh'); render(); } }, t('lang.switch')),
    state.session ? h('button', { type: 'button', id: 'logout', onclick: logout }, t('nav.logout')) : null,
  );
}

async function logout() {
  try { await api('POST', '/admin/api/logout'); } catch { /* signed out either way */ }
  state.session = null;
  go('#/login');
}

function nav(route) {
  const el = document.getElementById('nav');
  if (!state.session) { el.replaceChildren(); return; }
  const here = '#/' + route.map(encodeURIComponent).join('/');
  const link = (href, key, off) => h('a', { href, 'aria-current': here === href ? 'page' : null, class: off ? 'off' : null }, t(key));
  const kbName = route[0] === 'kb' ? route[1] : (state.kbs[0]?.name || '');
  const kb = encodeURIComponent(kbName);
  const items = [h('h2', {}, t('nav.kbs')), link('#/kbs', 'nav.kbs')];
  if (kbName) {
    const sel = h('select', { 'aria-label': t('nav.kb'), id: 'kbselect', onchange: (e) => go(`#/kb/${encodeURIComponent(e.target.value)}/${route[0] === 'kb' ? route[2] : 'docs'}`) },
      state.kbs.map((k) => h('option', { value: k.name, selected: k.name === kbName }, k.name)));
    items.push(h('h2', {}, t('nav.kb')), sel, link(`#/kb/${kb}/docs`, 'nav.docs'));
    if (can('doc:curate')) items.push(link(`#/kb/${kb}/faqs`, 'nav.faqs', !has('GET /v1/knowledge-bases/:kb/faqs')));
    if (can('search')) items.push(link(`#/kb/${kb}/hittest`, 'nav.hittest'));
    if (can('kb:write')) items.push(link(`#/kb/${kb}/settings`, 'nav.settings'));
  }
  if (can('gaps')) {
    items.push(h('h2', {}, t('nav.loop')), link('#/gaps', 'nav.gaps', !has('GET /v1/gaps')), link('#/dashboard', 'nav.dashboard', !has('GET /v1/stats')),
      link('#/conversations', 'nav.conversations', !has('GET /v1/conversations')));
  }
  if (can('keys:manage') && state.session.kb_ids == null) {
    items.push(h('h2', {}, t('nav.admin')), link('#/keys', 'nav.keys'), link('#/users', 'nav.users'), link('#/audit', 'nav.audit'));
  }
  el.replaceChildren(...items);
}

let renderSeq = 0;

export async function render() {
  const seq = ++renderSeq;
  const route = parse();
  const view = document.getElementById('view');
  if (!state.session && route[0] !== 'login') { await loadSession(); if (seq !== renderSeq) return; }
  if (!state.session) { if (route[0] !== 'login') { go('#/login'); return; } }
  else if (route[0] === 'login' || route[0] === '') { go(defaultRoute()); return; }
  header();
  nav(route);
  const name = route[0] === 'kb' ? route[2] : route[0];
  const screen = screens[name] || screens.kbs;
  const kb = route[0] === 'kb' ? state.kbs.find((k) => k.name === route[1] || String(k.id) === route[1]) : null;
  if (route[0] === 'kb' && !kb) {
    view.replaceChildren(errorBox(new ApiError(404, { error: { message: `knowledge base "${route[1]}" not found`, message_zh: `知识库“${route[1]}”不存在` } })));
    return;
  }
  view.replaceChildren(h('p', { class: 'muted' }, t('common.loading')));
  try {
    const node = await screen({ kb, route });
    if (seq !== renderSeq) return;
    view.replaceChildren(node);
  } catch (err) {
    if (seq !== renderSeq) return;
    view.replaceChildren(errorBox(err));
  } finally {
    early.clear();
    state.kbsFresh = false;
  }
  document.title = `${document.querySelector('#view h1')?.textContent || ''} · 知库 Zhiku`;
}

export async function signedIn(session) {
  early.clear();
  state.session = session;
  await refreshKBs();
  go(defaultRoute());
}

setLang(getLang());
// A screen opened from the menu takes the keyboard focus, so Tab continues in its content.
window.addEventListener('hashchange', async () => {
  const fromNav = document.activeElement?.closest?.('#nav') != null || document.activeElement === document.body;
  await render();
  if (fromNav && !document.getElementById('view').contains(document.activeElement)) document.getElementById('view').focus({ preventScroll: true });
});
// The skip link focuses the content without touching the hash, which the router owns.
document.querySelector('.skip')?.addEventListener('click', (e) => { e.preventDefault(); document.getElementById('view').focus(); });
render();
