import { answerSpan } from '../../../compressor/ranker/AnswerSpan.js';

describe('answer span inside the answer sentence', () => {
  const span = (question: string, text: string, start = 100) => answerSpan(question, { text, start });

  test('a when-question gets the new year or date nearest to the question\'s words, in document offsets', () => {
    const text = 'It was first sequenced in 1986, but its existence was first proved in 1962.';
    expect(span('When was the existence of the plastome proved?', text)).toEqual({ start: 100 + text.indexOf('1962'), end: 100 + text.indexOf('1962') + 4, text: '1962' });
    expect(span('When was it first sequenced?', text)!.text).toBe('1986');
    expect(span('When did the series air?', 'Doctor Who originally ran from 23 November 1963 until 6 December 1989.')!.text).toBe('23 November 1963');
    // The question's own year is not an answer.
    expect(span('What happened in 1962?', 'In 1962 the plastome was proved.')).toBeNull();
  });

  test('how-many gets a number, who a name, where a place; other questions get none', () => {
    expect(span('How many membranes do apicoplasts have?', 'They are bounded by four membranes.')!.text).toBe('four');
    expect(span('How many seasons did the original run last?', 'Doctor Who originally ran for 26 seasons on BBC One.')!.text).toBe('26');
    expect(span('Who plays the female Master?', 'This incarnation is played by Michelle Gomez.')!.text).toBe('Michelle Gomez');
    expect(span('Where did Tesla work in 1884?', 'In 1884 he worked for Edison in New York City.')!.text).toBe('New York City');
    expect(span('What is the bad air theory known as?', 'Today, this is known as the Miasma theory.')).toBeNull();
    expect(span('How many membranes are there?', 'None are mentioned here.')).toBeNull();
  });
});
