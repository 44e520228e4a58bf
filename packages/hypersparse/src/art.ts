import {
  check,
  checkFinite,
  checkInteger,
  checkNonNegative,
  checkPositive,
  exponentialGrowth,
  SparsifyConfigError,
  type StrengthSchedule,
} from '@sparsify/core';
import { ART_ALPHA_INIT, ART_GROWTH } from './hypersparse.js';

export interface ArtOptions<S = unknown> {
  /** λ_init: α of the first ART epoch (default 5e-6, the reference code's value). */
  alphaInit?: number;
  /** η: α grows ×η per ART epoch (default 1.05; SMAC range [1.03, 1.1]). */
  growth?: number;
  /** Probe window 2B+1: an odd integer ≥ 1 (default 3, i.e. B = 1). */
  window?: number;
  /** Cap on ART epochs (default 200; the reference has none [project]). */
  maxEpochs?: number;
  /** Dense warm-up epochs before ART (default 0; the reference uses 60). Only shifts `strength`. */
  warmupEpochs?: number;
  /**
   * Called with each snapshot the controller lets go of (it left the window and is not the best, a best
   * that was replaced, or what remains at the stop), so the caller can dispose it. The same snapshots are
   * also listed in each decision's `discarded`: free them in one place only.
   */
  onDiscard?: (snapshot: S, epoch: number) => void;
}

/** One probe after an ART epoch. Accuracies in any unit (fraction or %), the same for both. */
export interface ArtObservation<S = unknown> {
  /** The ART epoch k just trained: 0, 1, 2, … in order (training epoch − warmupEpochs). */
  epoch: number;
  /** Running top-1 over the epoch just trained (training mode, penalty on): `acc_dense`. */
  denseAccuracy: number;
  /** Top-1 of the globally pruned copy (inference mode, training data): `acc_pr`. */
  prunedAccuracy: number;
  /** Whatever the caller needs to restore this probe (e.g. the pruned weights). Opaque; caller-owned. */
  snapshot?: S;
}

export interface ArtSelection<S = unknown> {
  /** The ART epoch of the selected probe. */
  epoch: number;
  /** Its single-epoch pruned accuracy. */
  prunedAccuracy: number;
  /** The window mean at the time it was selected (`best.mean`). */
  windowMean: number;
  /** Its snapshot, handed back to the caller (who now owns it). */
  snapshot?: S;
}

export interface ArtDecision<S = unknown> {
  /** Stop ART: fine-tune `selected`. */
  stop: boolean;
  /** `crossed`: best.mean > denseAccuracy (the reference's rule); `cap`: `maxEpochs` ART epochs done. */
  reason?: 'crossed' | 'cap';
  /** On stop: the best probe; undefined when no probe ever scored above 0 (possible only at the cap). */
  selected?: ArtSelection<S>;
  /** The current best (also while running), without its snapshot. */
  best?: Omit<ArtSelection<S>, 'snapshot'>;
  /** Mean pruned accuracy of the current window. */
  windowMean: number;
  /** α for the next ART epoch (α_{k+1}). */
  nextAlpha: number;
  /** Snapshots the controller let go of in this call, for the caller to free. */
  discarded: S[];
}

/** Plain JSON for checkpoints: everything except snapshots. */
export interface ArtState {
  version: 1;
  /** The next ART epoch expected by `observe`. */
  nextEpoch: number;
  window: { epoch: number; prunedAccuracy: number }[];
  best: { epoch: number; prunedAccuracy: number; windowMean: number } | null;
  stopped: 'crossed' | 'cap' | null;
}

interface Entry<S> {
  readonly epoch: number;
  readonly prunedAccuracy: number;
  snapshot?: S;
}

/**
 * The ART controller (README, "ART") as a pure state machine: the caller trains, probes and
 * calls `observe` once per ART epoch; the controller keeps the FIFO window of the last 2B+1 probes, the
 * best probe, the stop rule and the cap. Per observation:
 * 1. push the probe (keep 2B+1);
 * 2. if mean(window) > best.prunedAccuracy (a single-epoch value, as in the reference; 0 initially):
 *    best ← window[min(len−1, B)] (the middle once full, the newest while filling), best.mean ← mean;
 * 3. stop (`crossed`) when best.mean > denseAccuracy; else stop (`cap`) after `maxEpochs` ART epochs.
 */
export class ArtController<S = unknown> {
  readonly alphaInit: number;
  readonly growth: number;
  readonly window: number;
  readonly maxEpochs: number;
  readonly warmupEpochs: number;
  /**
   * α per training epoch for the HyperSparse penalty: 0 during warm-up, then alphaInit·growth^k at
   * training epoch warmupEpochs + k (core's `exponentialGrowth`). Pass it as `hyperSparse({ strength })`.
   */
  readonly strength: StrengthSchedule;
  private readonly onDiscard?: (snapshot: S, epoch: number) => void;
  private entries: Entry<S>[] = [];
  private bestEntry: Entry<S> | undefined;
  private bestMean = 0;
  private next = 0;
  private stopped: 'crossed' | 'cap' | null = null;

  constructor(options: ArtOptions<S> = {}) {
    check(typeof options === 'object' && options !== null && !Array.isArray(options), 'art options', options, 'an object');
    const known = ['alphaInit', 'growth', 'window', 'maxEpochs', 'warmupEpochs', 'onDiscard'];
    const unknown = Object.keys(options).filter((k) => !known.includes(k));
    if (unknown.length > 0) {
      throw new SparsifyConfigError(
        `art: unknown option ${unknown.map((k) => JSON.stringify(k)).join(', ')}; valid options: ${known.join(', ')}`,
      );
    }
    const { alphaInit = ART_ALPHA_INIT, growth = ART_GROWTH, window = 3, maxEpochs = 200, warmupEpochs = 0 } = options;
    checkPositive('art alphaInit', alphaInit);
    check(
      typeof growth === 'number' && Number.isFinite(growth) && growth >= 1,
      'art growth',
      growth,
      'a finite number ≥ 1 (η; the reference uses 1.05)',
    );
    check(Number.isInteger(window) && window >= 1 && window % 2 === 1, 'art window', window, 'an odd integer ≥ 1 (2B+1)');
    checkInteger('art maxEpochs', maxEpochs, 1);
    checkInteger('art warmupEpochs', warmupEpochs, 0);
    if (options.onDiscard !== undefined) check(typeof options.onDiscard === 'function', 'art onDiscard', options.onDiscard, 'a function');
    this.alphaInit = alphaInit;
    this.growth = growth;
    this.window = window;
    this.maxEpochs = maxEpochs;
    this.warmupEpochs = warmupEpochs;
    this.onDiscard = options.onDiscard;
    this.strength = exponentialGrowth({ initial: alphaInit, rate: growth, beginEpoch: warmupEpochs });
  }

  /** B: the window's half-size. */
  get halfWindow(): number {
    return (this.window - 1) / 2;
  }

  /** α of ART epoch k (0-based): alphaInit·growth^k. */
  alphaAt(artEpoch: number): number {
    checkInteger('art alphaAt epoch', artEpoch, 0);
    return this.alphaInit * this.growth ** artEpoch;
  }

  /** The ART epoch `observe` expects next (= ART epochs observed so far). */
  get nextEpoch(): number {
    return this.next;
  }

  /** Why ART stopped, or null while it runs. */
  get stopReason(): 'crossed' | 'cap' | null {
    return this.stopped;
  }

  /** The current best probe (without its snapshot), if any. */
  get best(): Omit<ArtSelection<S>, 'snapshot'> | undefined {
    const b = this.bestEntry;
    return b ? { epoch: b.epoch, prunedAccuracy: b.prunedAccuracy, windowMean: this.bestMean } : undefined;
  }

  /** Feeds the probe of ART epoch `epoch` and returns whether to stop (and what was selected). */
  observe(observation: ArtObservation<S>): ArtDecision<S> {
    if (this.stopped) {
      throw new SparsifyConfigError(`art: observe() after ART stopped (${this.stopped}); create a new controller to run ART again`);
    }
    check(typeof observation === 'object' && observation !== null, 'art observation', observation, 'an object');
    const { epoch, denseAccuracy, prunedAccuracy } = observation;
    check(
      epoch === this.next,
      'art observation epoch',
      epoch,
      `the next ART epoch, ${this.next} (ART epochs are observed in order, from 0)`,
    );
    checkFinite('art observation denseAccuracy', denseAccuracy);
    checkFinite('art observation prunedAccuracy', prunedAccuracy);
    checkNonNegative('art observation prunedAccuracy', prunedAccuracy);
    const discarded: S[] = [];
    const entry: Entry<S> = { epoch, prunedAccuracy, snapshot: observation.snapshot };
    this.entries.push(entry);
    if (this.entries.length > this.window) {
      const left = this.entries.shift()!;
      if (left !== this.bestEntry) this.discard(left, discarded);
    }
    const mean = this.windowMean();
    // The reference compares the window mean with the stored best's single-epoch accuracy.
    const bestAccuracy = this.bestEntry ? this.bestEntry.prunedAccuracy : 0;
    if (mean > bestAccuracy) {
      const previous = this.bestEntry;
      this.bestEntry = this.entries[Math.min(this.entries.length - 1, this.halfWindow)];
      this.bestMean = mean;
      if (previous && previous !== this.bestEntry && !this.entries.includes(previous)) this.discard(previous, discarded);
    }
    this.next = epoch + 1;
    const best = this.best;
    let reason: 'crossed' | 'cap' | undefined;
    if (this.bestEntry && this.bestMean > denseAccuracy) reason = 'crossed';
    else if (this.next >= this.maxEpochs) reason = 'cap';
    if (!reason) return { stop: false, best, windowMean: mean, nextAlpha: this.alphaAt(this.next), discarded };
    this.stopped = reason;
    const selected = this.bestEntry ? { ...best!, snapshot: this.bestEntry.snapshot } : undefined;
    for (const e of this.entries) if (e !== this.bestEntry) this.discard(e, discarded);
    this.entries = [];
    this.bestEntry = undefined;
    return { stop: true, reason, selected, best, windowMean: mean, nextAlpha: this.alphaAt(this.next), discarded };
  }

  /** Mean pruned accuracy over the current window (0 when empty). */
  windowMean(): number {
    if (this.entries.length === 0) return 0;
    return this.entries.reduce((s, e) => s + e.prunedAccuracy, 0) / this.entries.length;
  }

  /** The window's probes, oldest first (without snapshots). */
  windowEntries(): { epoch: number; prunedAccuracy: number }[] {
    return this.entries.map((e) => ({ epoch: e.epoch, prunedAccuracy: e.prunedAccuracy }));
  }

  /** Plain-JSON state for a checkpoint (snapshots excluded: checkpoint them yourself, by epoch). */
  getState(): ArtState {
    return {
      version: 1,
      nextEpoch: this.next,
      window: this.windowEntries(),
      best: this.best ?? null,
      stopped: this.stopped,
    };
  }

  /**
   * Restores `getState()`. Snapshots are not part of the state: pass `snapshotOf(epoch)` to re-attach
   * them (e.g. from your checkpoint) to the window's probes and the best; without it they are undefined.
   * Snapshots the controller held before are discarded.
   */
  setState(state: ArtState, snapshotOf?: (epoch: number) => S | undefined): S[] {
    check(typeof state === 'object' && state !== null && state.version === 1, 'art state', state, 'an object from getState() (version 1)');
    checkInteger('art state nextEpoch', state.nextEpoch, 0);
    check(
      Array.isArray(state.window) && state.window.length <= this.window,
      'art state window',
      state.window,
      `an array of at most ${this.window} probes`,
    );
    check(
      state.stopped === null || state.stopped === 'crossed' || state.stopped === 'cap',
      'art state stopped',
      state.stopped,
      'null, "crossed" or "cap"',
    );
    for (const w of state.window) {
      check(
        Number.isInteger(w?.epoch) && w.epoch < state.nextEpoch && Number.isFinite(w.prunedAccuracy),
        'art state window entry',
        w,
        `{ epoch < ${state.nextEpoch}, prunedAccuracy }`,
      );
    }
    if (state.best !== null) {
      const b = state.best;
      check(
        Number.isInteger(b?.epoch) && b.epoch < state.nextEpoch && Number.isFinite(b.prunedAccuracy) && Number.isFinite(b.windowMean),
        'art state best',
        b,
        `{ epoch < ${state.nextEpoch}, prunedAccuracy, windowMean } or null`,
      );
    }
    const discarded: S[] = [];
    for (const e of this.entries) if (e !== this.bestEntry) this.discard(e, discarded);
    if (this.bestEntry) this.discard(this.bestEntry, discarded);
    this.entries = state.window.map((w) => ({ epoch: w.epoch, prunedAccuracy: w.prunedAccuracy, snapshot: snapshotOf?.(w.epoch) }));
    this.bestEntry = undefined;
    this.bestMean = 0;
    if (state.best) {
      const b = state.best;
      this.bestEntry = this.entries.find((e) => e.epoch === b.epoch) ?? {
        epoch: b.epoch,
        prunedAccuracy: b.prunedAccuracy,
        snapshot: snapshotOf?.(b.epoch),
      };
      this.bestMean = b.windowMean;
    }
    this.next = state.nextEpoch;
    this.stopped = state.stopped;
    return discarded;
  }

  private discard(entry: Entry<S>, into: S[]): void {
    if (entry.snapshot === undefined) return;
    const snapshot = entry.snapshot;
    entry.snapshot = undefined;
    into.push(snapshot);
    this.onDiscard?.(snapshot, entry.epoch);
  }
}

/** The Adaptive Regularized Training controller (see `ArtController`). */
export function art<S = unknown>(options: ArtOptions<S> = {}): ArtController<S> {
  return new ArtController<S>(options);
}
