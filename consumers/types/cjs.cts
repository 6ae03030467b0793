// A CommonJS TypeScript file: its import compiles to require('ballast'), which TypeScript's
// nodenext allows (require of ES modules, as Node 20.19+/22.12+ do) and node16 refuses.
import { ready, type Env } from 'ballast';

export async function load(): Promise<Env> {
  return ready({ threads: 1 });
}
