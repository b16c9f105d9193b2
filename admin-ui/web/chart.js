// Small inline-SVG charts, drawn by hand (no third-party code): bars and stacked bars over
// days, lines of rates, horizontal bars of a ranking, and a legend. Every mark has a
// <title>, so hovering (or a screen reader) gives the exact figure.
import { h } from './app.js';

const S = (tag, attrs, ...kids) => h(tag, { ...attrs, svg: true }, ...kids);
// Narrow screens get a narrower drawing, so its text stays readable when scaled to fit.
let W = 560;
const width = () => (W = window.innerWidth < 760 ? 360 : 560);
const PAD = { l: 44, r: 10, t: 10, b: 24 };

// frame draws the value grid (0, half, top) and the day labels, thinned to about eight.
function frame(svg, labels, top, height, fmt, y) {
  const marks = top >= 2 && top % 2 === 1 ? [0, 1] : [0, 0.5, 1];
  for (const f of marks) {
    svg.append(S('line', { x1: PAD.l, x2: W - PAD.r, y1: y(top * f), y2: y(top * f), stroke: '#e3e6ea' }),
      S('text', { x: PAD.l - 6, y: y(top * f) + 4, 'text-anchor': 'end' }, fmt(top * f)));
  }
  const bw = (W - PAD.l - PAD.r) / Math.max(1, labels.length);
  const every = Math.ceil(labels.length / (W < 500 ? 5 : 8));
  labels.forEach((l, i) => {
    if (i % every === 0 || i === labels.length - 1 && labels.length <= 10) {
      svg.append(S('text', { x: PAD.l + i * bw + bw / 2, y: height - 6, 'text-anchor': 'middle' }, l));
    }
  });
  return bw;
}

const niceTop = (v) => {
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((x) => x >= v);
};

// stacked draws, per label, a bar of each series stacked bottom-up:
// series = [{label, values, color}].
export function stacked(labels, series, { fmt = (v) => String(Math.round(v)), height = 180 } = {}) {
  width();
  const totals = labels.map((_, i) => series.reduce((a, s) => a + (s.values[i] || 0), 0));
  const top = niceTop(Math.max(1, ...totals));
  const y = (v) => PAD.t + (height - PAD.t - PAD.b) * (1 - v / top);
  const svg = S('svg', { class: 'chart', viewBox: `0 0 ${W} ${height}`, role: 'img' });
  const bw = frame(svg, labels, top, height, fmt, y);
  labels.forEach((l, i) => {
    let base = 0;
    for (const s of series) {
      const v = s.values[i] || 0;
      if (v > 0) {
        svg.append(S('rect', { x: PAD.l + i * bw + bw * 0.15, y: y(base + v), width: Math.max(1, bw * 0.7), height: Math.max(0.5, y(base) - y(base + v)), fill: s.color },
          S('title', {}, `${l} ${s.label}: ${fmt(v)}`)));
      }
      base += v;
    }
  });
  return svg;
}

// bars is stacked with one series.
export function bars(labels, values, { color = '#1f6feb', label = '', ...opts } = {}) {
  return stacked(labels, [{ label, values, color }], opts);
}

// lines draws each series as a line with points; values are 0..1 rates unless max is given.
// A null value (no questions that day) leaves a gap in the line.
export function lines(labels, series, { fmt = (v) => `${Math.round(v * 100)}%`, height = 180, max = 1 } = {}) {
  width();
  const top = max;
  const y = (v) => PAD.t + (height - PAD.t - PAD.b) * (1 - v / top);
  const svg = S('svg', { class: 'chart', viewBox: `0 0 ${W} ${height}`, role: 'img' });
  const bw = frame(svg, labels, top, height, fmt, y);
  const x = (i) => PAD.l + i * bw + bw / 2;
  for (const s of series) {
    let d = '';
    s.values.forEach((v, i) => {
      if (v == null) { d += ' '; return; }
      d += `${d === '' || d.endsWith(' ') ? 'M' : 'L'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    });
    svg.append(S('path', { d: d.trim().replace(/ +/g, ' '), fill: 'none', stroke: s.color, 'stroke-width': 2, 'stroke-linejoin': 'round', 'stroke-dasharray': s.dash || null }));
    s.values.forEach((v, i) => {
      if (v == null) return;
      svg.append(S('circle', { cx: x(i), cy: y(v), r: labels.length > 14 ? 2 : 3.5, fill: s.color }, S('title', {}, `${labels[i]} ${s.label}: ${fmt(v)}`)));
    });
  }
  return svg;
}

// hbars ranks items [{label, value, title, parts}] as horizontal bars, in the order given;
// parts [{value, color, label}] split a bar into stacked pieces (asked: answered, not
// answered). They are HTML, not SVG, so long Chinese questions wrap and stay readable on a
// phone.
export function hbars(items, { color = '#cf222e', fmt = (v) => String(v), max } = {}) {
  const top = Math.max(1, max || 0, ...items.map((i) => i.value));
  const piece = (share, c, title) => h('span', { class: 'fill', title, style: { width: `${100 * share}%`, background: c } });
  return h('ol', { class: 'hbars', role: 'img', 'aria-label': items.map((i) => `${i.label} ${fmt(i.value)}`).join('; ') }, items.map((it) => h('li', { title: it.title || it.label },
    h('span', { class: 'label' }, it.label),
    h('span', { class: 'track' }, h('span', { class: 'hbar', style: { width: `${Math.max(2, (80 * it.value) / top)}%` } },
      it.parts ? it.parts.filter((p) => p.value > 0).map((p) => piece(p.value / Math.max(1, it.value), p.color, `${p.label}: ${fmt(p.value)}`)) : piece(1, color, fmt(it.value))),
    h('span', { class: 'value' }, fmt(it.value))))));
}

// legend names the series' colours.
export function legend(series) {
  return h('div', { class: 'legend' }, series.map((s) => h('span', {}, h('i', { style: { background: s.color } }), s.label)));
}
