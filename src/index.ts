// The public API of bimamba: load a model, run sessions, generate text.
export { loadModel, Model, type LoadOptions } from './model/model.js';
export { Session } from './model/session.js';
export { snapshotSize } from './model/snapshot.js';
export type { GenerateOptions, GeneratedToken, FinishReason, Usage, TokenLogprob, Completion } from './generate/generate.js';
export { GENERATION_DEFAULTS } from './generate/defaults.js';
export { defaultModelUrl } from './default-model.js';
export type { SamplingOptions } from './generate/sampler.js';
export type { ModelConfig } from './format/config.js';
export type { ModelSource } from './format/bimamba.js';
export { loadTokenizer, type Tokenizer, type StreamDecoder } from './tokenizer/index.js';
export { BimambaError, type ErrorCode } from './errors.js';
export { compileCore, type WasmSource } from './wasm/loader.js';
export { listCachedModels, deleteCachedModel } from './cache/index.js';
export type { CacheObject, CacheOption, CachedModel } from './cache/types.js';
export { ChatTemplate, DEFAULT_CHAT_TEMPLATE, DEFAULT_CHAT_STOP, type ChatMessage, type RenderOptions, type TemplateBudget } from './chat/template.js';
export type { ChatOptions } from './chat/chat.js';
