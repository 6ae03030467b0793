// Vega-Lite charts rendered to SVG in Node (no browser or canvas needed).
import * as vega from 'vega';
import { compile } from 'vega-lite';

export async function svg(spec) {
  const view = new vega.View(vega.parse(compile({ $schema: 'https://vega.github.io/schema/vega-lite/v6.json', ...spec }).spec), { renderer: 'none' });
  return view.toSVG();
}

const colors = { domain: ['sigmoid', 'tanh', 'relu'], range: ['#d1495b', '#edae49', '#00798c'] };

/** Gradient norm per hidden layer at initialization, log scale; one line per activation × BN. */
export function gradientNormChart(title, rows) {
  return {
    title,
    width: 420,
    height: 260,
    data: { values: rows.filter((r) => r.gradNorm > 0) },
    mark: { type: 'line', point: { size: 18 } },
    encoding: {
      x: { field: 'layer', type: 'quantitative', title: 'hidden layer (input → output)' },
      y: { field: 'gradNorm', type: 'quantitative', scale: { type: 'log' }, title: '‖∂L/∂W‖ at initialization' },
      color: { field: 'activation', type: 'nominal', scale: colors },
      strokeDash: { field: 'norm', type: 'nominal', title: 'normalization' },
    },
  };
}

/** Training loss per step, log scale. */
export function lossChart(title, rows, colorField = 'activation') {
  return {
    title,
    width: 420,
    height: 260,
    data: { values: rows.filter((r) => Number.isFinite(r.loss) && r.loss > 0) },
    mark: { type: 'line' },
    encoding: {
      x: { field: 'step', type: 'quantitative' },
      y: { field: 'loss', type: 'quantitative', scale: { type: 'log' }, title: 'training loss' },
      color: { field: colorField, type: 'nominal', ...(colorField === 'activation' ? { scale: colors } : {}) },
      ...(colorField === 'activation' ? { strokeDash: { field: 'norm', type: 'nominal', title: 'normalization' } } : {}),
    },
  };
}
