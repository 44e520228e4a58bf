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
  private barShown = false;
  /** Epochs in the current phase, and the global index of its first epoch (known at its first batch). */
  private phaseEpochs = 0;
  private phaseFirstEpoch: number | undefined;
  private phaseStartEpoch = 0;
  /** Running batch-accuracy sums of the epoch in progress. */
  private accuracySum = 0;
  private accuracyBatches = 0;
  private accuracyEpoch = -1;
  /** The first batch end seen in the current epoch (time, batch): before any epoch ends, the ETA's pace. */
  private epochPace: { at: number; batch: number } = { at: 0, batch: 0 };
  /** The model's sparsity as last measured: an epoch's end or a pruning step. */
  private sparsity: number | undefined;

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
    this.phaseEpochs = info.epochs;
    this.phaseStartEpoch = info.startEpoch;
    this.phaseFirstEpoch = undefined;
    this.event('phase', info);
    this.line(
      `${info.phase === 'train' ? 'training' : 'fine-tuning'}: ${info.epochs} epoch${info.epochs === 1 ? '' : 's'}${info.startEpoch ? ` (from epoch ${info.startEpoch})` : ''}`,
    );
  }

  /** "epoch 3/10" within the current phase ("fine-tune 1/2"; "epoch 3/≤37" while ART decides). */
  private epochLabel(phaseEpoch: number, phase: Phase): string {
    const of = this.phaseEpochs ? `/${this.openEnded && phase === 'train' ? '≤' : ''}${this.phaseEpochs}` : '';
    return `${phase === 'train' ? 'epoch' : 'fine-tune'} ${phaseEpoch + 1}${of}`;
  }

  batch(info: BatchEndInfo): void {
    if (info.epoch !== this.accuracyEpoch) {
      [this.accuracyEpoch, this.accuracySum, this.accuracyBatches] = [info.epoch, 0, 0];
      this.epochPace = { at: Date.now(), batch: info.batch };
    }
    if (info.accuracy !== undefined)
      [this.accuracySum, this.accuracyBatches] = [this.accuracySum + info.accuracy, this.accuracyBatches + 1];
    this.phaseFirstEpoch ??= info.epoch - this.phaseStartEpoch;
    if (this.mode !== 'tty') return;
    const now = Date.now();
    if (now - this.lastDraw < 100 && info.batch !== info.batches) return;
    this.lastDraw = now;
    this.io.out(`\r${this.barLine(info, this.io.columns ?? 200)}\x1b[K`);
    this.barShown = true;
  }

  /** Seconds per epoch from this epoch's pace so far, once a tenth of it has run (NaN before). */
  private firstEpochEstimate(info: BatchEndInfo, now: number): number {
    const done = (info.batch - this.epochPace.batch) / info.batches;
    return done >= 0.1 ? (now - this.epochPace.at) / 1000 / done : NaN;
  }

  /**
   * The redrawn line, never wider than columns − 1: the epoch in its phase, a bar as wide as the room
   * left (at most 30 cells), the loss, this epoch's running training accuracy, the sparsity last
   * measured, the ETA. Where even a 5-cell bar does not fit, the bar goes and the rest is written tighter.
   */
  barLine(info: BatchEndInfo, columns: number, now = Date.now()): string {
    const fraction = info.batch / info.batches;
    const perEpoch = this.epochSeconds.length
      ? this.epochSeconds.reduce((a, b) => a + b, 0) / this.epochSeconds.length
      : this.firstEpochEstimate(info, now);
    const eta = this.openEnded && this.phase === 'train' ? '?' : clock(perEpoch * (this.plannedEpochs - this.epochsDone - fraction));
    const accuracy = this.accuracyBatches ? this.accuracySum / this.accuracyBatches : undefined;
    const head = `${this.epochLabel(info.epoch - (this.phaseFirstEpoch ?? 0), info.phase)} `;
    const tail = ` ${String(Math.round(fraction * 100)).padStart(3)}% loss ${info.loss.toFixed(4)}  acc ${pct(accuracy, 1)}  sparsity ${pct(this.sparsity, 1)}  ETA ${eta}`;
    const room = columns - 1 - head.length - tail.length;
    if (room < 5) {
      const compact = `${head}${Math.round(fraction * 100)}% loss ${info.loss.toFixed(4)} acc ${pct(accuracy, 1)} sp ${pct(this.sparsity, 1)} ETA ${eta}`;
      return compact.slice(0, columns - 1);
    }
    const width = Math.min(30, room);
    const filled = Math.round(fraction * width);
    return `${head}${'█'.repeat(filled)}${'░'.repeat(width - filled)}${tail}`;
  }

  epoch(m: EpochMetrics): void {
    this.epochsDone += 1;
    this.epochSeconds.push(m.seconds);
    this.sparsity = m.sparsity;
    this.event('epoch', { ...m });
    const art = m.art
      ? `  probe ${pct(m.art.prunedAccuracy)} vs dense ${pct(m.art.denseAccuracy)}${m.art.stop ? ` → stop (${m.art.reason ?? 'selected'})` : ''}`
      : '';
    const strengths = Object.entries(m.strengths)
      .filter(([, v]) => v !== 1)
      .map(([k, v]) => `${k} ${v.toExponential(2)}`)
      .join(', ');
    const label = this.epochLabel(m.phaseEpoch, m.phase);
    const full =
      `${label}  loss ${m.loss.toFixed(4)}` +
      `${m.penaltyLoss ? ` (penalty ${m.penaltyLoss.toExponential(2)})` : ''}  train ${pct(m.trainAccuracy)}  eval ${pct(m.accuracy)}` +
      `  sparsity ${pct(m.sparsity)}  ${Math.round(m.samplesPerSecond)} samples/s  ${m.seconds.toFixed(1)} s` +
      `${strengths ? `  [${strengths}]` : ''}${art}`;
    // On a terminal too narrow for it, the same figures tighter (no penalty share or strengths) rather than wrapped.
    const compact =
      `${label} loss ${m.loss.toFixed(4)} train ${pct(m.trainAccuracy)} eval ${pct(m.accuracy)} sparsity ${pct(m.sparsity)}` +
      ` ${Math.round(m.samplesPerSecond)}/s ${m.seconds.toFixed(1)}s${art.replace(/^ {2}/, ' ')}`;
    this.fittedLine(full, [compact]);
  }

  /**
   * `full` where it fits the terminal (shorter than its columns; always off a TTY), else the `narrow`
   * lines, the same figures written tighter or split, rather than a line the terminal wraps.
   */
  fittedLine(full: string, narrow: readonly string[]): void {
    if (full.length < this.columns()) this.line(full);
    else for (const text of narrow) this.line(text);
  }

  /** `text` broken at spaces into lines shorter than the terminal (continuations indented by two). */
  wrappedLine(text: string): void {
    const columns = this.columns();
    const lines: string[] = [];
    let current = '';
    for (const word of text.split(' ')) {
      const next = current ? `${current} ${word}` : lines.length ? `  ${word}` : word;
      if (next.length < columns || !current) current = next;
      else {
        lines.push(current);
        current = `  ${word}`;
      }
    }
    lines.push(current);
    for (const line of lines) this.line(line);
  }

  /** The terminal's width on a TTY; unbounded otherwise (files and pipes get whole lines). */
  private columns(): number {
    return this.mode === 'tty' ? (this.io.columns ?? 200) : Number.POSITIVE_INFINITY;
  }

  prune(info: PruneInfo): void {
    this.sparsity = info.achieved;
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
