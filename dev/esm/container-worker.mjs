// One Lambda container: a worker thread that imports the function's bundle once (the init phase, with the
// environment it was given) and runs one invocation at a time. Plain JavaScript: it runs the built bundle, and a
// worker does not inherit the parent's TypeScript loader. See containers.ts.
import { parentPort, workerData } from 'node:worker_threads';

const { handler } = await import(workerData.bundleUrl);
parentPort.on('message', async ({ id, event, deadline }) => {
  try {
    const response = await handler(event, { getRemainingTimeInMillis: () => deadline - Date.now() });
    parentPort.postMessage({ id, response });
  } catch (error) {
    parentPort.postMessage({ id, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
  }
});
parentPort.postMessage({ ready: true });
