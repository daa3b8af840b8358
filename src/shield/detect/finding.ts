/** A paranoia level: 1 is the default with few false positives, each level up catches more and refuses more. */
export type ParanoiaLevel = 1 | 2 | 3 | 4;

/**
 * How a detector reports: the rule that matched and the lowest paranoia level it belongs to.
 * Answers whether the finding was taken; a finding above the route's level is not, and the
 * detector reads on, since a rule of a lower level may still match further along.
 */
export type Finder = (rule: string, level: ParanoiaLevel) => boolean;
