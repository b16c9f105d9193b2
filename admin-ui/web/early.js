// What a page load asks the API for first, started as early as possible: index.html
// carries a classic-script copy of this file inline (admin-ui/embed.go), so the requests
// run while the rest of the UI is still being fetched and compiled, instead of one after
// another (session, then knowledge bases, then the screen's list). The screens build their
// paths with the same functions, and api() (app.js) takes the response waiting for a path
// it asks for; what the first screen does not take is dropped once it is drawn, and a
// sign-in drops them all (they were asked without a session). The waiting responses live
// on the window, so the inline copy and the bundle's copy of this module share them; the
// inline copy runs first and asks, the bundle's finds them asked.
// (Not <link rel=preload> in index.html: a preloaded 401 of the sign-in page would answer
// the first request after signing in.)
const enc = encodeURIComponent;

// qs builds a query string from the set values of o, in order.
export const qs = (o) => Object.entries(o).filter(([, v]) => v !== '' && v != null).map(([k, v]) => `${k}=${enc(v)}`).join('&');

export const kbPath = (kb, rest = '') => `/v1/knowledge-bases/${enc(kb.name)}${rest}`;
export const docsPath = (kb, tab) => kbPath(kb, `/documents?limit=200${{ all: '', review: '&status=review', failed: '&status=failed', rejected: '&status=rejected', catalog: '&kind=catalog' }[tab] ?? ''}`);
export const jobsPath = (kb) => `/v1/jobs?kb=${enc(kb.name)}&limit=10`;
export const productsPath = (kb, offset, q) => kbPath(kb, `/products?limit=50&offset=${offset}&q=${enc(q)}`);
export const faqsPath = (kb) => kbPath(kb, '/faqs?limit=500');
export const auditPath = (prefix, before) => `/v1/audit?limit=100&action=${enc(prefix)}${before ? `&before=${before}` : ''}`;
export const GAPS_PAGE = 50;
export const gapsPath = (f) => `/v1/gaps?${qs({ knowledge_base: f.kb, status: f.status, channel: f.channel, sort: f.sort })}&limit=${GAPS_PAGE}&offset=${f.offset}`;
export const TOP = 10; // questions in each ranking of the dashboard
export const statsPath = (days, kb) => `/v1/stats?${qs({ days, knowledge_base: kb, top: TOP })}`;
export const conversationsPath = (f, offset) => `/v1/conversations?${qs({ q: f.q, knowledge_base: f.kb, channel: f.channel, customer: f.customer, answered: f.answered, since: f.since, until: f.until })}&limit=50&offset=${offset}`;

// The filters the gap queue and the conversation log open with (their screens keep them).
export const gapFilters = () => ({ kb: '', status: 'open', channel: '', sort: 'impact', offset: 0 });
export const conversationFilters = () => ({ q: '', kb: '', channel: '', customer: '', answered: '', since: '', until: '' });

// parse splits "#/kb/NAME/docs" into its parts.
export function parse(hash = location.hash) {
  const parts = (hash.replace(/^#\/?/, '') || '').split('/').map(decodeURIComponent);
  return parts.filter((p, i) => p !== '' || i === 0);
}

// firstReads names the GET requests the screen of route starts with.
export function firstReads(route) {
  if (route[0] === 'kb' && route[1]) {
    const kb = { name: route[1] };
    const tab = route[3] || 'all';
    switch (route[2]) {
      case 'docs': return [tab === 'catalog' ? productsPath(kb, 0, '') : docsPath(kb, tab), jobsPath(kb)];
      case 'settings': return [kbPath(kb)];
      case 'faqs': return [faqsPath(kb)];
      default: return [];
    }
  }
  switch (route[0]) {
    case 'keys': return ['/v1/keys'];
    case 'users': return ['/v1/users'];
    case 'audit': return [auditPath(route[1] || '', 0)];
    case 'gaps': return route[1] === 'review' ? ['/v1/gaps?type=review'] : [gapsPath(gapFilters())];
    case 'dashboard': return [statsPath(route[1] === '30' ? 30 : 7, route[2] || '')];
    case 'conversations': return [conversationsPath(conversationFilters(), 0)];
    default: return [];
  }
}

export const early = (self.zhikuEarly ??= new Map());
// prefetch asks for path and reads its body as soon as it arrives: a page's main thread is
// busy compiling and running the bundle meanwhile, and a body read only once api() asks for
// it waited 20–30 ms for its turn (measured), one screen's reads after another. The entry
// is {res, data}, data being the parsed JSON (null when the body is not JSON).
function prefetch(path) {
  const p = fetch(path, { credentials: 'same-origin' })
    .then(async (res) => ({ res, data: res.status === 204 ? null : await res.json().catch(() => null) }));
  p.catch(() => {}); // an unused one must not report an unhandled rejection
  early.set(path, p);
}
if (!self.zhikuEarlyAsked && parse()[0] !== 'login') {
  self.zhikuEarlyAsked = true;
  for (const path of ['/v1/session', '/v1/knowledge-bases', ...firstReads(parse())]) prefetch(path);
}
