// The numeric flags of the benchmark scripts: each must be a positive number (a whole one
// where it counts things), or the script stops naming the flag, so a typo cannot run a
// meaningless benchmark (`--steps ten` would otherwise time zero steps).
export function positive(values, names, { whole = true } = {}) {
  return names.map((name) => {
    const v = Number(values[name]);
    if (!Number.isFinite(v) || v <= 0 || (whole && !Number.isInteger(v))) {
      console.error(`--${name} needs a positive ${whole ? 'whole ' : ''}number, got ${JSON.stringify(values[name])}`);
      process.exit(2);
    }
    return v;
  });
}
