/** Where training stands when a penalty, schedule or controller is asked for a value. */
export interface TrainingContext {
  /** Optimizer steps taken so far (0 before the first update). */
  readonly step: number;
  /** 0-based epoch in progress. */
  readonly epoch: number;
}

export const INITIAL_CONTEXT: TrainingContext = Object.freeze({ step: 0, epoch: 0 });
