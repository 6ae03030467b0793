// Live line charts (uPlot): the page appends points as messages arrive and the charts redraw at
// most once per animation frame.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const AXIS = {
  stroke: '#64748b',
  font: '11px system-ui, sans-serif',
  grid: { stroke: '#e2e8f0', width: 1 },
  ticks: { stroke: '#e2e8f0', width: 1, size: 4 },
};

export const COLORS = {
  batch: 'rgba(37, 99, 235, 0.22)',
  smooth: '#2563eb',
  train: '#0f172a',
  test: '#e11d48',
  speed: '#0d9488',
  speedLight: 'rgba(13, 148, 136, 0.22)',
};

/**
 * Distinct colours for a few named lines (the gradient norms' layers), in order; hues spread
 * evenly put two near-purples side by side with five lines and make yellow too faint on white.
 */
export const CATEGORICAL = ['#2563eb', '#ea580c', '#16a34a', '#db2777', '#7c3aed', '#0891b2', '#a16207', '#475569'];

/** More lines (a ResNet's blocks): hues from blue to green the long way round, in order, so the first and last differ. */
export const categoricalColor = (i, n) =>
  n <= CATEGORICAL.length ? CATEGORICAL[i] : `hsl(${(220 + Math.round((i * 300) / (n - 1))) % 360} 72% 44%)`;

/** One colour per channel, spread around the hue circle. */
export function channelColor(i, n) {
  return `hsl(${Math.round((i * 360) / Math.max(n, 1) + 200) % 360} 70% 48%)`;
}

/** Whole steps only on the x axis. */
const STEP_INCREMENTS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10_000, 20_000, 50_000];

const isDecade = (v) => v > 0 && Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-6;

const charts = new Set();
let frame = 0;

function scheduleDraw() {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    for (const c of charts) c.flush();
  });
}

/**
 * A chart in `container` whose first column is the x values (training steps). `series`:
 * uPlot series options for the y columns; `yFormat(value, tickStep)` labels the y axis; `data`:
 * columns to start from (the x column, then one per series), kept and drawn as they are
 * (by default, empty ones). Returns `{ data, update(), destroy() }`: change `data` in place,
 * then call `update()`.
 */
export function lineChart(container, { series, height = 220, yLog = false, yFormat = (v) => String(v), legend = true, yRange, data = [[], ...series.map(() => [])] }) {
  const width = () => Math.max(200, container.clientWidth);
  const plot = new uPlot(
    {
      width: width(),
      height,
      legend: { show: legend, live: false },
      cursor: { drag: { x: false, y: false }, points: { show: false } },
      scales: {
        x: { time: false },
        y: yLog ? { distr: 3 } : yRange ? { range: yRange } : {},
      },
      axes: [
        { ...AXIS, incrs: STEP_INCREMENTS, size: 36, label: 'step', labelSize: 14, labelGap: 0, labelFont: '11px system-ui, sans-serif' },
        {
          ...AXIS,
          // On a log scale, grid lines at the decades only: the 2..9 lines crowd the plot.
          grid: yLog ? { ...AXIS.grid, filter: (_u, splits) => splits.map((v) => (isDecade(v) ? v : null)) } : AXIS.grid,
          size: 52,
          // uPlot leaves some ticks of a log scale unlabelled (null).
          values: (_u, ticks) => ticks.map((v, i) => (v == null ? '' : yFormat(v, Math.abs((ticks[i + 1] ?? ticks[i - 1] ?? v) - v)))),
        },
      ],
      series: [{ label: 'step' }, ...series.map((s) => ({ width: 1.5, spanGaps: false, points: { show: false }, ...s }))],
    },
    data,
    container,
  );
  let dirty = false;
  container.classList.toggle('chart-empty', data[0].length === 0);
  const observer = new ResizeObserver(() => plot.setSize({ width: width(), height }));
  observer.observe(container);
  const chart = {
    data,
    plot,
    update() {
      dirty = true;
      scheduleDraw();
    },
    flush() {
      if (!dirty) return;
      dirty = false;
      container.classList.toggle('chart-empty', data[0].length === 0);
      plot.setData(data);
    },
    destroy() {
      observer.disconnect();
      charts.delete(chart);
      plot.destroy();
    },
  };
  charts.add(chart);
  return chart;
}

/** Exponential moving average that starts from the first value (no bias towards zero). */
export function smoother(alpha = 0.06) {
  let value = null;
  return (x) => (value = value === null ? x : value + alpha * (x - value));
}
