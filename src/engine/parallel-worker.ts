/**
 * A package parser thread of parallelFormat (see parallel.ts): runs the plain format's
 * `readPackage` over the bytes the main thread read, and sends the entry back.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { IndexedPackage, PackageObject } from './format';
import { createFormat } from './formats';
import { encodeClasses, packBuffers, type FromWorker, type ToWorker, type WorkerSetup } from './parallel';
import { PackageFormatError } from '../formats/errors';

function serve(): void {
  const setup = workerData as WorkerSetup;
  const port = parentPort!;
  const format = createFormat(setup.format, setup.options);
  const related = new Map<number, { resolve: (bytes: Uint8Array | undefined) => void; reject: (error: Error) => void }>();
  let nextRequest = 0;
  const send = (message: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

  const parse = async (job: Extract<ToWorker, { type: 'parse' }>): Promise<IndexedPackage> => {
    const bytes = job.bytes;
    const pkg: PackageObject = {
      key: job.key,
      size: job.size,
      lastModified: new Date(job.lastModified),
      read: async () => bytes,
      stream: async () => (async function* once() {
        yield bytes;
      })(),
      scan: async (visit) => visit(bytes),
      readRelated: (key) => new Promise((resolve, reject) => {
        const request = nextRequest++;
        related.set(request, { resolve, reject });
        send({ type: 'related', id: job.id, request, key });
      }),
    };
    return format.readPackage(pkg, job.unit);
  };

  port.on('message', (message: ToWorker) => {
    if (message.type === 'related') {
      const waiting = related.get(message.request);
      related.delete(message.request);
      if (message.failed !== undefined) waiting?.reject(new Error(message.failed));
      else waiting?.resolve(message.bytes);
      return;
    }
    parse(message).then((entry) => {
      const marks = encodeClasses(entry);
      // the entry's Buffers (yum: its XML) move over as one transferred ArrayBuffer
      const packed = packBuffers(entry, marks);
      send({ type: 'parsed', id: message.id, entry, marks }, packed ? [packed] : []);
    }, (error: unknown) => {
      send({ type: 'failed', id: message.id, message: (error as Error)?.message ?? String(error), formatError: error instanceof PackageFormatError });
    });
  });
}

if (!isMainThread) serve();
