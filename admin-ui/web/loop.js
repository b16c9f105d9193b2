// The closed loop's screens: the gap queue (and the review tab), the dashboard of
// /v1/stats, and the conversation log. They use the same API as scripts do.
import { t, bi } from './i18n.js';
import { h, api, state, has, go, toast, errorBox, empty, fmtTime, appendRows } from './app.js';
import { card, field, table, form, notAvailable, scoreRow } from './screens.js';
import { stacked, lines, hbars, legend } from './chart.js';
import { qs, gapsPath, statsPath, conversationsPath, gapFilters, conversationFilters, GAPS_PAGE as PAGE } from './early.js';

const enc = encodeURIComponent;
const pct = (v) => `${Math.round(v * 100)}%`;
const kbName = (id) => state.kbs.find((k) => k.id === id)?.name || `#${id}`;
const toastErr = (e) => toast(e.text ? e.text() : String(e.message || e));
const DISMISS_REASONS = ['out_of_scope', 'spam', 'duplicate', 'answered_elsewhere', 'other'];
const REASONS = ['unanswered', 'low_confidence', 'handoff', 'thumbs_down', 'search_miss'];

function kbSelect(id, value, onchange) {
  return h('select', { id, onchange },
    h('option', { value: '' }, t('common.allKbs')), state.kbs.map((k) => h('option', { value: k.name, selected: k.name === value }, k.name)));
}

function trendBadge(g) {
  const arrow = { up: '↑', down: '↓' }[g.trend] || '→';
  const cls = { up: 'bad', down: 'ok' }[g.trend] || '';
  return h('span', { class: `badge ${cls}`, title: t('gaps.trendTitle', g.last_24h, g.previous_24h) }, `${arrow} ${g.last_24h} / ${g.previous_24h}`);
}

function gapStatus(g) {
  const cls = { open: 'warn', resolved: 'ok', dismissed: '' }[g.status] || '';
  return h('span', { class: `badge ${cls}`, 'data-status': g.status }, t('gaps.status.' + g.status));
}


// ---------- gaps ----------
// The filters outlive a redraw (resolving a gap redraws the list), not a reload.
const gf = gapFilters();

export async function gaps({ route }) {
  if (!has('GET /v1/gaps')) return notAvailable(t('gaps.title'), '/v1/gaps');
  const tab = route[1] === 'review' ? 'review' : 'queue';
  const tabs = h('div', { class: 'tabs', role: 'tablist' }, ['queue', 'review'].map((x) => h('button', {
    type: 'button', role: 'tab', id: `gaps-tab-${x}`, 'aria-selected': String(x === tab), onclick: () => go(x === 'queue' ? '#/gaps' : '#/gaps/review'),
  }, t('gaps.tab.' + x))));
  const out = h('div', {}, h('h1', {}, t('gaps.title')), tabs);
  if (tab === 'review') { out.append(await reviewTab()); return out; }

  const detail = h('div', { id: 'gap-detail' });
  const listBox = h('div', { id: 'gap-list' });
  const selected = new Set();
  const mergeBtn = h('button', { type: 'button', id: 'gap-merge', disabled: true, title: t('gaps.mergeHint') }, t('gaps.merge', 0));
  const exportLink = h('a', { class: 'btn', id: 'gap-export', download: 'gaps.csv' }, t('gaps.export'));
  const filterQuery = () => qs({ knowledge_base: gf.kb, status: gf.status, channel: gf.channel, sort: gf.sort });
  const onMerge = async () => {
    const ids = [...selected];
    try {
      const g = await api('POST', '/v1/gaps/merge', { ids });
      toast(t('gaps.merged', g.id, ids.length));
      selected.clear();
      await load();
    } catch (e) { toastErr(e); }
  };
  mergeBtn.addEventListener('click', onMerge);
  const syncMerge = () => { mergeBtn.disabled = selected.size < 2; mergeBtn.textContent = t('gaps.merge', selected.size); };

  const load = async () => {
    exportLink.href = `/v1/gaps/export?${filterQuery()}`;
    const data = await api('GET', gapsPath(gf));
    const list = data.gaps || [];
    selected.clear(); syncMerge();
    const rows = list.map((g) => {
      const samples = (g.sample_questions || []).filter((s) => s !== g.question).slice(0, 3);
      const box = g.status === 'open' ? h('input', { type: 'checkbox', 'aria-label': t('gaps.select', g.question), 'data-select': g.id,
        onchange: (e) => { if (e.target.checked) selected.add(g.id); else selected.delete(g.id); syncMerge(); } }) : null;
      return h('tr', { 'data-gap': g.id, 'data-question': g.question },
        h('td', {}, box),
        h('td', {}, h('strong', {}, g.question), samples.length ? h('div', { class: 'muted' }, samples.join(' · ')) : null,
          h('div', { class: 'tags' }, (g.channels || []).map((c) => h('span', { class: 'badge' }, c)), gf.kb ? null : h('span', { class: 'badge kb' }, kbName(g.kb_id)))),
        h('td', { class: 'num' }, h('strong', {}, g.count)),
        h('td', { class: 'hide-sm' }, trendBadge(g)),
        h('td', { class: 'hide-sm nowrap' }, h('div', {}, fmtTime(g.first_seen)), h('div', { class: 'muted' }, fmtTime(g.last_seen))),
        h('td', {}, gapStatus(g), g.assignee ? h('div', { class: 'muted' }, '@' + g.assignee) : null,
          g.status === 'resolved' ? h('div', { class: 'muted', 'data-hits': g.hits }, t('gaps.hits', g.hits)) : null,
          g.status === 'dismissed' && g.dismissed_reason ? h('div', { class: 'muted' }, t('gaps.reason.' + g.dismissed_reason)) : null),
        h('td', {}, h('button', { type: 'button', class: g.status === 'open' ? 'primary small' : 'small', 'data-open': g.id,
          onclick: () => openGap(g.id, detail, load) }, g.status === 'open' ? t('gaps.work') : t('common.details'))));
    });
    const pager = data.total > PAGE ? h('div', { class: 'row pager' },
      h('button', { type: 'button', disabled: gf.offset === 0, onclick: () => { gf.offset = Math.max(0, gf.offset - PAGE); load().catch(toastErr); } }, t('common.prev')),
      h('span', { class: 'muted' }, t('common.range', gf.offset + 1, Math.min(data.total, gf.offset + PAGE), data.total)),
      h('button', { type: 'button', disabled: gf.offset + PAGE >= data.total, onclick: () => { gf.offset += PAGE; load().catch(toastErr); } }, t('common.next'))) : null;
    listBox.replaceChildren(card(
      h('p', { class: 'muted', id: 'gap-total' }, t('gaps.total', data.total)),
      list.length ? table([{ label: '' }, { label: t('gaps.col.question') }, { label: t('gaps.count'), cls: 'num' }, { label: t('gaps.col.trend'), cls: 'hide-sm' },
        { label: t('gaps.col.seen'), cls: 'hide-sm' }, { label: t('docs.col.status') }, { label: '' }], rows)
        : empty(gf.status === 'open' ? t('gaps.empty') : t('gaps.emptyFiltered'), gf.status === 'open' ? t('gaps.emptyBody') : ''),
      pager));
  };

  const change = (k) => (e) => { gf[k] = e.target.value.trim(); gf.offset = 0; detail.replaceChildren(); load().catch((err) => listBox.replaceChildren(errorBox(err))); };
  const status = h('select', { id: 'gap-status', onchange: change('status') },
    ['open', 'resolved', 'dismissed', ''].map((s) => h('option', { value: s, selected: s === gf.status }, s ? t('gaps.status.' + s) : t('common.all'))));
  const sort = h('select', { id: 'gap-sort', onchange: change('sort') },
    ['impact', 'count', 'last_seen'].map((s) => h('option', { value: s, selected: s === gf.sort }, t('gaps.sort.' + s))));
  const channel = h('input', { type: 'search', id: 'gap-channel', value: gf.channel, placeholder: 'app / web / wechat', onchange: change('channel') });
  const filters = h('div', { class: 'row filters' },
    field(t('nav.kb'), kbSelect('gap-kb', gf.kb, change('kb'))), field(t('docs.col.status'), status), field(t('gaps.channel'), channel),
    field(t('gaps.sortBy'), sort), h('div', { class: 'field' }, mergeBtn), h('div', { class: 'field' }, exportLink));
  await load();
  out.append(filters, detail, listBox);
  return out;
}

// openGap shows one gap: its occurrences (split), assignment, and for an open gap the
// resolution form with the draft's passages, and dismissal.
async function openGap(id, box, reload) {
  box.replaceChildren(card(h('p', { class: 'muted' }, t('common.loading'))));
  box.scrollIntoView({ block: 'start' });
  let g;
  try { g = await api('GET', `/v1/gaps/${id}`); } catch (e) { box.replaceChildren(errorBox(e)); return; }
  const done = async (msg) => { toast(msg); box.replaceChildren(); await reload(); };
  const kb = kbName(g.kb_id);
  const facts = h('dl', { class: 'kv' },
    h('dt', {}, t('nav.kb')), h('dd', {}, kb),
    h('dt', {}, t('docs.col.status')), h('dd', {}, gapStatus(g)),
    h('dt', {}, t('gaps.count')), h('dd', {}, `${g.count} · ${t('gaps.trendTitle', g.last_24h, g.previous_24h)}`),
    h('dt', {}, t('gaps.col.seen')), h('dd', {}, `${fmtTime(g.first_seen)} – ${fmtTime(g.last_seen)}`),
    g.channels?.length ? [h('dt', {}, t('gaps.channel')), h('dd', {}, g.channels.join(', '))] : null,
    g.status === 'resolved' ? [h('dt', {}, t('gaps.resolvedBy')), h('dd', {}, `${g.resolved_by || '—'} · ${fmtTime(g.resolved_at)}`),
      h('dt', {}, t('gaps.hitsAfter')), h('dd', { id: 'gap-hits' }, t('gaps.hits', g.hits), g.last_hit_at ? ` · ${t('gaps.lastHit', fmtTime(g.last_hit_at))}` : ''),
      g.faq_id ? [h('dt', {}, t('nav.faqs')), h('dd', {}, h('a', { href: `#/kb/${enc(kb)}/faqs` }, `#${g.faq_id}`))] : null] : null,
    g.status === 'dismissed' ? [h('dt', {}, t('gaps.dismissReason')), h('dd', {}, t('gaps.reason.' + g.dismissed_reason))] : null);

  const parts = [h('div', { class: 'row spread' }, h('h2', {}, g.question), h('button', { type: 'button', onclick: () => box.replaceChildren() }, t('common.close'))), facts];
  if (g.status === 'open') {
    parts.push(resolveForm(g, done));
    const who = h('input', { type: 'text', id: 'gap-assignee', value: g.assignee || '', placeholder: state.session?.name || '' });
    const reason = h('select', { id: 'gap-dismiss-reason' }, DISMISS_REASONS.map((r) => h('option', { value: r }, t('gaps.reason.' + r))));
    parts.push(h('div', { class: 'grid2' },
      form(async () => {
        const r = await api('POST', `/v1/gaps/${g.id}/assign`, { assignee: who.value.trim() });
        await done(r.assignee ? t('gaps.assigned', r.assignee) : t('gaps.unassigned'));
      }, h('h3', {}, t('gaps.assign')), h('div', { class: 'row' }, field(t('gaps.assignee'), who),
        h('div', { class: 'field' }, h('button', { type: 'submit', id: 'gap-assign' }, t('gaps.assign'))),
        h('div', { class: 'field' }, h('button', { type: 'button', class: 'link', onclick: () => { who.value = state.session?.name || ''; } }, t('gaps.assignMe'))))),
      form(async () => {
        await api('POST', `/v1/gaps/${g.id}/dismiss`, { reason: reason.value });
        await done(t('gaps.dismissed'));
      }, h('h3', {}, t('gaps.dismiss')), h('div', { class: 'row' }, field(t('gaps.dismissReason'), reason),
        h('div', { class: 'field' }, h('button', { type: 'submit', class: 'danger', id: 'gap-dismiss' }, t('gaps.dismiss')))))));
  }
  parts.push(occurrences(g, done));
  box.replaceChildren(card(...parts));
}

// resolveForm: the answer to write (the draft's, when a chat model drafted one), the
// curated question, and the draft's passages; ticked passages are the answer's sources,
// so the curated answer is flagged for review when their documents change.
function resolveForm(g, done) {
  const answer = h('textarea', { required: true, id: 'gap-answer', rows: 5, placeholder: t('gaps.answerPlaceholder') });
  const question = h('input', { type: 'text', id: 'gap-question', value: g.question });
  const draftBox = h('div', { class: 'draft', id: 'gap-draft' }, h('p', { class: 'muted', id: 'gap-drafting' }, t('gaps.drafting')));
  const docIDs = new Set();
  api('GET', `/v1/gaps/${g.id}/draft`).then((d) => {
    const ps = d.passages || [];
    if (d.answer && !answer.value) answer.value = d.answer;
    draftBox.replaceChildren(...[
      d.answer ? h('p', { class: 'notice' }, t('gaps.drafted')) : d.error ? h('p', { class: 'notice' }, t('gaps.draftFailed', bi(d.error, d.error_zh))) : null,
      h('h3', {}, t('gaps.passages')),
      ps.length ? h('ol', { class: 'passages' }, ps.map((p) => h('li', {},
        h('label', { class: 'inline' }, h('input', { type: 'checkbox', 'data-doc': p.document_id, onchange: (e) => { if (e.target.checked) docIDs.add(p.document_id); else docIDs.delete(p.document_id); } }),
          h('strong', {}, p.title || p.external_id), p.page ? h('span', { class: 'muted' }, ` · ${t('hit.page', p.page)}`) : null,
          h('span', { class: 'muted' }, ` · ${p.score.toFixed(3)}`)),
        h('div', { class: 'content' }, p.content.length > 300 ? p.content.slice(0, 300) + '…' : p.content),
        h('button', { type: 'button', class: 'link', onclick: () => { answer.value = (answer.value ? answer.value + '\n' : '') + p.content; answer.focus(); } }, t('gaps.usePassage')))))
        : h('p', { class: 'muted' }, t('gaps.noPassages'))].filter(Boolean));
  }).catch((e) => draftBox.replaceChildren(errorBox(e)));
  return h('div', { class: 'grid2' }, form(async () => {
    const r = await api('POST', `/v1/gaps/${g.id}/resolve`, { answer: answer.value.trim(), question: question.value.trim(), document_ids: [...docIDs] });
    await done(t('gaps.resolvedToast', r.faq?.id ?? ''));
  }, h('h3', {}, t('gaps.resolve')),
  field(t('gaps.answer'), answer), field(t('gaps.curatedQuestion'), question),
  h('p', { class: 'muted' }, t('gaps.similarNote', g.count)),
  h('button', { type: 'submit', class: 'primary', id: 'gap-resolve' }, t('gaps.resolveSubmit'))), draftBox);
}

function occurrences(g, done) {
  const occ = g.occurrences || [];
  const picked = new Set();
  const splitBtn = h('button', { type: 'button', id: 'gap-split', disabled: true, onclick: async () => {
    try { const n = await api('POST', `/v1/gaps/${g.id}/split`, { occurrence_ids: [...picked] }); await done(t('gaps.splitDone', n.id)); } catch (e) { toastErr(e); }
  } }, t('gaps.split'));
  const rows = occ.map((o) => h('tr', {},
    h('td', {}, g.status === 'open' && occ.length > 1 ? h('input', { type: 'checkbox', 'aria-label': o.question, onchange: (e) => {
      if (e.target.checked) picked.add(o.id); else picked.delete(o.id);
      splitBtn.disabled = picked.size === 0 || picked.size === occ.length;
    } }) : null),
    h('td', {}, o.question, o.rewritten_query && o.rewritten_query !== o.question ? h('div', { class: 'muted' }, `→ ${o.rewritten_query}`) : null),
    h('td', {}, REASONS.includes(o.reason) ? t('gaps.why.' + o.reason) : o.reason),
    h('td', { class: 'hide-sm' }, o.channel || '—'), h('td', { class: 'num hide-sm' }, o.confidence ? o.confidence.toFixed(2) : '—'),
    h('td', { class: 'nowrap' }, fmtTime(o.created_at))));
  return h('div', {}, h('div', { class: 'row spread' }, h('h3', {}, t('gaps.occurrences', occ.length)), g.status === 'open' && occ.length > 1 ? splitBtn : null),
    g.status === 'open' && occ.length > 1 ? h('p', { class: 'muted' }, t('gaps.splitHint')) : null,
    table([{ label: '' }, { label: t('gaps.col.question') }, { label: t('gaps.why') }, { label: t('gaps.channel'), cls: 'hide-sm' },
      { label: t('hit.confidence'), cls: 'num hide-sm' }, { label: t('audit.when') }], rows));
}

async function reviewTab() {
  const data = await api('GET', '/v1/gaps?type=review');
  const items = data.items || [];
  const box = h('div', { id: 'review-list' });
  const rows = items.map((it) => {
    const actions = it.type === 'document'
      ? [h('button', { type: 'button', class: 'link', onclick: () => api('POST', it.approve_path).then(() => { toast(t('docs.approve')); go('#/gaps/review'); }, toastErr) }, t('docs.approve')),
        h('button', { type: 'button', class: 'link danger', onclick: () => {
          const reason = prompt(t('docs.rejectReason'));
          if (reason !== null) api('POST', it.reject_path, { reason }).then(() => go('#/gaps/review'), toastErr);
        } }, t('docs.reject')),
        h('a', { href: `#/kb/${enc(kbName(it.kb_id))}/docs/review` }, t('common.details'))]
      : [h('a', { href: `#/kb/${enc(kbName(it.kb_id))}/faqs` }, t('gaps.review.edit'))];
    return h('tr', { 'data-review': `${it.type}-${it.id}` }, h('td', {}, h('span', { class: 'badge' }, t('gaps.review.type.' + it.type))),
      h('td', {}, h('strong', {}, it.title), h('div', { class: 'muted' }, bi(it.reason, it.reason_zh))), h('td', { class: 'hide-sm' }, kbName(it.kb_id)),
      h('td', { class: 'hide-sm nowrap' }, fmtTime(it.updated_at)), h('td', {}, actions));
  });
  box.append(card(h('p', { class: 'muted' }, t('gaps.review.intro')), items.length
    ? table([{ label: t('docs.kind') }, { label: t('docs.col.title') }, { label: t('nav.kb'), cls: 'hide-sm' }, { label: t('common.updated'), cls: 'hide-sm' }, { label: t('common.actions') }], rows)
    : empty(t('gaps.review.empty'), t('gaps.review.emptyBody'))));
  return box;
}

// ---------- dashboard ----------
// sumDays adds up the per-knowledge-base rows of /v1/stats by day; rates are recomputed
// from the sums (a day without questions has no rate, not 0 %).
function sumDays(rows) {
  const by = new Map();
  for (const r of rows) {
    const d = by.get(r.day) || { day: r.day, questions: 0, answered: 0, handoffs: 0, feedback: 0, thumbs_down: 0, open_gaps: 0, gaps_opened: 0, gaps_resolved: 0, resolved_gap_hits: 0, curated: 0, generated: 0, extractive: 0 };
    for (const k of ['questions', 'answered', 'handoffs', 'feedback', 'thumbs_down', 'open_gaps', 'gaps_opened', 'gaps_resolved', 'resolved_gap_hits']) d[k] += r[k] || 0;
    d.curated += Math.round((r.curated_share || 0) * r.answered); d.generated += Math.round((r.generated_share || 0) * r.answered); d.extractive += Math.round((r.extractive_share || 0) * r.answered);
    by.set(r.day, d);
  }
  return [...by.values()].sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
}
const rate = (n, d) => (d ? n / d : null);

export async function dashboard({ route }) {
  if (!has('GET /v1/stats')) return notAvailable(t('dash.title'), '/v1/stats');
  const days = route[1] === '30' ? 30 : 7;
  const kb = route[2] || '';
  // One request: the day figures and both rankings (top questions, top unanswered).
  const data = await api('GET', statsPath(days, kb));
  const ds = sumDays(data.stats || []);
  const labels = ds.map((d) => d.day.slice(5).replace('-', '/'));
  const tot = ds.reduce((a, d) => { for (const k of Object.keys(d)) if (k !== 'day') a[k] = (a[k] || 0) + d[k]; return a; }, {});
  const last = ds.at(-1) || {};
  const switcher = h('div', { class: 'row filters' },
    h('div', { class: 'tabs', role: 'tablist' }, [7, 30].map((n) => h('button', { type: 'button', role: 'tab', id: `dash-${n}`, 'aria-selected': String(n === days), onclick: () => go(`#/dashboard/${n}/${enc(kb)}`) }, t('dash.days', n)))),
    field(t('nav.kb'), kbSelect('dash-kb', kb, (e) => go(`#/dashboard/${days}/${enc(e.target.value)}`))));
  const tile = (label, value, sub, cls = '') => h('div', { class: `tile ${cls}` }, h('span', { class: 'muted' }, label), h('strong', {}, value), sub ? h('span', { class: 'muted' }, sub) : null);
  const fmtRate = (v) => (v == null ? '—' : pct(v));
  const tiles = h('div', { class: 'tiles', id: 'dash-tiles' },
    tile(t('dash.questionsTotal'), tot.questions || 0, t('dash.inDays', days)),
    tile(t('dash.answered'), fmtRate(rate(tot.answered, tot.questions)), t('dash.ofQuestions', tot.answered || 0), 'ok'),
    tile(t('dash.handoff'), fmtRate(rate(tot.handoffs, tot.questions)), t('dash.ofQuestions', tot.handoffs || 0), 'warn'),
    tile(t('dash.thumbsDown'), fmtRate(rate(tot.thumbs_down, tot.feedback)), t('dash.ofRated', tot.thumbs_down || 0, tot.feedback || 0), 'bad'),
    tile(t('dash.openGaps'), last.open_gaps ?? 0, t('dash.resolvedIn', tot.gaps_resolved || 0)),
    tile(t('dash.hits'), tot.resolved_gap_hits || 0, t('dash.hitsSub')));
  const chart = (title, id, node, leg) => card(h('h2', {}, title), leg || null, h('div', { id }, node));
  const answeredSeries = [
    { label: t('dash.s.answered'), values: ds.map((d) => d.answered), color: '#1a7f37' },
    { label: t('dash.s.unanswered'), values: ds.map((d) => d.questions - d.answered), color: '#cf222e' },
  ];
  const rateSeries = [
    { label: t('dash.answered'), values: ds.map((d) => rate(d.answered, d.questions)), color: '#1a7f37' },
    { label: t('dash.handoff'), values: ds.map((d) => rate(d.handoffs, d.questions)), color: '#9a6700', dash: '5 3' },
    { label: t('dash.thumbsDown'), values: ds.map((d) => rate(d.thumbs_down, d.feedback)), color: '#cf222e' },
  ];
  const gapSeries = [
    { label: t('dash.s.opened'), values: ds.map((d) => d.gaps_opened), color: '#cf222e' },
    { label: t('dash.s.resolved'), values: ds.map((d) => d.gaps_resolved), color: '#1a7f37' },
  ];
  const openLine = [{ label: t('dash.s.openEnd'), values: ds.map((d) => d.open_gaps), color: '#8250df' }];
  const openMax = Math.max(1, ...ds.map((d) => d.open_gaps));
  const noQuestions = !tot.questions && !tot.gaps_opened && !last.open_gaps;
  return h('div', {}, h('h1', {}, t('dash.title')), switcher, noQuestions ? card(empty(t('dash.noData'), t('dash.noDataBody'))) : [tiles,
    h('div', { class: 'grid2' },
      chart(t('dash.questions'), 'chart-questions', stacked(labels, answeredSeries), legend(answeredSeries)),
      chart(t('dash.rates'), 'chart-rates', lines(labels, rateSeries), legend(rateSeries)),
      chart(t('dash.gaps'), 'chart-gaps', stacked(labels, gapSeries), legend(gapSeries)),
      chart(t('dash.openGapsLine'), 'chart-open', lines(labels, openLine, { max: Math.ceil(openMax * 1.2), fmt: (v) => String(Math.round(v)) }), legend(openLine)),
      topCard(t('dash.topQuestions'), t('dash.topQuestionsNote', days), 'chart-top-questions', data.top_questions, false),
      topCard(t('dash.topUnanswered'), t('dash.topUnansweredNote', days), 'chart-top-unanswered', data.top_unanswered, true),
      card(h('h2', {}, t('dash.sources')), h('div', { id: 'chart-sources' }, sourcesBar(tot))))]);
}

// topCard ranks questions of /v1/stats (top_questions or top_unanswered) as bars split
// into answered (green) and not answered (red) times; the unanswered ranking shows the
// unanswered part first, as it is ranked by it. When the questions come from several
// knowledge bases, each names its own.
function topCard(title, note, id, list, unanswered) {
  const several = new Set((list || []).map((q) => q.kb_id)).size > 1;
  const items = (list || []).map((q) => {
    const parts = [{ label: t('dash.s.answered'), value: q.answered, color: '#1a7f37' }, { label: t('dash.s.unanswered'), value: q.unanswered, color: '#cf222e' }];
    const label = several ? `${q.question} · ${q.knowledge_base}` : q.question;
    return { label, value: unanswered ? q.unanswered : q.count, parts: unanswered ? [parts[1]] : parts,
      title: `${q.question} (${q.knowledge_base}): ${t('dash.askedAnswered', q.count, q.answered, q.unanswered)}` };
  });
  const series = unanswered ? [{ label: t('dash.s.unanswered'), color: '#cf222e' }] : [{ label: t('dash.s.answered'), color: '#1a7f37' }, { label: t('dash.s.unanswered'), color: '#cf222e' }];
  return card(h('h2', {}, title), h('p', { class: 'muted' }, note), items.length ? legend(series) : null, h('div', { id, 'data-count': items.length },
    items.length ? hbars(items, { fmt: (v) => t('dash.times', v) })
      : empty(unanswered ? t('dash.topUnansweredEmpty') : t('dash.topQuestionsEmpty'), unanswered ? t('dash.topUnansweredEmptyBody') : '')));
}

// sourcesBar splits the answered questions by where their answer came from.
function sourcesBar(tot) {
  const parts = [
    { label: t('source.curated'), value: tot.curated || 0, color: '#8250df' },
    { label: t('source.generated'), value: tot.generated || 0, color: '#1f6feb' },
    { label: t('source.extractive'), value: tot.extractive || 0, color: '#bf8700' },
  ];
  const sum = parts.reduce((a, p) => a + p.value, 0);
  if (!sum) return h('p', { class: 'muted' }, t('dash.noAnswers'));
  return h('div', {}, h('div', { class: 'splitbar', role: 'img', 'aria-label': parts.map((p) => `${p.label} ${p.value}`).join(', ') },
    parts.filter((p) => p.value).map((p) => h('span', { style: { flexGrow: String(p.value), background: p.color }, title: `${p.label}: ${p.value}` }, pct(p.value / sum)))),
  legend(parts.map((p) => ({ ...p, label: `${p.label} ${p.value}` }))));
}

// ---------- conversations ----------
const cf = conversationFilters();

export async function conversations() {
  if (!has('GET /v1/conversations')) {
    return notAvailable(t('conv.title'), '/v1/conversations');
  }
  const detail = h('div', { id: 'conv-detail' });
  const listBox = h('div', { id: 'conv-list' });
  const exportLink = h('a', { class: 'btn', id: 'conv-export', download: 'conversations.csv' }, t('conv.export'));
  let offset = 0;
  const tbody = h('tbody');
  const more = h('button', { type: 'button', id: 'conv-more' }, t('common.more'));
  const load = async (reset) => {
    if (reset) { offset = 0; tbody.replaceChildren(); }
    exportLink.href = `/v1/conversations/export?${qs({ knowledge_base: cf.kb, since: cf.since, until: cf.until })}`;
    const data = await api('GET', conversationsPath(cf, offset));
    const list = data.conversations || [];
    appendRows(tbody, list, (c) => h('tr', { 'data-answer': c.answer_id, class: 'clickable', tabindex: 0,
      onclick: () => openConversation(c.answer_id, detail), onkeydown: (e) => { if (e.key === 'Enter') openConversation(c.answer_id, detail); } },
    h('td', { class: 'nowrap' }, fmtTime(c.created_at)),
    h('td', {}, c.question, c.rewritten_query && c.rewritten_query !== c.question ? h('div', { class: 'muted' }, `→ ${c.rewritten_query}`) : null),
    h('td', { class: 'hide-sm' }, h('div', { class: 'clip' }, c.answer || '—')),
    h('td', {}, h('span', { class: `badge ${c.answered ? 'ok' : 'bad'}` }, c.answered ? t('conv.answered') : t('conv.unanswered')),
      c.handoff ? h('div', {}, h('span', { class: 'badge warn' }, t('hit.handoff'))) : null, c.answered ? h('div', { class: 'muted' }, t('source.' + c.source)) : null),
    h('td', { class: 'hide-sm' }, c.channel || '—', h('div', { class: 'muted' }, c.customer || '')),
    h('td', { class: 'hide-sm' }, kbName(c.kb_id))));
    offset += list.length;
    more.hidden = offset >= data.total;
    listBox.replaceChildren(card(h('p', { class: 'muted', id: 'conv-total' }, t('conv.total', data.total)), data.total
      ? h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, [t('audit.when'), t('hit.question'), { l: t('hit.answer'), c: 'hide-sm' }, t('docs.col.status'),
        { l: t('gaps.channel'), c: 'hide-sm' }, { l: t('nav.kb'), c: 'hide-sm' }].map((x) => h('th', { class: x.c }, x.l || x)))), tbody), more)
      : empty(t('conv.empty'), t('conv.emptyBody'))));
  };
  more.addEventListener('click', () => load(false).catch(toastErr));
  const inputs = {
    q: h('input', { type: 'search', id: 'conv-q', value: cf.q, placeholder: t('conv.qHint') }),
    kb: kbSelect('conv-kb', cf.kb),
    channel: h('input', { type: 'text', id: 'conv-channel', value: cf.channel }),
    customer: h('input', { type: 'text', id: 'conv-customer', value: cf.customer, placeholder: t('conv.customerHint') }),
    answered: h('select', { id: 'conv-answered' }, [['', t('common.all')], ['true', t('conv.answered')], ['false', t('conv.unanswered')]].map(([v, l]) => h('option', { value: v, selected: v === cf.answered }, l))),
    since: h('input', { type: 'date', id: 'conv-since', value: cf.since }),
    until: h('input', { type: 'date', id: 'conv-until', value: cf.until }),
  };
  const filters = form(async () => {
    for (const [k, el] of Object.entries(inputs)) cf[k] = el.value.trim();
    // until is inclusive in the form, exclusive in the API: send the next day.
    if (cf.until) { const d = new Date(cf.until + 'T00:00:00Z'); d.setUTCDate(d.getUTCDate() + 1); cf.until = d.toISOString().slice(0, 10); inputs.until.value = cf.until; }
    detail.replaceChildren();
    await load(true);
  }, h('div', { class: 'row filters' }, field(t('conv.q'), inputs.q), field(t('nav.kb'), inputs.kb), field(t('gaps.channel'), inputs.channel),
    field(t('conv.customer'), inputs.customer), field(t('docs.col.status'), inputs.answered), field(t('conv.since'), inputs.since), field(t('conv.until'), inputs.until),
    h('div', { class: 'field' }, h('button', { type: 'submit', class: 'primary', id: 'conv-search' }, t('common.search'))), h('div', { class: 'field' }, exportLink)));
  await load(true);
  return h('div', {}, h('h1', {}, t('conv.title')), card(filters), detail, listBox);
}

async function openConversation(id, box) {
  box.replaceChildren(card(h('p', { class: 'muted' }, t('common.loading'))));
  let data;
  try { data = await api('GET', `/v1/conversations/${enc(id)}`); } catch (e) { box.replaceChildren(errorBox(e)); return; }
  const c = data.conversation;
  const ps = data.passages || [];
  box.replaceChildren(card(
    h('div', { class: 'row spread' }, h('h2', {}, c.question), h('button', { type: 'button', onclick: () => box.replaceChildren() }, t('common.close'))),
    h('dl', { class: 'kv', id: 'conv-facts' },
      h('dt', {}, t('audit.when')), h('dd', {}, fmtTime(c.created_at)),
      h('dt', {}, t('hit.rewritten')), h('dd', {}, c.rewritten_query || '—'),
      h('dt', {}, t('hit.answered')), h('dd', {}, h('span', { class: `badge ${c.answered ? 'ok' : 'bad'}` }, c.answered ? t('common.yes') : t('common.no')),
        c.handoff ? [' ', h('span', { class: 'badge warn' }, `${t('hit.handoff')} ${c.handoff_reason || ''}`)] : null),
      h('dt', {}, t('hit.source')), h('dd', {}, t('source.' + c.source), c.curated_ref ? h('span', { class: 'muted' }, ` (${c.curated_ref})`) : null),
      h('dt', {}, t('hit.confidence')), h('dd', {}, h('span', { class: 'scores' }, scoreRow('', c.confidence, c.answered ? 'var(--ok)' : 'var(--bad)'))),
      h('dt', {}, t('nav.kb')), h('dd', {}, kbName(c.kb_id)),
      h('dt', {}, t('gaps.channel')), h('dd', {}, c.channel || '—'),
      h('dt', {}, t('conv.customer')), h('dd', {}, c.customer || '—'),
      h('dt', {}, t('conv.session')), h('dd', {}, c.session_id || '—'),
      h('dt', {}, t('conv.latency')), h('dd', {}, `${Math.round(c.latency_ms)} ms`),
      h('dt', {}, 'answer_id'), h('dd', {}, h('code', {}, c.answer_id))),
    h('h3', {}, t('hit.answer')), h('p', { class: 'answer', id: 'conv-answer' }, c.answer || t('conv.noAnswer')),
    h('h3', {}, t('conv.passages', ps.length)),
    ps.length ? h('ol', { class: 'passages', id: 'conv-passages' }, ps.map((p) => h('li', {},
      h('div', {}, h('strong', {}, p.gone ? t('conv.gone') : (p.title || p.external_id)), p.page ? h('span', { class: 'muted' }, ` · ${t('hit.page', p.page)}`) : null,
        h('span', { class: 'muted' }, ` · ${p.score.toFixed(3)}`), p.cited ? [' ', h('span', { class: 'badge ok' }, t('conv.cited'))] : null),
      p.gone ? null : h('div', { class: 'content' }, p.content.length > 500 ? p.content.slice(0, 500) + '…' : p.content))))
      : h('p', { class: 'muted' }, t('conv.noPassages'))));
  box.scrollIntoView({ block: 'start' });
}

