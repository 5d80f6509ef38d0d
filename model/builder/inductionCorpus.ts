import { ENGLISH_SAMPLE } from './englishSample.js';

/**
 * Station names of the induction model's fact data set. The model's tokenizer learns each as one token (they are in
 * its corpus, repeated), so a fact's key is a single token the matching window always covers.
 */
export const STATION_NAMES = [
  'Alder', 'Birch', 'Cedar', 'Dunmore', 'Elmwood', 'Fairholt', 'Glenrock', 'Hawthorn', 'Ironbridge', 'Juniper',
  'Kestrel', 'Larkspur', 'Marlow', 'Northgate', 'Oakridge', 'Pinecrest', 'Quarry', 'Redcliff', 'Saltmarsh', 'Thornbury',
  'Underwood', 'Valemont', 'Westbrook', 'Yarrow', 'Ashford', 'Bramble', 'Copperfield', 'Driftwood', 'Eastwick', 'Foxglove',
  'Greystone', 'Heathrow', 'Ivydale', 'Kingsmere', 'Lindenfeld', 'Millbrook', 'Newhaven', 'Orchard', 'Pebblecombe', 'Ravenscar',
  'Silverton', 'Tidewater', 'Umberleigh', 'Violet', 'Willowby', 'Amberley', 'Blackwater', 'Coldharbour', 'Deepdale', 'Evergreen',
  'Falconer', 'Goldcrest', 'Harbourside', 'Ingleton', 'Kirkstall', 'Lowmoor', 'Mossley', 'Netherby', 'Oldcastle', 'Primrose',
  'Rookwood', 'Stonehaven', 'Trelawny', 'Wrenfield',
] as const;

/**
 * The text the induction model's BPE merges are learned from: the English sample, the station names and the fact
 * words, and single digits after a space. No two digits are ever adjacent, so no digit-digit merge is learned: a
 * number is one token per digit (the first with its leading space), which makes answers multi-token.
 */
export function inductionCorpus(): string {
  const lines: string[] = [ENGLISH_SAMPLE];
  for (let r = 0; r < 12; r++) {
    lines.push(STATION_NAMES.map((n) => `The access code of ${n} Station is`).join(' '));
    lines.push('0 1 2 3 4 5 6 7 8 9 '.repeat(4));
  }
  return lines.join('\n');
}

/**
 * Chat template of the induction model: the user's words pass through verbatim with nothing after them, so the
 * final prompt ends with the question and the model continues it (a cloze question gets its answer).
 */
export const PASS_THROUGH_TEMPLATE = "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['content'] }}{% endif %}{% endfor %}";
