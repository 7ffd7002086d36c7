// mlakit's public API (browser-safe: no Node built-ins on this path). Node-only loading lives in
// "mlakit/wasm-node" and "mlakit/safetensors-file", the property kit in "mlakit/conformance", and
// everything else (number formatting, chart palettes, codec bit tricks, bounds constants, kernel helpers)
// in "mlakit/internal", which is unstable.

// Errors: every bad input throws one of these, naming the field, the value and the expectation.
export { MlaError, ConfigError, ShapeError, PositionError, NonFiniteError, FormatError, CacheError } from "./errors.js";

// Config (official ModelArgs names), presets, imports of official and Hugging Face configs.
export { makeConfig, validateConfig, preset, PRESETS, PRESET_NAMES, fromModelArgs, fromHfConfig, importHfConfig, importConfigJson, yarnEnabled } from "./config.js";
export type { MlaConfig, PresetName, RopeLayout, RopeConvention, HfConfigImport, ConfigImport } from "./config.js";
export { deriveMla, ropeFrequencies, ropeTable, mlaSoftmaxScale } from "./derived.js";
export type { MlaDerived, MlaSizes } from "./derived.js";

// The layer and backend interfaces every implementation shares; weights.
export type { Tensor, NamedTensor, ForwardOptions, LayerCache, AttentionLayer } from "./layer.js";
export type { Backend, MlaLayerPath } from "./backend.js";
export { mlaWeightShapes, checkMlaWeights, mlaWeightsFromStateDict, randomMlaWeights, Rng } from "./weights.js";
export type { MlaWeights, MlaWeightName } from "./weights.js";
// Projections as checkpoints ship them (bf16, int8, fp8 e4m3 with block scales): exact dequantisation and the conversion rules.
export { WEIGHT_FORMATS, MLA_PROJECTIONS, quantiseWeight, dequantiseWeight, convertMlaWeights, randomMlaWeightsIn, dequantiseMlaWeights, checkMlaWeightsInput, isQuantisedWeight, quantisedBytes } from "./weight-formats.js";
export type { WeightFormat, QuantisedWeight, MlaWeightsInput } from "./weight-formats.js";

// The float64 oracle: MLA (naive, absorbed, recompute), the MHA/GQA/MQA and seed baselines, work counting.
export { ReferenceMla, createReferenceMla, referenceBackend, MLA_PATHS, ReferenceMha, ReferenceSeedLowRank, mhaWeightShapes, seedWeightShapes, WorkCounter } from "./reference/index.js";
export type { MlaPath, ReferenceMlaOptions, MhaConfig, MhaWeights, SeedLowRankConfig, SeedLowRankWeights } from "./reference/index.js";
// A tiny whole DeepSeek2 model (embedding, per layer RMSNorm + MLA + SwiGLU FFN, output) in float64: the oracle for backends that run models.
export { TinyModel, randomTinyModel, checkTinyModel } from "./reference/tiny-model.js";
export type { TinyModelConfig, TinyModelWeights, TinyLayerWeights } from "./reference/tiny-model.js";

// DeepSeek-V3.2 (MLA + DeepSeek Sparse Attention): the oracle, its weights, its vectors, its float32 numerics.
export { ReferenceDsa, createReferenceDsa, DSA_STEPS } from "./reference/dsa/layer.js";
export type { DsaTrace, DsaSteps, ReferenceDsaOptions } from "./reference/dsa/layer.js";
export type { DsaConfig, ScaleFmt } from "./config.js";
export type { DsaLayer } from "./backend.js";
export { randomDsaWeights, dsaWeightsFromStateDict, indexerWeightShapes, checkDsaWeights } from "./io/dsa-weights.js";
export type { DsaWeights, IndexerWeights } from "./io/dsa-weights.js";
export { verifyDsaCase, DSA_VECTOR_TOL, DSA_VECTOR_TOL_F32 } from "./verify.js";
export type { DsaCaseResult, DsaTolerance } from "./verify.js";
export { parseDsaVectorCaseText } from "./io/mla-vectors-v2.js";
export type { DsaVectorCase } from "./io/mla-vectors-v2.js";
export { indexScoreBound, topkSetsAgree } from "./dsa-numerics.js";

// Tolerances and verification against golden vectors (mla-vectors/1, hf-deepseek-vectors/1).
export { toleranceFor, vectorTolerance, VECTOR_ATOL, F32_VECTOR_ATOL, maxAbsDiff, calDiff } from "./numerics.js";
export { verifyCase, verifyHfCase } from "./verify.js";
export type { CaseResult, HfCaseResult } from "./verify.js";
export { MLA_VECTORS_FORMAT, parseVectorCase, parseVectorCaseText } from "./io/mla-vectors.js";
export type { VectorCase, VectorCall } from "./io/mla-vectors.js";
export { externalWeightsFile, parseVectorCaseExternal } from "./io/mla-vectors-external.js";
export { generateVectorCase } from "./io/mla-vectors-writer.js";
export type { GenerateOptions, GeneratedCase } from "./io/mla-vectors-writer.js";
export { parseHfVectorCase } from "./io/hf-vectors.js";
export type { HfVectorCase, HfVectorCall } from "./io/hf-vectors.js";

// Weights in safetensors (lazy reads from bytes, a Blob or a file handle), official and HF names.
export { openSafetensors, SafetensorsFile, bytesSource, blobSource, writeSafetensors } from "./io/safetensors.js";
export type { ByteSource, TensorInfo, SafetensorsHeader, SafetensorsDtype, TensorToWrite } from "./io/safetensors.js";
export { loadMlaWeights, mlaWeightsToSafetensors } from "./io/mla-safetensors.js";
export type { TensorStore, LoadMlaOptions, LoadedMla, SaveMlaOptions } from "./io/mla-safetensors.js";
// GGUF (llama.cpp's container): deepseek2 attention layers read and written, F32/F16/BF16/Q8_0.
export { openGguf, readGgufHeader, writeGguf, GgufFile, GGML_TYPE } from "./io/gguf.js";
export type { GgufHeader, GgufTensorInfo, GgufValue, GgufTypedValue, GgufTensorToWrite, GgmlTypeName } from "./io/gguf.js";
export { deepseek2Config, deepseek2Metadata, ggufMlaLayers, ggufMlaStore, mlaGgufTensors, mlaWeightsToGguf, tinyModelToGguf, loadTinyModel, byteVocabMetadata, BYTE_VOCAB_SIZE } from "./io/mla-gguf.js";
export { tinyModelBound, llamaCppNumerics, type BackendNumerics, type LlamaCppWeightType, type TinyModelBoundResult, type TinyModelBoundOptions } from "./reference/tiny-model-bound.js";
export type { MlaGgufOptions } from "./io/mla-gguf.js";
export { mlaTensorFilter } from "./io/hf-names.js";

// The cost model: KV-cache bytes per scheme and format, FLOPs and bytes per path, roofline, crossovers.
export { analyze, seedComparison } from "./analysis/analyze.js";
export type { Analysis, AnalysisOptions, PathFigures, SeedComparison } from "./analysis/analyze.js";
export { KV_SCHEMES, kvCacheTable, kvCacheFigures, kvBytesPerTokenPerLayer } from "./analysis/kv-cache.js";
export type { KvScheme, KvSchemeOptions, KvCacheFigures } from "./analysis/kv-cache.js";
export { CACHE_FORMATS } from "./analysis/formats.js";
export type { CacheFormat } from "./analysis/formats.js";
export { layerCost, modelCost, decodeShape, prefillShape, weightBytesPerElement } from "./analysis/cost.js";
export type { CostOptions, LayerCost } from "./analysis/cost.js";
export type { CallShape } from "./analysis/work.js";
export { roofline, pathRoofline, contextCrossovers, headCrossovers } from "./analysis/roofline.js";
export type { Machine, Roofline, Crossover } from "./analysis/roofline.js";
export { parseBenchResults, DEFAULT_MACHINE } from "./analysis/bench-results.js";
export type { BenchResults, MeasuredDecode } from "./analysis/bench-results.js";
export { cacheAccuracyTable, accuracyCaseFromVectors, randomAccuracyCase } from "./analysis/cache-accuracy.js";
export { cacheChart, timeChart } from "./analysis/charts.js"; // the charts of mlakit analyze --svg, as specs
export { svgDocument } from "./analysis/svg.js"; // specs -> one SVG document
export type { AccuracyCase, AccuracyRow } from "./analysis/cache-accuracy.js";

// The WASM core (float32): fetched by URL by default, or from bytes or precompiled modules.
export { createWasmBackend, createWasmBackendFromBytes, createWasmBackendFromModules } from "./wasm/backend.js";
export type { WasmBackend, WasmBackendOptions, WasmLoadOptions } from "./wasm/backend.js";
export { WASM_BUILDS, WASM_FILES, compileCore, relaxedSimdSupported } from "./wasm/loader.js";
export type { WasmBuild, WasmBuildChoice, WasmBinaries, WasmPaths, CompiledCore } from "./wasm/loader.js";
export { WORKERS_MEMORY_LIMIT_BYTES, isCloudflareWorkers } from "./wasm/edge.js";
export type { WasmModules } from "./wasm/edge.js";
export type { WasmMla, WasmMlaOptions, WasmMlaPath } from "./wasm/mla-layer.js";
export type { WasmMha, WasmSeedLowRank, WasmBaselineOptions } from "./wasm/baseline-layers.js";
export type { WasmDsa, WasmDsaOptions, WasmDsaCacheFormat } from "./wasm/dsa-layer.js";
export { WasmKernels } from "./wasm/kernels.js";
// Threads: the option of every createWasmBackend, what a backend got (backend.threads), the typed error of a failed threaded step.
export type { WasmThreadsOptions, WasmThreading } from "./wasm/backend.js";
export type { ThreadsOption } from "./wasm/threads/threading.js";
export { ThreadError } from "./wasm/threads/errors.js";
export { WASM_THREADED_FILES, sharedMemorySupport } from "./wasm/loader.js";
// The async layer interface (a thread that must not block talks to layers in a worker).
export * from "./async/index.js";
export type { WasmThreadedBuild, WasmAllBinaries } from "./wasm/loader.js";

// The latent KV cache: storage formats, paging, fork/truncate, persistence.
export { LatentCache, saveCache, loadCache, STORAGE_FORMATS, BLOCK_TOKENS, tokenLayout } from "./cache/index.js";
export type { StorageFormat, TokenLayout, LatentCacheOptions, CacheWrite, Placement, LoadExpectations } from "./cache/index.js";
