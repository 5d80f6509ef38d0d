import { DomainError } from '../../../infra/errors.js';
import { describeError } from '../../../services/http/errors.js';
import { MAX_JSON_DEPTH, parseStrictJson } from '../../../services/http/strictJson.js';

function rejection(body: Buffer | string): string {
  try {
    parseStrictJson(typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    expect((e as DomainError).kind).toBe('invalid');
    expect(describeError(e).status).toBe(400);
    return (e as DomainError).message;
  }
  throw new Error('accepted');
}

describe('parseStrictJson', () => {
  it('parses ordinary JSON, including escaped quotes, keys repeated in sibling objects, and a BOM', () => {
    expect(parseStrictJson(Buffer.from('{"a":"x\\"}{,","b":[{"k":1},{"k":2}],"c":{"k":{"k":3}}}'))).toEqual({ a: 'x"}{,', b: [{ k: 1 }, { k: 2 }], c: { k: { k: 3 } } });
    expect(parseStrictJson(Buffer.from('\uFEFF{"text":"héllo 😀"}', 'utf8'))).toEqual({ text: 'héllo 😀' });
  });

  it('refuses invalid UTF-8 instead of replacing the bytes', () => {
    expect(rejection(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]))).toBe('body: not valid UTF-8');
    expect(rejection(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]))).toBe('body: not valid UTF-8'); // encoded surrogate
  });

  it('refuses duplicate keys, also when written with escapes', () => {
    expect(rejection('{"text":"a","text":"b"}')).toBe('body: duplicate key "text"');
    expect(rejection('{"d":[{"id":"x","i\\u0064":"y"}]}')).toBe('body: duplicate key "id"');
    expect(rejection('{"a":{"b":1},"a":2}')).toBe('body: duplicate key "a"');
  });

  it('refuses prototype keys, unpaired surrogates, deep nesting and malformed JSON', () => {
    expect(rejection('{"metadata":{"__proto__":{"admin":true}}}')).toBe('body: the key "__proto__" is not allowed');
    expect(rejection('{"constructor":{"prototype":{}}}')).toMatch(/the key "(constructor|prototype)" is not allowed/);
    expect(rejection('{"text":"a\\ud800b"}')).toBe('body: "text" holds an unpaired UTF-16 surrogate (not encodable as UTF-8)');
    expect(parseStrictJson(Buffer.from('{"text":"\\ud83d\\ude00"}'))).toEqual({ text: '😀' });
    const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
    expect(() => parseStrictJson(Buffer.from(deep(MAX_JSON_DEPTH)))).not.toThrow();
    expect(rejection(deep(MAX_JSON_DEPTH + 1))).toBe(`body: nested deeper than ${MAX_JSON_DEPTH} levels`);
    expect(rejection('{"a":')).toMatch(/^body: malformed JSON \(/);
    expect(rejection("{'a':1}")).toMatch(/^body: malformed JSON/);
  });
});
