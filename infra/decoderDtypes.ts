/**
 * The precisions a decoder export ships in (one ONNX file each). Here at the bottom because the configuration
 * validates GENERATOR_DTYPE against it before any model code loads; model/ModelFiles maps each to its file.
 */
export const DECODER_DTYPES = ['fp32', 'fp16', 'q4', 'q4f16', 'int8'] as const;
export type DecoderDtype = (typeof DECODER_DTYPES)[number];
