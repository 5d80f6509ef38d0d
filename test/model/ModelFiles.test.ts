import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DECODER_DTYPES } from '../../infra/decoderDtypes.js';
import { DEFAULT_DECODER_DTYPE, DTYPE_FILES, chooseDecoderFile, decoderFilesToPull, filesOfDecoder, isDataCompanion } from '../../model/ModelFiles.js';
import { loadConfig } from '../../infra/config.js';

describe('choosing the decoder file of a model folder', () => {
  let dir: string;
  const touch = (f: string, content = ''): void => {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), content);
  };
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rag-files-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('takes GENERATOR_DTYPE when given (and says what is there when it is missing)', () => {
    touch('onnx/model.onnx');
    touch('onnx/model_int8.onnx');
    expect(chooseDecoderFile(dir, 'int8')).toMatchObject({ file: 'onnx/model_int8.onnx', dtype: 'int8' });
    expect(() => chooseDecoderFile(dir, 'q4f16')).toThrow(/GENERATOR_DTYPE=q4f16 wants onnx\/model_q4f16\.onnx, which is missing \(present: fp32 \(onnx\/model\.onnx\), int8/);
  });

  it('without a dtype: the benchmarked default, else the first present in bench order', () => {
    touch('onnx/model.onnx');
    expect(chooseDecoderFile(dir).file).toBe('onnx/model.onnx');
    touch('onnx/model_q4f16.onnx');
    expect(chooseDecoderFile(dir)).toMatchObject({ file: 'onnx/model_q4f16.onnx', reason: expect.stringMatching(/first present in bench order/) });
    touch(DTYPE_FILES[DEFAULT_DECODER_DTYPE]);
    expect(chooseDecoderFile(dir)).toMatchObject({ file: DTYPE_FILES[DEFAULT_DECODER_DTYPE], reason: 'default dtype' });
  });

  it('genai folders: the file genai_config.json names, whatever the dtype', () => {
    touch('onnx/model_q4f16.onnx');
    touch('genai_config.json', JSON.stringify({ model: { decoder: { filename: 'onnx/model_q4f16.onnx' } } }));
    expect(chooseDecoderFile(dir, 'fp32')).toMatchObject({ file: 'onnx/model_q4f16.onnx', dtype: null, reason: 'genai_config.json' });
    touch('genai_config.json', JSON.stringify({ model: { decoder: { filename: 'gone.onnx' } } }));
    expect(() => chooseDecoderFile(dir)).toThrow(/names gone\.onnx, which is missing/);
  });

  it('lists a file with its external data only, and pulls one variant of a repo', () => {
    const listing = [
      'config.json',
      'tokenizer.json',
      'onnx/model.onnx',
      'onnx/model.onnx_data',
      'onnx/model.onnx_data_1',
      'onnx/model_q4.onnx',
      'onnx/model_q4.onnx_data',
      'onnx/model_q4f16.onnx',
      'onnx/model_fp16.onnx',
    ];
    expect(isDataCompanion('model.onnx', 'model.onnx_data_12')).toBe(true);
    expect(isDataCompanion('model.onnx', 'model_q4.onnx_data')).toBe(false);
    expect(isDataCompanion('model_q4f16.onnx', 'model_q4f16.onnx.data')).toBe(true);
    expect(filesOfDecoder('onnx/model.onnx', listing)).toEqual(['onnx/model.onnx', 'onnx/model.onnx_data', 'onnx/model.onnx_data_1']);
    expect(decoderFilesToPull(listing, 'q4', null)).toEqual({ decoder: 'onnx/model_q4.onnx', files: ['onnx/model_q4.onnx', 'onnx/model_q4.onnx_data'] });
    expect(decoderFilesToPull(listing, 'q4f16', null).files).toEqual(['onnx/model_q4f16.onnx']);
    expect(decoderFilesToPull(listing, undefined, null).decoder).toBe('onnx/model_q4.onnx'); // no int8 here: next in bench order
    expect(() => decoderFilesToPull(listing, 'int8', null)).toThrow(/no onnx\/model_int8\.onnx \(dtype int8\); it has fp32, fp16, q4, q4f16/);
    expect(decoderFilesToPull(['genai_config.json', 'model.onnx', 'model.onnx.data'], 'fp16', 'model.onnx').files).toEqual(['model.onnx', 'model.onnx.data']);
  });

  it('GENERATOR_DTYPE is validated at start-up against the same list', () => {
    expect(loadConfig({ GENERATOR_DTYPE: 'q4f16' }).GENERATOR_DTYPE).toBe('q4f16');
    expect(loadConfig({}).GENERATOR_DTYPE).toBeUndefined();
    expect(() => loadConfig({ GENERATOR_DTYPE: 'q3' })).toThrow(/GENERATOR_DTYPE="q3"/);
    expect(DECODER_DTYPES).toEqual(['fp32', 'fp16', 'q4', 'q4f16', 'int8']);
  });
});
