/** What long-running commands report as they go: drawn as progress bars, printed as lines, or emitted as JSON (--json). */
export type FlasherEvent =
  | { type: 'connecting'; port: string }
  | { type: 'connected'; port: string; chip: string; description: string; flashSize?: number }
  | { type: 'region-start'; name: string; address: number; size: number }
  | { type: 'progress'; name: string; address: number; written: number; total: number; unit: 'compressed' | 'bytes' }
  | { type: 'region-skipped'; name: string; address: number; size: number; md5: string }
  | { type: 'region-verified'; name: string; address: number; size: number; md5: string; seconds: number }
  | { type: 'erased'; address: number; size: number | 'all' }
  | { type: 'reset'; how: string; done: boolean }
  | { type: 'warning'; message: string };

export type EventSink = (event: FlasherEvent) => void;
