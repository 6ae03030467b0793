// The page: start the training Worker and publish its result for the test driver.
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
worker.addEventListener('message', (event) => {
  globalThis.__result = event.data;
  document.getElementById('status').textContent = JSON.stringify(event.data);
});
worker.addEventListener('error', (event) => {
  globalThis.__result = { error: `worker error: ${event.message}` };
});
