// The command line of the training examples: options parsed against a usage text, `--help`,
// and readers that stop with the usage (exit status 2) on a value that does not fit.
import { parseArgs } from 'node:util';
import { BallastError } from 'ballast';

/** Parses `process.argv` for `options` (parseArgs' form; `--help` is added). */
export function commandLine(usage, options) {
  const fail = (message) => {
    console.error(`error: ${message}\n\n${usage}`);
    process.exit(2);
  };
  let values;
  try {
    ({ values } = parseArgs({ options: { ...options, help: { type: 'boolean', default: false } } }));
  } catch (err) {
    fail(err.message);
  }
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  /** An integer option of at least `min` (undefined when `optional` and not given). */
  const int = (name, { min = 1, optional = false } = {}) => {
    const raw = values[name];
    if (raw === undefined && optional) return undefined;
    const v = Number(raw);
    if (!Number.isInteger(v) || v < min) fail(`--${name} must be an integer ≥ ${min}, got '${raw}'`);
    return v;
  };
  /** A positive number option. */
  const positive = (name) => {
    const v = Number(values[name]);
    if (!(v > 0)) fail(`--${name} must be a positive number, got '${values[name]}'`);
    return v;
  };
  /** A finite number option, or undefined when not given. */
  const optionalNumber = (name) => {
    if (values[name] === undefined) return undefined;
    const v = Number(values[name]);
    if (!Number.isFinite(v)) fail(`--${name} must be a number, got '${values[name]}'`);
    return v;
  };
  return { values, fail, int, positive, optionalNumber };
}

/** Exits with status 1 when `accuracy` ends below `--min-accuracy` (for scripts). */
export function exitBelow(minAccuracy, accuracy) {
  if (minAccuracy !== undefined && accuracy < minAccuracy) {
    console.error(`error: test accuracy ${accuracy.toFixed(4)} is below --min-accuracy ${minAccuracy}`);
    process.exit(1);
  }
}

/** A Ballast error ends the run with its message (status 1); anything else is a bug, rethrown. */
export function exitOnBallastError(err) {
  if (err instanceof BallastError) {
    console.error(`error: ${err.name}: ${err.message}`);
    process.exit(1);
  }
  throw err;
}
