import type { BatchEndInfo, EpochMetrics, Phase, PruneInfo } from '@sparsify/train/node';
import type { IO } from './io.js';

export type ProgressMode = 'tty' | 'plain' | 'json';

const pct = (v: number | undefined, d = 2) => (v === undefined ? '—' : `${(v * 100).toFixed(d)}%`);

function clock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h ? `${h}:${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}` : `${m}:${String(r).padStart(2, '0')}`;
}

/**
 * Progress output: a one-line bar (epoch, loss, accuracy, sparsity, ETA) redrawn on a TTY, one plain
 * line per epoch otherwise, or JSON lines (`--json`: one object per event, `event` names it).
 */
export class Progress {
  private plannedEpochs = 0;
  private phase: Phase = 'train';
  private startedAt = Date.now();
  private epochsDone = 0;
  private epochSeconds: number[] = [];
  private lastDraw = 0;
  private lastMetrics: EpochMetrics | null = null;
  private barShown = false;

  constructor(
    private readonly io: IO,
    readonly mode: ProgressMode,
    private readonly openEnded = false,
  ) {}

  event(name: string, data: Record<string, unknown>): void {
    if (this.mode === 'json')
      this.io.out(`${JSON.stringify({ event: name, ...data }, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))}\n`);
  }

  /** A warning: on stderr for humans, a `warning` event in JSON mode. */
  warning(text: string): void {
    if (this.mode === 'json') this.event('warning', { message: text });
    else {
      this.clearBar();
      this.io.err(`sparsify: warning: ${text}\n`);
    }
  }

  /** A human line (not in JSON mode, where `event` carries it). */
  line(text: string): void {
    if (this.mode === 'json') return;
    this.clearBar();
    this.io.out(`${text}\n`);
  }

  plan(totalEpochs: number): void {
    this.plannedEpochs = totalEpochs;
    this.startedAt = Date.now();
  }

  phaseStart(info: { phase: Phase; epochs: number; startEpoch: number }): void {
    this.phase = info.phase;
    this.event('phase', info);
    this.line(
      `${info.phase === 'train' ? 'training' : 'fine-tuning'}: ${info.epochs} epoch${info.epochs === 1 ? '' : 's'}${info.startEpoch ? ` (from epoch ${info.startEpoch})` : ''}`,
    );
  }

  batch(info: BatchEndInfo): void {
    if (this.mode !== 'tty') return;
    const now = Date.now();
    if (now - this.lastDraw < 100 && info.batch !== info.batches) return;
    this.lastDraw = now;
    const epochFraction = info.batch / info.batches;
    const width = Math.max(10, Math.min(30, (this.io.columns ?? 100) - 90));
    const filled = Math.round(epochFraction * width);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    const m = this.lastMetrics;
    const perEpoch = this.epochSeconds.length ? this.epochSeconds.reduce((a, b) => a + b, 0) / this.epochSeconds.length : NaN;
    const remaining = this.plannedEpochs - this.epochsDone - epochFraction;
    const eta = this.openEnded && this.phase === 'train' ? '?' : clock(perEpoch * remaining);
    const text =
      `${this.phase === 'train' ? 'epoch' : 'ft'} ${info.epoch + 1}/${this.plannedEpochs} ${bar} ${String(Math.round(epochFraction * 100)).padStart(3)}% ` +
      `loss ${info.loss.toFixed(4)}  acc ${pct(m?.accuracy ?? m?.trainAccuracy)}  sparsity ${pct(m?.sparsity, 1)}  ETA ${eta}`;
    this.io.out(`\r${text.slice(0, (this.io.columns ?? 200) - 1)}\x1b[K`);
    this.barShown = true;
  }

  epoch(m: EpochMetrics): void {
    this.epochsDone += 1;
    this.epochSeconds.push(m.seconds);
    this.lastMetrics = m;
    this.event('epoch', { ...m });
    const art = m.art
      ? `  probe ${pct(m.art.prunedAccuracy)} vs dense ${pct(m.art.denseAccuracy)}${m.art.stop ? ` → stop (${m.art.reason ?? 'selected'})` : ''}`
      : '';
    const strengths = Object.entries(m.strengths)
      .filter(([, v]) => v !== 1)
      .map(([k, v]) => `${k} ${v.toExponential(2)}`)
      .join(', ');
    this.line(
      `${m.phase === 'train' ? 'epoch' : 'fine-tune'} ${m.epoch + 1}${this.plannedEpochs ? `/${this.plannedEpochs}` : ''}  loss ${m.loss.toFixed(4)}` +
        `${m.penaltyLoss ? ` (penalty ${m.penaltyLoss.toExponential(2)})` : ''}  train ${pct(m.trainAccuracy)}  eval ${pct(m.accuracy)}` +
        `  sparsity ${pct(m.sparsity)}  ${Math.round(m.samplesPerSecond)} samples/s  ${m.seconds.toFixed(1)} s` +
        `${strengths ? `  [${strengths}]` : ''}${art}`,
    );
  }

  prune(info: PruneInfo): void {
    this.event('prune', { ...info });
    this.line(
      `pruned (${info.method}) to ${pct(info.achieved)} (target ${pct(info.target)}): accuracy ${pct(info.accuracyBefore)} → ${pct(info.accuracyAfter)}`,
    );
  }

  elapsed(): number {
    return (Date.now() - this.startedAt) / 1000;
  }

  private clearBar(): void {
    if (this.barShown) {
      this.io.out('\r\x1b[K');
      this.barShown = false;
    }
  }

  finish(): void {
    this.clearBar();
  }
}
