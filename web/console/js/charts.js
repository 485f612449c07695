// Charts drawn as SVG and CSS, no library: runs over time, and per-directory
// stacked bars so the worst directories stand out.
import { h, svg } from './dom.js';
import { ISSUE_KEYS, issueCount, runTotals, runVerdict, dateTime, num } from './format.js';

// One bar per run (oldest left): height = files not equal (square-root scale,
// so a handful of differences is still visible next to thousands).
export function runsChart(runs, hrefFor) {
  const ordered = [...runs].reverse();
  const W = 1100;
  const H = 170;
  const padL = 44;
  const padB = 22;
  const padT = 10;
  const n = Math.max(ordered.length, 1);
  const slot = (W - padL - 8) / Math.max(n, 6);
  const barW = Math.max(4, Math.min(28, slot * 0.7));
  const values = ordered.map((r) => issueCount(runTotals(r)));
  const max = Math.max(1, ...values);
  const y = (v) => (H - padB) - Math.sqrt(v / max) * (H - padB - padT);

  const grid = [0, 0.25, 1].map((f) => {
    const v = Math.round(max * f);
    const yy = y(v);
    return svg('g', { class: 'grid' },
      svg('line', { x1: padL, x2: W, y1: yy, y2: yy }),
      svg('text', { x: padL - 6, y: yy + 4, 'text-anchor': 'end' }, num(v)));
  });
  const bars = ordered.map((r, i) => {
    const v = values[i];
    const verdict = runVerdict(r);
    const x = padL + 6 + i * slot;
    if (verdict === 'failed') {
      // A failed run has no valid counts: a marker on the axis, not a bar.
      const label = `${dateTime(r.finished_time)}: failed${r.error_msg ? ` (${r.error_msg})` : ''}`;
      const cx = x + barW / 2;
      const cy = H - padB - 9;
      return svg('a', { href: hrefFor(r), class: 'bar bar-failed', 'aria-label': label },
        svg('title', {}, label),
        svg('circle', { cx, cy, r: 7 }),
        svg('path', { d: `M${cx - 3} ${cy - 3}L${cx + 3} ${cy + 3}M${cx + 3} ${cy - 3}L${cx - 3} ${cy + 3}` }));
    }
    const top = Math.min(y(v), H - padB - 3);
    const label = `${dateTime(r.finished_time)}: ${verdict}, ${num(v)} file(s) not equal`;
    return svg('a', { href: hrefFor(r), class: `bar bar-${verdict}`, 'aria-label': label },
      svg('title', {}, label),
      svg('rect', { x, y: top, width: barW, height: Math.max(3, H - padB - top), rx: 2 }));
  });
  const first = ordered[0];
  const last = ordered[ordered.length - 1];
  const axis = svg('g', { class: 'axis' },
    svg('line', { x1: padL, x2: W, y1: H - padB, y2: H - padB }),
    first ? svg('text', { x: padL + 4, y: H - 6 }, dateTime(first.finished_time)) : null,
    last && ordered.length > 1
      ? svg('text', { x: W - 4, y: H - 6, 'text-anchor': 'end' }, dateTime(last.finished_time)) : null);
  return h('figure', { class: 'chart' },
    svg('svg', {
      viewBox: `0 0 ${W} ${H}`, class: 'runs-chart', role: 'group',
      'aria-label': 'Runs over time: files not equal per run; open a run from its bar',
    }, grid, axis, bars),
    h('figcaption', { class: 'legend' },
      legendItem('consistent', 'Consistent'),
      legendItem('differences', 'Differences (height: files not equal, √ scale)'),
      legendItem('failed', 'Failed (no counts)')));
}

function legendItem(cls, text) {
  return h('span', { class: 'legend-item' }, h('span', { class: `swatch swatch-${cls}`, 'aria-hidden': 'true' }), text);
}

export const SEGMENTS = ISSUE_KEYS.map(([key, status, label]) => ({ key, status, label }));

// A stacked horizontal bar of one directory's issue counters, scaled to `max`.
export function dirBar(dir, max) {
  const total = issueCount(dir);
  const bar = h('div', { class: 'dirbar', 'aria-hidden': 'true' });
  if (total === 0) {
    bar.append(h('span', { class: 'seg seg-ok', style: { width: '100%' } }));
    return bar;
  }
  const track = h('div', { class: 'dirbar-fill', style: { width: `${Math.max(2, (total / max) * 100)}%` } });
  for (const s of SEGMENTS) {
    const v = dir[s.key] || 0;
    if (!v) continue;
    track.append(h('span', {
      class: `seg seg-${s.status}`, style: { width: `${(v / total) * 100}%` }, title: `${s.label}: ${num(v)}`,
    }));
  }
  bar.append(track);
  return bar;
}

export function segmentLegend() {
  return h('div', { class: 'legend' },
    SEGMENTS.map((s) => h('span', { class: 'legend-item' },
      h('span', { class: `swatch seg-${s.status}`, 'aria-hidden': 'true' }), s.label)));
}
