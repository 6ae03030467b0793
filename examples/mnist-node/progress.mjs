// A Keras-like progress line for the terminal: redrawn in place on a TTY, every 10% otherwise.
const WIDTH = 30;

function duration(seconds) {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${Math.round(seconds)}s`;
  const m = Math.floor(seconds / 60);
  return `${m}m${String(Math.round(seconds - m * 60)).padStart(2, '0')}s`;
}

export function progressBar(stream = process.stdout) {
  let lastDecile = -1;
  return {
    epochStart(epoch, epochs) {
      lastDecile = -1;
      stream.write(`Epoch ${epoch + 1}/${epochs}\n`);
    },
    batch(info, runningLoss, runningAcc) {
      const done = info.batch + 1;
      const filled = Math.round((done / info.batches) * WIDTH);
      const bar = '='.repeat(Math.max(filled - 1, 0)) + (filled < WIDTH ? '>' : '=') + '.'.repeat(WIDTH - filled);
      const line =
        `${String(done).padStart(String(info.batches).length)}/${info.batches} [${bar}] ` +
        `ETA ${duration(info.etaSeconds)} - ${Math.round(info.examplesPerSecond)} img/s - ` +
        `loss: ${runningLoss.toFixed(4)} - acc: ${runningAcc.toFixed(4)}`;
      const decile = Math.floor((done / info.batches) * 10);
      if (stream.isTTY) stream.write(`\r${line}\x1b[K`);
      else if (decile !== lastDecile) stream.write(`${line}\n`);
      lastDecile = decile;
    },
    epochEnd(logs) {
      const val = logs.val_loss === undefined ? '' : ` - val_loss: ${logs.val_loss.toFixed(4)} - val_accuracy: ${logs.val_accuracy.toFixed(4)}`;
      if (stream.isTTY) stream.write('\n');
      stream.write(`  ${duration(logs.seconds)} - loss: ${logs.loss.toFixed(4)} - accuracy: ${logs.accuracy.toFixed(4)}${val}\n`);
    },
  };
}
