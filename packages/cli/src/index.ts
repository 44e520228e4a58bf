export { main, trainConfigFromFlags, COMMANDS, type MainOptions } from './main.js';
export { UsageError } from './errors.js';
export { TRAIN_DEFAULTS, METHOD_PRESETS, BASELINES, BACKENDS, parseSet, validateRunConfig, type RunConfig } from './config.js';
export { registerPlugins, methodNames, BUILTIN_PLUGINS, PLUGIN_KEYWORD, type DiscoveredPlugin } from './plugins.js';
export { buildRun, checkNames, type RunSetup } from './setup.js';
export { trainCommand, readStoredRun, RUN_CONFIG_FILE, type StoredRun, type TrainOutcome } from './train-command.js';
export { sweepCommand, expandSweep, type SweepConfig, type SweepJob, type SweepMethod } from './sweep.js';
export { exportCommand } from './export-command.js';
export { processIO, type IO } from './io.js';
