/** The writing thread of write-behind.ts: writes a worker's queued image runs until stopped. */
import { workerData } from 'node:worker_threads';
import { serveLoop, type WriteBehindTable } from './write-behind.js';

const { t, path } = workerData as { t: WriteBehindTable; path: string };
serveLoop(t, path);
