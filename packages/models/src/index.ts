export { ModelConfigError } from './errors.js';
export { Initializers, PYTORCH_BATCH_NORM, TFJS_BATCH_NORM, type BatchNormSettings, type InitScheme, type WeightInit } from './init.js';
export type { BatchNormOptions, ModelOptions } from './options.js';
export { lenet300100, lenet5, lenet5Caffe } from './lenet.js';
export {
  VGG16_CONFIG,
  VGG19_CONFIG,
  vgg,
  vgg16,
  vgg19,
  vggSmall,
  vggSmallConfig,
  type VggConfig,
  type VggOptions,
  type VggSmallOptions,
} from './vgg.js';
export { cifarResNet, resnet20, resnet32, type ResNetOptions } from './resnet.js';
export { MODEL_NAMES, createModel, listModels, modelInfo, type CreateModelOptions, type ModelInfo } from './registry.js';
export { parameterCounts, type ParameterCounts } from './params.js';
