// In-process tests with FIFOs: a regression that opens a FIFO without O_NONBLOCK blocks a
// libuv thread until a writer appears, and the test process would then never exit. quickly()
// fails the test after `ms` and opens every FIFO it was given for writing (non-blocking, then
// closed), which releases the blocked open so the file still finishes.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

export async function quickly<T>(p: Promise<T>, fifos: readonly string[] = [], ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      for (const f of fifos) {
        open(f, constants.O_WRONLY | constants.O_NONBLOCK).then((fh) => fh.close(), () => undefined);
      }
      reject(new Error(`still waiting after ${ms} ms: it blocked`));
    }, ms);
  });
  try {
    return await Promise.race([p, guard]);
  } finally {
    clearTimeout(timer);
  }
}
