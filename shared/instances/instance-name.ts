/**
 * Instance names are free text shown to people, so two names that look the same must be
 * the same name. This module is the one place that says how a name is normalised, which
 * characters it may not hold, and the folded form on which uniqueness is decided.
 */

/**
 * Characters that show nothing or reorder text: format controls (zero-width space, LRM/RLM,
 * bidi embeddings and isolates, BOM, soft hyphen, word joiner…) and the invisible "letters"
 * (Hangul fillers, braille blank, combining grapheme joiner). ZWJ and ZWNJ are allowed (emoji
 * sequences, Persian and Indic text) but ignored by the folded form.
 */
const INVISIBLE = /(?![\u200c\u200d])[\p{Cf}\u034f\u115f\u1160\u3164\uffa0\u2800]/u;

/** Letters from scripts whose letters are drawn like Latin ones; mixing them in one word is how look-alikes are made. */
const CONFUSABLE_SCRIPTS = [
  { name: 'Latin', letters: /\p{Script=Latin}/u },
  { name: 'Cyrillic', letters: /\p{Script=Cyrillic}/u },
  { name: 'Greek', letters: /\p{Script=Greek}/u },
] as const;

/**
 * Cyrillic and Greek letters that are drawn exactly like a Latin letter (the common part of
 * Unicode's confusables list, UTS #39), folded to it so that "Sсhool" with a Cyrillic с and
 * "School" are one name. Lower case only: the fold lower-cases first.
 */
const LATIN_LOOK_ALIKES: Record<string, string> = {
  // Cyrillic
  а: 'a',
  в: 'b',
  е: 'e',
  ё: 'e',
  һ: 'h',
  і: 'i',
  ї: 'i',
  ј: 'j',
  к: 'k',
  м: 'm',
  н: 'h',
  о: 'o',
  р: 'p',
  с: 'c',
  т: 't',
  у: 'y',
  х: 'x',
  ѕ: 's',
  ԁ: 'd',
  ԛ: 'q',
  ԝ: 'w',
  ү: 'y',
  ӏ: 'l',
  ɡ: 'g',
  // Greek
  α: 'a',
  β: 'b',
  ε: 'e',
  η: 'n',
  ι: 'i',
  κ: 'k',
  μ: 'u',
  ν: 'v',
  ο: 'o',
  ρ: 'p',
  τ: 't',
  υ: 'u',
  χ: 'x',
  ζ: 'z',
};
const LOOK_ALIKE_PATTERN = new RegExp(`[${Object.keys(LATIN_LOOK_ALIKES).join('')}]`, 'gu');

/**
 * What the API stores: NFC, every space separator (no-break, ideographic, en/em…) made a
 * plain space, no leading or trailing space. Control characters (tabs, line breaks) are left
 * in place so that validation refuses them rather than silently changing them.
 */
export function normalizeInstanceName(name: string): string {
  return name
    .normalize('NFC')
    .replace(/\p{Zs}/gu, ' ')
    .replace(/^ +| +$/g, '');
}

/** Why a (normalised) name is refused; empty when it is acceptable. Length and control characters are checked by the DTO. */
export function instanceNameProblems(name: string): string[] {
  const problems: string[] = [];
  const invisible = INVISIBLE.exec(name);
  if (invisible) {
    const code = invisible[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    problems.push(`instanceName must not contain invisible or text-direction characters (found U+${code})`);
  }
  for (const word of name.split(' ')) {
    const scripts = CONFUSABLE_SCRIPTS.filter((script) => script.letters.test(word)).map((script) => script.name);
    if (scripts.length > 1) {
      problems.push(
        `instanceName must not mix ${scripts.join(' and ')} letters in one word ("${word.slice(0, 40)}"), which look alike`,
      );
      break;
    }
  }
  return problems;
}

/**
 * The form on which uniqueness is decided: compatibility forms folded (fullwidth letters,
 * ligatures, no-break spaces), ignorable characters removed, case and look-alike letters
 * folded, runs of spaces made one. Two names with the same key look the same.
 */
export function instanceNameKey(name: string): string {
  return name
    .normalize('NFKC')
    .replace(/[\p{Cf}\u034f\ufe00-\ufe0f]/gu, '')
    .toLowerCase()
    .normalize('NFKC')
    .replace(LOOK_ALIKE_PATTERN, (c) => LATIN_LOOK_ALIKES[c] ?? c)
    .replace(/\s+/gu, ' ')
    .trim();
}
