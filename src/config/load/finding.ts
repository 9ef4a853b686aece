import type { Severity } from '../types.js';
import type { PathSegment, Target } from './yaml-positions.js';

/**
 * A problem before it has a line and column: checks speak in paths, and the loader maps only the
 * findings to positions (so a clean file never pays for position lookups).
 */
export interface Finding {
  path: PathSegment[];
  /** Point at the map key (`daly_usd:`) rather than its value. Default: the value. */
  target?: Target;
  /** An exact source offset, when the check already knows it (syntax errors, leaked keys). */
  offset?: number;
  message: string;
  severity: Severity;
}

export function errorAt(path: PathSegment[], message: string, target?: Target): Finding {
  return target ? { path, message, severity: 'error', target } : { path, message, severity: 'error' };
}

export function warningAt(path: PathSegment[], message: string, target?: Target): Finding {
  return target ? { path, message, severity: 'warning', target } : { path, message, severity: 'warning' };
}
