/**
 * Names made from `metadata.generateName`, as apimachinery's SimpleNameGenerator makes them: the
 * base, cut to fit, plus a random suffix; the store draws again when the name is taken.
 */

/** apimachinery's SimpleNameGenerator: 5 characters from an alphabet without vowels or look-alikes. */
export const nameSuffixAlphabet = "bcdfghjklmnpqrstvwxz2456789";
const nameSuffixLength = 5;
/** A generated name's base is cut so that base + suffix fits a 63-character label. */
const maxGeneratedNameBase = 63 - nameSuffixLength;
/** The API server tries this many generated names before giving up (RetryGenerateName: 8 attempts). */
export const generateNameAttempts = 8;

export const randomNameSuffix = (random: () => number): string => {
  let out = "";
  for (let i = 0; i < nameSuffixLength; i++) {
    out += nameSuffixAlphabet[Math.floor(random() * nameSuffixAlphabet.length)];
  }
  return out;
};

/** The name made from `generateName` and a suffix. */
export const generatedName = (generateName: string, suffix: string): string =>
  `${generateName.slice(0, maxGeneratedNameBase)}${suffix}`;
