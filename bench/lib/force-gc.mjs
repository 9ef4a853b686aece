// Preloaded by bench/gc-promotion.ts with --full-gc-every-ms: a full collection every
// FORCE_GC_EVERY_MS, as a long-running process under load gets from its heap's own growth.
import v8 from 'node:v8';
import vm from 'node:vm';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
setInterval(() => gc(), Number(process.env.FORCE_GC_EVERY_MS)).unref();
