// Small inline-SVG charts, drawn by hand: bars over days, and a two-value split bar.
import { h } from './app.js';

const S = (tag, attrs, ...kids) => h(tag, { ...attrs, svg: true }, ...kids);

// bars draws values over labels; fmt formats a value for its tooltip and axis.
export function bars(labels, values, { color = '#1f6feb', fmt = (v) => String(v), height = 160, max } = {}) {
  const w = 640, pad = { l: 40, r: 8, t: 8, b: 22 };
  const top = max ?? Math.max(1, ...values);
  const bw = (w - pad.l - pad.r) / Math.max(1, values.length);
  const y = (v) => pad.t + (height - pad.t - pad.b) * (1 - v / top);
  const svg = S('svg', { class: 'chart', viewBox: `0 0 ${w} ${height}`, role: 'img' });
  for (const f of [0, 0.5, 1]) {
    svg.append(S('line', { x1: pad.l, x2: w - pad.r, y1: y(top * f), y2: y(top * f), stroke: '#e3e6ea' }),
      S('text', { x: pad.l - 4, y: y(top * f) + 4, 'text-anchor': 'end' }, fmt(top * f)));
  }
  values.forEach((v, i) => {
    const x = pad.l + i * bw + bw * 0.15;
    svg.append(S('rect', { x, y: y(v), width: Math.max(1, bw * 0.7), height: Math.max(0, y(0) - y(v)), fill: color, rx: 2 },
      S('title', {}, `${labels[i]}: ${fmt(v)}`)));
    if (values.length <= 10 || i % Math.ceil(values.length / 8) === 0) {
      svg.append(S('text', { x: x + bw * 0.35, y: height - 6, 'text-anchor': 'middle' }, labels[i]));
    }
  });
  return svg;
}

// split draws one horizontal bar divided between parts [{label, value, color}].
export function split(parts) {
  const total = parts.reduce((a, p) => a + p.value, 0) || 1;
  const svg = S('svg', { class: 'chart', viewBox: '0 0 640 40', role: 'img' });
  let x = 0;
  for (const p of parts) {
    const w = 640 * p.value / total;
    svg.append(S('rect', { x, y: 4, width: w, height: 20, fill: p.color }, S('title', {}, `${p.label}: ${p.value}`)));
    if (w > 60) svg.append(S('text', { x: x + 6, y: 38 }, `${p.label} ${p.value}`));
    x += w;
  }
  return svg;
}
