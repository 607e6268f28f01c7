/** Helper thread of fd-handoff.test.ts: reads files through VirtualTree on a worker thread, as a formatting job does. */
import * as fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { VirtualTree } from '../src/fs/wasm/vtree.js';
import type { PackedTree } from '../src/tree/packed.js';

const { tree, table, grow } = workerData as { tree: PackedTree; table: SharedArrayBuffer; grow: Record<string, string> };
const vt = new VirtualTree(tree, '/m', (e) => new Error(e), undefined, false, table);
const fds: number[] = [];
const texts: string[] = [];
for (const [name, hostPath] of Object.entries(grow)) {
  const { handler, nfd } = vt.openFile(vt.resolve(`/m/${name}`, false));
  const buf = new Uint8Array(64);
  const n = handler.read(undefined as never, buf, 0, 64, 0);
  texts.push(Buffer.from(buf.buffer, 0, n).toString());
  if (hostPath) fs.appendFileSync(hostPath, ' and longer');
  handler.close(undefined as never);
  fds.push(nfd!);
}
vt.finishHandoff();
parentPort!.postMessage({ failure: vt.sourceFailure, fds, texts });
